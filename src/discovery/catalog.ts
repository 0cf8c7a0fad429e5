/**
 * The catalog: capabilities heard from other peers (gossip ads and DHT
 * finds), in memory for fast finds and written through to LevelDB so a
 * restarted node keeps what it knew until the entries expire. Key:
 * `<provider>/<descriptor CID>`. A newer ad (by its `ts`) replaces an older
 * one; a withdrawal of a held entry leaves a tombstone until the withdrawn
 * ad would have expired, so an older ad still in flight cannot bring the
 * entry back (at most MAX_TOMBSTONES, oldest dropped first).
 *
 * The catalog is bounded in entries and in bytes: in total, per provider and
 * per peer that delivered the entries (`via`: the gossip propagation source,
 * or the provider for DHT-found entries). An entry's bytes are its
 * descriptor's dag-cbor bytes + its addrs + CATALOG_ENTRY_OVERHEAD_BYTES;
 * `refusal()` tells synchronously whether an entry would fit, so the gossip
 * validator can refuse it before gossipsub forwards it.
 *
 * The signed ad an entry came from is kept with it, in memory only (its
 * descriptor is the entry's own object, so it costs little): `signedAds`
 * lists them for `/pl/catalog-sync`, where a joining peer verifies each one
 * as if it came over gossip. Entries loaded from LevelDB after a restart
 * have none until their next ad.
 */
import type { JsonSublevel } from '../store/index.js'
import { encodeCanonical } from '../core/encoding.js'
import type { CatalogEntry } from './types.js'
import { adItems, type SignedAd } from './ad-set.js'
import {
  CATALOG_ENTRY_OVERHEAD_BYTES, DEFAULT_MAX_CATALOG_BYTES, DEFAULT_MAX_PROVIDER_BYTES, DEFAULT_MAX_SOURCE_BYTES, MAX_TOMBSTONES
} from './constants.js'

export interface CatalogInit {
  maxEntries: number
  maxPerProvider: number
  /** total bytes of all entries @default DEFAULT_MAX_CATALOG_BYTES */
  maxBytes?: number
  /** bytes of one provider's entries @default DEFAULT_MAX_PROVIDER_BYTES */
  maxProviderBytes?: number
  /** bytes of the entries one peer delivered @default DEFAULT_MAX_SOURCE_BYTES */
  maxSourceBytes?: number
  /** @default MAX_TOMBSTONES */
  maxTombstones?: number
  /** the clock (expiry, sweeps) @default Date.now */
  now?: () => number
}

export type UpsertResult = 'added' | 'updated' | 'stale' | 'withdrawn' | 'full'

/** Which bound refuses an entry: the whole catalog, its provider's budget, or the delivering peer's. */
export type CatalogRefusal = { limit: 'entries' | 'bytes', scope: 'total' } | { limit: 'entries' | 'bytes', scope: 'provider' } | { limit: 'bytes', scope: 'source' }

function keyOf (provider: string, cid: string): string {
  return `${provider}/${cid}`
}

/** Bytes an entry counts for, from its descriptor's size (`descriptorBytes`, computed when absent). */
export function entryBytes (entry: Pick<CatalogEntry, 'descriptor' | 'addrs'>, descriptorBytes?: number): number {
  let bytes = (descriptorBytes ?? encodeCanonical(entry.descriptor).byteLength) + CATALOG_ENTRY_OVERHEAD_BYTES
  for (const a of entry.addrs) bytes += typeof a === 'string' ? a.length : 0
  return bytes
}

function add (map: Map<string, number>, key: string, n: number): void {
  const v = (map.get(key) ?? 0) + n
  if (v <= 0) map.delete(key)
  else map.set(key, v)
}

