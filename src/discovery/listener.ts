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
import type { Envelope, VerifiedEnvelope } from '../core/index.js'
import { cidStringOf } from '../core/encoding.js'
import { CidMismatchError } from '../core/errors.js'
import type { GossipHandler } from '../net/index.js'
import type { Catalog } from './catalog.js'
import { assertDescriptorSize } from './descriptor.js'
import { AdRateLimitedError, CatalogFullError, ProviderBudgetExceededError, ProviderMismatchError, SourceBudgetExceededError } from './errors.js'
import { PeerRateLimiter } from './rate-limit.js'
import { entryBytes, type CatalogRefusal, type UpsertResult } from './catalog.js'
import { CATALOG_ENTRY_OVERHEAD_BYTES, DEFAULT_SOURCE_AD_BYTES_BURST, DEFAULT_SOURCE_AD_BYTES_RATE, MAX_AD_ADDRS, MAX_AD_KEEP_MS, SOURCE_AD_FACTOR } from './constants.js'
import type { AdvertiseCapability, CatalogEntry } from './types.js'

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
  private readonly admitted = new WeakMap<VerifiedEnvelope<any>, { result: UpsertResult, size: number }>()
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
      types: ['AdvertiseCapability.v1'],
      validate: (v, source) => this.validate(v, source),
      onMessage: async (v, source) => { await this.onMessage(v, source) }
    }
  }

  /** Gossip validator (synchronous): throwing rejects the message, so its sender loses score. */
  validate (verified: VerifiedEnvelope<any>, source: string): void | 'ignore' {
    const env = verified.envelope
    const body = env.body as AdvertiseCapability
    const now = this.now()
    try {
      if (!this.limiter.take(env.from, now)) {
        throw new AdRateLimitedError(`peer ${env.from} sends catalog ads faster than ${this.init.peerAdRate}/s (burst ${this.init.peerAdBurst})`, { peer: env.from, source })
      }
      if (!this.sourceLimiter.take(source, now)) {
        const rate = this.init.peerAdRate * SOURCE_AD_FACTOR
        throw new AdRateLimitedError(`peer ${source} forwards catalog ads faster than ${rate}/s (burst ${this.init.peerAdBurst * SOURCE_AD_FACTOR})`, { peer: env.from, source, by: 'source' })
      }
      const size = this.checkAd(env)
      const bytes = entryBytes({ descriptor: body.descriptor, addrs: body.addrs.slice(0, MAX_AD_ADDRS) }, size)
      // an ad larger than the burst (many long addrs under a small configured burst) costs the whole burst, not forever
      if (!this.sourceBytesLimiter.take(source, now, Math.min(bytes, this.sourceBytesBurst))) {
        throw new AdRateLimitedError(`peer ${source} forwards catalog ads faster than ${this.sourceBytesRate} bytes/s (burst ${this.sourceBytesBurst})`, { peer: env.from, source, by: 'source-bytes', bytes })
      }
      if (env.from === this.c.identity.id) return 'ignore'
      if (body.withdraw !== true) {
        // charged to the budgets now, before gossipsub forwards it: ads validated but not yet delivered must count
        const result = this.init.catalog.admit(this.entryOf(verified, source), { via: source, descriptorBytes: size, ad: env })
        if (result === 'full') {
          const refusal = this.init.catalog.refusal(env.from, body.capability, source, bytes)
          const err = refusalError(refusal ?? { limit: 'bytes', scope: 'total' }, { provider: env.from, source, bytes, max: this.init.catalog.limits.maxSourceBytes })
          if (err.name !== 'CatalogFullError') throw err
          this.c.metrics.reject('discovery', err.name)
          return 'ignore'
        }
        this.admitted.set(verified, { result, size })
      }
    } catch (err) {
      this.c.metrics.reject('discovery', (err as Error).name)
      throw err
    }
  }

  /**
   * The checks of an ad past its envelope's, but the rate limits: provider =
   * signer, descriptor size, descriptor CID. Returns the descriptor's
   * dag-cbor size. Gossip (`validate`) and catalog sync both use it.
   */
  checkAd (env: Envelope<AdvertiseCapability>): number {
    const body = env.body
    if (body.descriptor.provider !== env.from) {
      throw new ProviderMismatchError(`ad signed by ${env.from} names provider ${body.descriptor.provider}`, { from: env.from, provider: body.descriptor.provider })
    }
    const size = assertDescriptorSize(body.descriptor, this.init.maxDescriptorBytes)
    const cid = cidStringOf(body.descriptor)
    if (cid !== body.capability) throw new CidMismatchError(`ad names capability ${body.capability} but its descriptor hashes to ${cid}`, { expected: body.capability, actual: cid })
    return size
  }

  /**
   * An ad a peer answered over `/pl/catalog-sync`, verified and checked by
   * the caller (`checkAd`): into the catalog as a gossiped ad delivered by
   * `via`, charged to its budgets (a refusal is counted). The result of the
   * catalog.
   */
  async merge (verified: VerifiedEnvelope<AdvertiseCapability>, via: string, descriptorBytes: number): Promise<UpsertResult> {
    const env = verified.envelope
    const entry = this.entryOf(verified, via)
    const result = await this.init.catalog.upsert(entry, { via, descriptorBytes, ad: env })
    if (result === 'full') {
      const refusal = this.init.catalog.refusal(entry.provider, entry.cid, via, entryBytes(entry, descriptorBytes))
      this.c.metrics.reject('discovery', refusalError(refusal ?? { limit: 'bytes', scope: 'total' }, {}).name)
    }
    if (result === 'added') await this.rememberAddrs(env.from, env.body.addrs)
    return result
  }

  async onMessage (verified: VerifiedEnvelope<any>, source = ''): Promise<void> {
    const env = verified.envelope
    const body = env.body as AdvertiseCapability
    if (env.from === this.c.identity.id) return
    if (body.withdraw === true) {
      const removed = await this.init.catalog.withdraw(env.from, body.capability, env.ts, this.keepUntil(env.ts, env.exp, body.ttl))
      this.log.debug({ cid: body.capability, provider: env.from, removed }, 'capability withdrawn')
      return
    }
    const admitted = this.admitted.get(verified)
    let result: UpsertResult
    if (admitted != null) {
      result = admitted.result
      if (result === 'added' || result === 'updated') await this.init.catalog.persist(env.from, body.capability)
    } else {
      // delivered without going through this validator (direct calls)
      const entry = this.entryOf(verified, source)
      result = await this.init.catalog.upsert(entry, { via: entry.via, ad: env })
      if (result === 'full') {
        const refusal = this.init.catalog.refusal(entry.provider, entry.cid, entry.via ?? entry.provider, entryBytes(entry))
        this.c.metrics.reject('discovery', refusalError(refusal ?? { limit: 'bytes', scope: 'total' }, {}).name)
      }
    }
    if (result === 'added') {
      this.log.debug({ cid: body.capability, name: body.descriptor.name, provider: env.from }, 'capability heard')
      await this.rememberAddrs(env.from, body.addrs)
    }
  }

  private entryOf (verified: VerifiedEnvelope<any>, source: string): CatalogEntry {
    const env = verified.envelope
    const body = env.body as AdvertiseCapability
    return {
      cid: body.capability,
      name: body.descriptor.name,
      version: body.descriptor.version,
      provider: env.from,
      descriptor: body.descriptor,
      addrs: body.addrs.slice(0, MAX_AD_ADDRS),
      ts: env.ts,
      expires: this.keepUntil(env.ts, env.exp, body.ttl),
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
