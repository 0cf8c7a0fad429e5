/**
 * The catalog: capabilities heard from other peers (gossip ads and DHT
 * finds), in memory for fast finds and written through to LevelDB so a
 * restarted node keeps what it knew until the entries expire. Key:
 * `<provider>/<descriptor CID>`. A newer ad (by its `ts`) replaces an older
 * one; a withdrawal of a held entry leaves a tombstone until the withdrawn
 * ad would have expired, so an older ad still in flight cannot bring the
 * entry back (at most MAX_TOMBSTONES, oldest dropped first).
 */
import type { JsonSublevel } from '../store/index.js'
import type { CatalogEntry } from './types.js'
import { MAX_TOMBSTONES } from './constants.js'

export interface CatalogInit {
  maxEntries: number
  maxPerProvider: number
  /** @default MAX_TOMBSTONES */
  maxTombstones?: number
}

export type UpsertResult = 'added' | 'updated' | 'stale' | 'withdrawn' | 'full'

function keyOf (provider: string, cid: string): string {
  return `${provider}/${cid}`
}

export class Catalog {
  private readonly entries = new Map<string, CatalogEntry>()
  private readonly byName = new Map<string, Set<string>>()
  private readonly perProvider = new Map<string, number>()
  private readonly tombstones = new Map<string, { ts: number, until: number }>()

  constructor (private readonly db: JsonSublevel<CatalogEntry>, private readonly init: CatalogInit) {}

  get size (): number { return this.entries.size }

  /** Loads the persisted entries that have not expired; deletes the rest. */
  async load (now = Date.now()): Promise<number> {
    const stale: string[] = []
    for await (const [key, entry] of this.db.iterator() as AsyncIterable<[string, CatalogEntry | undefined]>) {
      if (entry == null || typeof entry !== 'object' || entry.expires <= now) stale.push(key)
      else this.remember(key, entry)
    }
    if (stale.length > 0) await this.db.batch(stale.map(key => ({ type: 'del' as const, key })))
    return this.entries.size
  }

  async upsert (entry: CatalogEntry): Promise<UpsertResult> {
    const key = keyOf(entry.provider, entry.cid)
    const tomb = this.tombstones.get(key)
    if (tomb != null && entry.ts <= tomb.ts) return 'withdrawn'
    const old = this.entries.get(key)
    if (old != null && old.ts > entry.ts) return 'stale'
    if (old == null) {
      if (this.entries.size >= this.init.maxEntries) return 'full'
      if ((this.perProvider.get(entry.provider) ?? 0) >= this.init.maxPerProvider) return 'full'
    }
    this.forget(key)
    this.remember(key, entry)
    await this.db.put(key, entry)
    return old == null ? 'added' : 'updated'
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
  find (name: string, now = Date.now()): CatalogEntry[] {
    const keys = this.byName.get(name)
    if (keys == null) return []
    const out: CatalogEntry[] = []
    for (const k of keys) {
      const e = this.entries.get(k)
      if (e != null && e.expires > now) out.push(e)
    }
    return out
  }

  /** Drops expired entries and tombstones; returns how many entries went. */
  async sweep (now = Date.now()): Promise<number> {
    const gone: string[] = []
    for (const [key, e] of this.entries) if (e.expires <= now) gone.push(key)
    for (const key of gone) this.forget(key)
    for (const [key, t] of this.tombstones) if (t.until <= now) this.tombstones.delete(key)
    if (gone.length > 0) await this.db.batch(gone.map(key => ({ type: 'del' as const, key })))
    return gone.length
  }

  get tombstoneCount (): number { return this.tombstones.size }

  private setTombstone (key: string, t: { ts: number, until: number }): void {
    const max = this.init.maxTombstones ?? MAX_TOMBSTONES
    this.tombstones.delete(key)
    if (this.tombstones.size >= max) {
      const now = Date.now()
      for (const [k, x] of this.tombstones) if (x.until <= now) this.tombstones.delete(k)
    }
    while (this.tombstones.size >= max) {
      const first = this.tombstones.keys().next().value
      if (first === undefined) break
      this.tombstones.delete(first)
    }
    this.tombstones.set(key, t)
  }

  private remember (key: string, entry: CatalogEntry): void {
    this.entries.set(key, entry)
    let set = this.byName.get(entry.name)
    if (set == null) { set = new Set(); this.byName.set(entry.name, set) }
    set.add(key)
    this.perProvider.set(entry.provider, (this.perProvider.get(entry.provider) ?? 0) + 1)
  }

  private forget (key: string): void {
    const e = this.entries.get(key)
    if (e == null) return
    this.entries.delete(key)
    const set = this.byName.get(e.name)
    set?.delete(key)
    if (set?.size === 0) this.byName.delete(e.name)
    const n = (this.perProvider.get(e.provider) ?? 1) - 1
    if (n <= 0) this.perProvider.delete(e.provider)
    else this.perProvider.set(e.provider, n)
  }
}