export class Catalog {
  private readonly entries = new Map<string, CatalogEntry>()
  /** bytes and delivering peer of each entry */
  private readonly sizes = new Map<string, { bytes: number, via: string }>()
  private readonly byName = new Map<string, Set<string>>()
  private readonly perProvider = new Map<string, number>()
  private readonly providerBytes = new Map<string, number>()
  private readonly sourceBytes = new Map<string, number>()
  private totalBytes = 0
  private readonly tombstones = new Map<string, { ts: number, until: number }>()
  /** the signed ad of each entry heard as one (gossip, catalog sync), by key */
  private readonly ads = new Map<string, SignedAd>()
  private readonly maxBytes: number
  private readonly maxProviderBytes: number
  private readonly maxSourceBytes: number
  private readonly now: () => number

  constructor (private readonly db: JsonSublevel<CatalogEntry>, private readonly init: CatalogInit) {
    this.maxBytes = init.maxBytes ?? DEFAULT_MAX_CATALOG_BYTES
    this.maxProviderBytes = init.maxProviderBytes ?? DEFAULT_MAX_PROVIDER_BYTES
    this.maxSourceBytes = init.maxSourceBytes ?? DEFAULT_MAX_SOURCE_BYTES
    this.now = init.now ?? Date.now
  }

  get size (): number { return this.entries.size }

  /** Bytes counted for all entries (never above the configured maximum). */
  get bytes (): number { return this.totalBytes }

  /** Bytes counted for one provider's entries. */
  bytesOfProvider (provider: string): number { return this.providerBytes.get(provider) ?? 0 }

  /** Bytes counted for the entries `peer` delivered. */
  bytesVia (peer: string): number { return this.sourceBytes.get(peer) ?? 0 }

  /** The largest per-source and per-provider byte counts (for checks and metrics). */
  largest (): { provider: number, source: number } {
    let provider = 0
    let source = 0
    for (const v of this.providerBytes.values()) provider = Math.max(provider, v)
    for (const v of this.sourceBytes.values()) source = Math.max(source, v)
    return { provider, source }
  }

  get limits (): { maxEntries: number, maxPerProvider: number, maxBytes: number, maxProviderBytes: number, maxSourceBytes: number } {
    return { maxEntries: this.init.maxEntries, maxPerProvider: this.init.maxPerProvider, maxBytes: this.maxBytes, maxProviderBytes: this.maxProviderBytes, maxSourceBytes: this.maxSourceBytes }
  }

  /**
   * Whether an entry of `bytes` for `provider`/`cid`, delivered by `via`,
   * would be refused, and by which bound (undefined: it fits). An entry that
   * replaces a held one is charged only its growth, to the peer that
   * delivered the held one (so an honest re-ad arriving by another route is
   * not refused because that route's budget is spent).
   */
  refusal (provider: string, cid: string, via: string, bytes: number): CatalogRefusal | undefined {
    const held = this.sizes.get(keyOf(provider, cid))
    if (held == null && (this.perProvider.get(provider) ?? 0) >= this.init.maxPerProvider) return { limit: 'entries', scope: 'provider' }
    const oldBytes = held?.bytes ?? 0
    const growth = bytes - oldBytes
    const charged = held?.via ?? via
    if (growth > 0 && this.bytesVia(charged) + growth > this.maxSourceBytes) return { limit: 'bytes', scope: 'source' }
    if (growth > 0 && this.bytesOfProvider(provider) + growth > this.maxProviderBytes) return { limit: 'bytes', scope: 'provider' }
    if (held == null && this.entries.size >= this.init.maxEntries) return { limit: 'entries', scope: 'total' }
    if (growth > 0 && this.totalBytes + growth > this.maxBytes) return { limit: 'bytes', scope: 'total' }
    return undefined
  }

  /** Loads the persisted entries that have not expired and fit the bounds; deletes the rest. */
  async load (now = this.now()): Promise<number> {
    const stale: string[] = []
    for await (const [key, entry] of this.db.iterator() as AsyncIterable<[string, CatalogEntry | undefined]>) {
      if (entry == null || typeof entry !== 'object' || entry.expires <= now || entry.descriptor == null || !Array.isArray(entry.addrs)) { stale.push(key); continue }
      const bytes = entryBytes(entry)
      const via = entry.via ?? entry.provider
      if (this.refusal(entry.provider, entry.cid, via, bytes) != null) stale.push(key)
      else this.remember(key, entry, bytes, via)
    }
    if (stale.length > 0) await this.db.batch(stale.map(key => ({ type: 'del' as const, key })))
    return this.entries.size
  }

