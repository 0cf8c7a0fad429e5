/**
 * The receiving side of `pl/v1/catalog`: a synchronous gossip validator
 * (rate limits per signer and per forwarding peer — in ads and in descriptor
 * bytes —, provider = signer, size, descriptor CID, the catalog's byte
 * budgets per provider and per forwarding peer) whose throws become Reject —
 * the sender loses score —, and the delivery handler that updates the
 * catalog (ads, withdrawals) and the peer store (addrs). A full catalog is
 * not the sender's fault: such ads are counted and ignored. Ads answered
 * over `/pl/catalog-sync` (src/discovery/sync.ts) pass the same checks
 * (`checkAd`) but the per-peer rate limits, and enter the catalog by `merge`.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PlComponents } from '../node.js'
import type { VerifiedEnvelope } from '../core/index.js'
import { cidStringOf } from '../core/encoding.js'
import { CidMismatchError } from '../core/errors.js'
import type { GossipHandler } from '../net/index.js'
import type { Catalog } from './catalog.js'
import { assertDescriptorSize } from './descriptor.js'
import { AdRateLimitedError, CatalogFullError, DuplicateAdError, ProviderBudgetExceededError, ProviderMismatchError, SourceBudgetExceededError } from './errors.js'
import { PeerRateLimiter } from './rate-limit.js'
import { entryBytes, type CatalogRefusal, type UpsertResult } from './catalog.js'
import { CATALOG_ENTRY_OVERHEAD_BYTES, DEFAULT_SOURCE_AD_BYTES_BURST, DEFAULT_SOURCE_AD_BYTES_RATE, MAX_AD_ADDRS, MAX_AD_KEEP_MS, SOURCE_AD_FACTOR } from './constants.js'
import type { CatalogEntry } from './types.js'
import { AD_TYPES, adItems, type AdItem, type SignedAd } from './ad-set.js'

export type CatalogListenerComponents = Pick<PlComponents, 'identity' | 'metrics' | 'logger' | 'libp2p'>

export interface CatalogListenerInit {
  catalog: Catalog
  peerAdRate: number
  peerAdBurst: number
  maxDescriptorBytes: number
  /** longest an ad is kept whatever its ttl (10 × the own ad ttl in the service) @default MAX_AD_KEEP_MS */
  maxTtlMs?: number
  /** descriptor bytes per second one forwarding peer may deliver @default DEFAULT_SOURCE_AD_BYTES_RATE */
  sourceAdBytesRate?: number
  /** burst of that byte bucket (raised to one largest ad if smaller) @default DEFAULT_SOURCE_AD_BYTES_BURST */
  sourceAdBytesBurst?: number
  /** the clock of the rate limiters @default Date.now */
  now?: () => number
}

/** The error naming a catalog bound that refuses an entry. */
export function refusalError (r: CatalogRefusal, details: Record<string, unknown>): CatalogFullError | ProviderBudgetExceededError | SourceBudgetExceededError {
  if (r.scope === 'source') return new SourceBudgetExceededError(`entries delivered by peer ${String(details.source)} would exceed its catalog budget of ${String(details.max)} bytes`, details)
  if (r.scope === 'provider') return new ProviderBudgetExceededError(`provider ${String(details.provider)} would exceed its catalog budget (${r.limit})`, { ...details, limit: r.limit })
  return new CatalogFullError(`the catalog is full (${r.limit})`, { ...details, limit: r.limit })
}

export class CatalogListener {
  private readonly limiter: PeerRateLimiter
  private readonly sourceLimiter: PeerRateLimiter
  private readonly sourceBytesLimiter: PeerRateLimiter
  private readonly sourceBytesRate: number
  private readonly sourceBytesBurst: number
  /** what the validator did with an ad, for the delivery of the same message */
  private readonly admitted = new WeakMap<VerifiedEnvelope<any>, Array<UpsertResult | undefined>>()
  private readonly now: () => number
  private readonly log: CatalogListenerComponents['logger']

  constructor (private readonly c: CatalogListenerComponents, private readonly init: CatalogListenerInit) {
    this.now = init.now ?? Date.now
    this.limiter = new PeerRateLimiter(init.peerAdRate, init.peerAdBurst)
    // signers are free to mint: the peer that forwarded the ads is limited too, at SOURCE_AD_FACTOR × the signer rate, and in bytes
    this.sourceLimiter = new PeerRateLimiter(init.peerAdRate * SOURCE_AD_FACTOR, init.peerAdBurst * SOURCE_AD_FACTOR)
    this.sourceBytesRate = init.sourceAdBytesRate ?? DEFAULT_SOURCE_AD_BYTES_RATE
    this.sourceBytesBurst = Math.max(init.sourceAdBytesBurst ?? DEFAULT_SOURCE_AD_BYTES_BURST, init.maxDescriptorBytes + CATALOG_ENTRY_OVERHEAD_BYTES)
    this.sourceBytesLimiter = new PeerRateLimiter(this.sourceBytesRate, this.sourceBytesBurst)
    this.log = c.logger.child({ component: 'discovery' })
  }