  /**
   * Adds or replaces an entry. `via` is the peer that delivered it (default:
   * its provider); `descriptorBytes` its descriptor's dag-cbor size when the
   * caller already knows it. 'full' when a bound refuses it (see `refusal`).
   */
  async upsert (entry: CatalogEntry, options: { via?: string, descriptorBytes?: number, ad?: SignedAd } = {}): Promise<UpsertResult> {
    const result = this.admit(entry, options)
    if (result === 'added' || result === 'updated') await this.persist(entry.provider, entry.cid)
    return result
  }

  /**
   * The in-memory half of `upsert`, synchronous so that the gossip validator
   * can charge an ad to the budgets before gossipsub forwards it (ads
   * validated but not yet delivered would otherwise all fit an empty budget).
   * Call `persist` afterwards. `ad`: the signed ad the entry comes from
   * (kept in memory, served to joining peers by `signedAds`).
   */
  admit (entry: CatalogEntry, options: { via?: string, descriptorBytes?: number, ad?: SignedAd } = {}): UpsertResult {
    const key = keyOf(entry.provider, entry.cid)
    const tomb = this.tombstones.get(key)
    if (tomb != null && entry.ts <= tomb.ts) return 'withdrawn'
    const old = this.entries.get(key)
    if (old != null && old.ts > entry.ts) return 'stale'
    const bytes = entryBytes(entry, options.descriptorBytes)
    if (this.refusal(entry.provider, entry.cid, options.via ?? entry.via ?? entry.provider, bytes) != null) return 'full'
    const via = this.sizes.get(key)?.via ?? options.via ?? entry.via ?? entry.provider
    const stored: CatalogEntry = entry.via === via ? entry : { ...entry, via }
    this.forget(key)
    this.remember(key, stored, bytes, via)
    if (options.ad != null) this.ads.set(key, options.ad)
    return old == null ? 'added' : 'updated'
  }

  /** Writes the entry held for `provider`/`cid` (if still held) to LevelDB. */
  async persist (provider: string, cid: string): Promise<void> {
    const key = keyOf(provider, cid)
    const entry = this.entries.get(key)
    if (entry != null) await this.db.put(key, entry)
  }

  /** Removes `provider`'s entry for `cid` and keeps a tombstone until `until`. */
  async withdraw (provider: string, cid: string, ts: number, until: number): Promise<boolean> {
    const key = keyOf(provider, cid)
    const old = this.entries.get(key)
    // withdrawals of entries never held leave nothing behind: anyone can sign them, for free
    if (old == null || old.ts > ts) return false
    const prev = this.tombstones.get(key)
    if (prev == null || prev.ts < ts) this.setTombstone(key, { ts, until })
    this.forget(key)
    await this.db.del(key)
    return true
  }

  /** Entries for `name` that have not expired. */
  find (name: string, now = this.now()): CatalogEntry[] {
    const keys = this.byName.get(name)
    if (keys == null) return []
    const out: CatalogEntry[] = []
    for (const k of keys) {
      const e = this.entries.get(k)
      if (e != null && e.expires > now) out.push(e)
    }
    return out
  }

  /** Every entry that has not expired, up to `limit` (the console's and `GET /capabilities`' mesh view; the MCP bridge's tools). */
  list (limit = Number.POSITIVE_INFINITY, now = this.now()): CatalogEntry[] {
    const out: CatalogEntry[] = []
    for (const e of this.entries.values()) {
      if (out.length >= limit) break
      if (e.expires > now) out.push(e)
    }
    return out
  }

  /** Names with at least one entry that has not expired (the A2A card lists them as skills). */
  names (now = this.now()): string[] {
    return [...this.byName.keys()].filter(n => this.find(n, now).length > 0)
  }