  /** The handler to subscribe with: `gossip.subscribe(CATALOG_TOPIC, listener.handler())`. */
  handler (): GossipHandler {
    return {
      types: AD_TYPES,
      validate: (v, source) => this.validate(v, source),
      onMessage: async (v, source) => { await this.onMessage(v, source) }
    }
  }

  /**
   * Gossip validator (synchronous): throwing rejects the message, so its
   * sender loses score. A set costs the rate limits one token per
   * capability it names. Its entries are admitted one by one: an entry the
   * full catalog refuses is counted and skipped (the set is ignored, not
   * forwarded, when none fit); one over a provider's or a forwarding peer's
   * budget refuses the rest of the set and the message.
   */
  validate (verified: VerifiedEnvelope<any>, source: string): void | 'ignore' {
    const env = verified.envelope as SignedAd
    const items = adItems(env)
    const now = this.now()
    try {
      if (!this.limiter.take(env.from, now, Math.min(items.length, this.init.peerAdBurst))) {
        throw new AdRateLimitedError(`peer ${env.from} sends catalog ads faster than ${this.init.peerAdRate}/s (burst ${this.init.peerAdBurst})`, { peer: env.from, source })
      }
      if (!this.sourceLimiter.take(source, now, Math.min(items.length, this.init.peerAdBurst * SOURCE_AD_FACTOR))) {
        const rate = this.init.peerAdRate * SOURCE_AD_FACTOR
        throw new AdRateLimitedError(`peer ${source} forwards catalog ads faster than ${rate}/s (burst ${this.init.peerAdBurst * SOURCE_AD_FACTOR})`, { peer: env.from, source, by: 'source' })
      }
      const sizes = this.checkAd(env)
      const addrs = env.body.addrs.slice(0, MAX_AD_ADDRS)
      const itemBytes = items.map((item, i) => entryBytes({ descriptor: item.descriptor, addrs }, sizes[i]))
      const bytes = itemBytes.reduce((sum, b) => sum + b, 0)
      // an ad larger than the burst (many long addrs under a small configured burst) costs the whole burst, not forever
      if (!this.sourceBytesLimiter.take(source, now, Math.min(bytes, this.sourceBytesBurst))) {
        throw new AdRateLimitedError(`peer ${source} forwards catalog ads faster than ${this.sourceBytesRate} bytes/s (burst ${this.sourceBytesBurst})`, { peer: env.from, source, by: 'source-bytes', bytes })
      }
      if (env.from === this.c.identity.id) return 'ignore'
      // charged to the budgets now, before gossipsub forwards it: ads validated but not yet delivered must count
      const results: Array<UpsertResult | undefined> = []
      let fitted = false
      for (let i = 0; i < items.length; i++) {
        const item = items[i]
        if (item.withdraw === true) { results.push(undefined); fitted = true; continue }
        const result = this.init.catalog.admit(this.entryOf(env, item, source), { via: source, descriptorBytes: sizes[i], ad: env })
        results.push(result)
        if (result !== 'full') { fitted = true; continue }
        const refusal = this.init.catalog.refusal(env.from, item.capability, source, itemBytes[i])
        const err = refusalError(refusal ?? { limit: 'bytes', scope: 'total' }, { provider: env.from, source, bytes: itemBytes[i], max: this.init.catalog.limits.maxSourceBytes })
        if (err.name !== 'CatalogFullError') throw err
        this.c.metrics.reject('discovery', err.name)
      }
      if (!fitted) return 'ignore'
      this.admitted.set(verified, results)
    } catch (err) {
      this.c.metrics.reject('discovery', (err as Error).name)
      throw err
    }
  }