  /** Drops expired entries and tombstones; returns how many entries went. */
  async sweep (now = this.now()): Promise<number> {
    const gone: string[] = []
    for (const [key, e] of this.entries) if (e.expires <= now) gone.push(key)
    for (const key of gone) this.forget(key)
    for (const [key, t] of this.tombstones) if (t.until <= now) this.tombstones.delete(key)
    if (gone.length > 0) await this.db.batch(gone.map(key => ({ type: 'del' as const, key })))
    return gone.length
  }

  get tombstoneCount (): number { return this.tombstones.size }

  /**
   * The signed ads of held entries whose key (`<provider>/<CID>`) sorts
   * after `after`, in key order, that have not expired and were
   * signed at or after `signedSince` (older ones would be refused as clock
   * skew by the asker): at most `limit`. The entries of one set share its
   * envelope; a set is left out once any capability it names is no longer
   * held from it (withdrawn, or replaced by a newer ad), or an asker would
   * get back what this node dropped.
   */
  signedAds (options: { after?: string, limit: number, signedSince: number, now?: number }): Array<{ key: string, ad: SignedAd }> {
    const now = options.now ?? this.now()
    // the `limit` smallest keys in one pass (a page is ≤ 129 of up to 100k ads: no sort of them all per asked page)
    const keys: string[] = []
    for (const [key, ad] of this.ads) {
      if ((options.after != null && key <= options.after) || ad.exp <= now || ad.ts < options.signedSince) continue
      if ((keys.length >= options.limit && key >= keys[keys.length - 1]) || !this.holdsAll(ad)) continue
      let lo = 0
      let hi = keys.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (keys[mid] < key) lo = mid + 1
        else hi = mid
      }
      keys.splice(lo, 0, key)
      if (keys.length > options.limit) keys.pop()
    }
    return keys.map(key => ({ key, ad: this.ads.get(key) as SignedAd }))
  }

  /** Whether every capability `ad` advertises (its withdrawals aside) is held from `ad` itself. */
  private holdsAll (ad: SignedAd): boolean {
    const items = adItems(ad)
    if (items.length === 1) return true
    for (const item of items) if (item.withdraw !== true && this.ads.get(keyOf(ad.from, item.capability)) !== ad) return false
    return true
  }

  private setTombstone (key: string, t: { ts: number, until: number }): void {
    const max = this.init.maxTombstones ?? MAX_TOMBSTONES
    this.tombstones.delete(key)
    if (this.tombstones.size >= max) {
      const now = this.now()
      for (const [k, x] of this.tombstones) if (x.until <= now) this.tombstones.delete(k)
    }
    while (this.tombstones.size >= max) {
      const first = this.tombstones.keys().next().value
      if (first === undefined) break
      this.tombstones.delete(first)
    }
    this.tombstones.set(key, t)
  }

  private remember (key: string, entry: CatalogEntry, bytes: number, via: string): void {
    this.entries.set(key, entry)
    this.sizes.set(key, { bytes, via })
    this.totalBytes += bytes
    add(this.providerBytes, entry.provider, bytes)
    add(this.sourceBytes, via, bytes)
    let set = this.byName.get(entry.name)
    if (set == null) { set = new Set(); this.byName.set(entry.name, set) }
    set.add(key)
    this.perProvider.set(entry.provider, (this.perProvider.get(entry.provider) ?? 0) + 1)
  }

  private forget (key: string): void {
    const e = this.entries.get(key)
    if (e == null) return
    this.entries.delete(key)
    this.ads.delete(key)
    const size = this.sizes.get(key)
    if (size != null) {
      this.sizes.delete(key)
      this.totalBytes -= size.bytes
      add(this.providerBytes, e.provider, -size.bytes)
      add(this.sourceBytes, size.via, -size.bytes)
    }
    const set = this.byName.get(e.name)
    set?.delete(key)
    if (set?.size === 0) this.byName.delete(e.name)
    const n = (this.perProvider.get(e.provider) ?? 1) - 1
    if (n <= 0) this.perProvider.delete(e.provider)
    else this.perProvider.set(e.provider, n)
  }
}