  /**
   * The checks of an ad past its envelope's, but the rate limits: for each
   * capability it names, provider = signer, descriptor size, descriptor
   * CID; a set names each capability once. Returns each descriptor's
   * dag-cbor size, in the ad's order. Gossip (`validate`) and catalog sync
   * both use it.
   */
  checkAd (env: SignedAd): number[] {
    const items = adItems(env)
    const sizes: number[] = []
    const seen = new Set<string>()
    for (const item of items) {
      if (item.descriptor.provider !== env.from) {
        throw new ProviderMismatchError(`ad signed by ${env.from} names provider ${item.descriptor.provider}`, { from: env.from, provider: item.descriptor.provider })
      }
      if (seen.has(item.capability)) throw new DuplicateAdError(`ad set signed by ${env.from} names capability ${item.capability} twice`, { from: env.from, capability: item.capability })
      seen.add(item.capability)
      const size = assertDescriptorSize(item.descriptor, this.init.maxDescriptorBytes)
      const cid = cidStringOf(item.descriptor)
      if (cid !== item.capability) throw new CidMismatchError(`ad names capability ${item.capability} but its descriptor hashes to ${cid}`, { expected: item.capability, actual: cid })
      sizes.push(size)
    }
    return sizes
  }

  /**
   * An ad a peer answered over `/pl/catalog-sync`, verified and checked by
   * the caller (`checkAd`, `sizes` its result; no withdrawal in it): each
   * capability into the catalog as a gossiped ad delivered by `via`,
   * charged to its budgets (a refusal is counted). The catalog's result for
   * each, in the ad's order.
   */
  async merge (verified: VerifiedEnvelope<SignedAd['body']>, via: string, sizes: number[]): Promise<UpsertResult[]> {
    const env = verified.envelope as SignedAd
    const items = adItems(env)
    const results: UpsertResult[] = []
    for (let i = 0; i < items.length; i++) results.push(await this.upsertCounted(this.entryOf(env, items[i], via), env, sizes[i]))
    if (results.includes('added')) await this.rememberAddrs(env.from, env.body.addrs)
    return results
  }

  async onMessage (verified: VerifiedEnvelope<any>, source = ''): Promise<void> {
    const env = verified.envelope as SignedAd
    if (env.from === this.c.identity.id) return
    const items = adItems(env)
    const admitted = this.admitted.get(verified)
    let added = false
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      if (item.withdraw === true) {
        const removed = await this.init.catalog.withdraw(env.from, item.capability, env.ts, this.keepUntil(env.ts, env.exp, env.body.ttl))
        this.log.debug({ cid: item.capability, provider: env.from, removed }, 'capability withdrawn')
        continue
      }
      let result: UpsertResult
      if (admitted != null) {
        result = admitted[i] as UpsertResult
        if (result === 'added' || result === 'updated') await this.init.catalog.persist(env.from, item.capability)
      } else {
        // delivered without going through this validator (direct calls)
        result = await this.upsertCounted(this.entryOf(env, item, source), env)
      }
      if (result === 'added') {
        this.log.debug({ cid: item.capability, name: item.descriptor.name, provider: env.from }, 'capability heard')
        added = true
      }
    }
    if (added) await this.rememberAddrs(env.from, env.body.addrs)
  }

  /** Upserts an entry delivered by its `via` (a sync's answering peer, a direct delivery's source); a refusal is counted by name. */
  private async upsertCounted (entry: CatalogEntry, ad: SignedAd, descriptorBytes?: number): Promise<UpsertResult> {
    const via = entry.via ?? entry.provider
    const result = await this.init.catalog.upsert(entry, { via, descriptorBytes, ad })
    if (result === 'full') {
      const refusal = this.init.catalog.refusal(entry.provider, entry.cid, via, entryBytes(entry, descriptorBytes))
      this.c.metrics.reject('discovery', refusalError(refusal ?? { limit: 'bytes', scope: 'total' }, {}).name)
    }
    return result
  }

  private entryOf (env: SignedAd, item: AdItem, source: string): CatalogEntry {
    return {
      cid: item.capability,
      name: item.descriptor.name,
      version: item.descriptor.version,
      provider: env.from,
      descriptor: item.descriptor,
      addrs: env.body.addrs.slice(0, MAX_AD_ADDRS),
      ts: env.ts,
      expires: this.keepUntil(env.ts, env.exp, env.body.ttl),
      source: 'gossip',
      via: source !== '' ? source : env.from
    }
  }

  /** Until when an ad (or the tombstone of a withdrawal) is kept: a full catalog must not stay closed to honest ads for a day, so at most maxTtlMs. */
  private keepUntil (ts: number, exp: number, ttl: number): number {
    return Math.min(exp, ts + Math.min(ttl, this.init.maxTtlMs ?? MAX_AD_KEEP_MS))
  }

  private async rememberAddrs (peer: string, addrs: string[]): Promise<void> {
    try {
      const list = addrs.slice(0, 8).flatMap(a => { try { return [multiaddr(a)] } catch { return [] } })
      if (list.length > 0) await this.c.libp2p.peerStore.merge(peerIdFromString(peer), { multiaddrs: list })
    } catch (err) {
      this.log.debug({ peer, err: (err as Error).message }, 'could not remember ad addrs')
    }
  }
}
