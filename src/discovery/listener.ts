/**
 * The receiving side of `pl/v1/catalog`: a synchronous gossip validator
 * (rate limits per signer and per forwarding peer, provider = signer, size, descriptor CID) whose
 * throws become Reject — the sender loses score — and the delivery handler
 * that updates the catalog (ads, withdrawals) and the peer store (addrs).
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PlComponents } from '../node.js'
import type { VerifiedEnvelope } from '../core/envelope.js'
import { cidStringOf } from '../core/encoding.js'
import { CidMismatchError } from '../core/errors.js'
import type { GossipHandler } from '../net/gossip.js'
import type { Catalog } from './catalog.js'
import { assertDescriptorSize } from './descriptor.js'
import { AdRateLimitedError, ProviderMismatchError } from './errors.js'
import { PeerRateLimiter } from './rate-limit.js'
import { MAX_AD_KEEP_MS, SOURCE_AD_FACTOR } from './constants.js'
import type { AdvertiseCapability, CatalogEntry } from './types.js'

export type CatalogListenerComponents = Pick<PlComponents, 'identity' | 'metrics' | 'logger' | 'libp2p'>

export interface CatalogListenerInit {
  catalog: Catalog
  peerAdRate: number
  peerAdBurst: number
  maxDescriptorBytes: number
  /** longest an ad is kept whatever its ttl (10 × the own ad ttl in the service) @default MAX_AD_KEEP_MS */
  maxTtlMs?: number
}

export class CatalogListener {
  private readonly limiter: PeerRateLimiter
  private readonly sourceLimiter: PeerRateLimiter
  private readonly log: CatalogListenerComponents['logger']

  constructor (private readonly c: CatalogListenerComponents, private readonly init: CatalogListenerInit) {
    this.limiter = new PeerRateLimiter(init.peerAdRate, init.peerAdBurst)
    // signers are free to mint: the peer that forwarded the ads is limited too, at SOURCE_AD_FACTOR × the signer rate
    this.sourceLimiter = new PeerRateLimiter(init.peerAdRate * SOURCE_AD_FACTOR, init.peerAdBurst * SOURCE_AD_FACTOR)
    this.log = c.logger.child({ component: 'discovery' })
  }

  /** The handler to subscribe with: `gossip.subscribe(CATALOG_TOPIC, listener.handler())`. */
  handler (): GossipHandler {
    return {
      types: ['AdvertiseCapability.v1'],
      validate: (v, source) => this.validate(v, source),
      onMessage: async (v) => { await this.onMessage(v) }
    }
  }

  /** Gossip validator (synchronous): throwing rejects the message, so its sender loses score. */
  validate (verified: VerifiedEnvelope<any>, source: string): void | 'ignore' {
    const env = verified.envelope
    const body = env.body as AdvertiseCapability
    try {
      if (!this.limiter.take(env.from)) {
        throw new AdRateLimitedError(`peer ${env.from} sends catalog ads faster than ${this.init.peerAdRate}/s (burst ${this.init.peerAdBurst})`, { peer: env.from, source })
      }
      if (!this.sourceLimiter.take(source)) {
        const rate = this.init.peerAdRate * SOURCE_AD_FACTOR
        throw new AdRateLimitedError(`peer ${source} forwards catalog ads faster than ${rate}/s (burst ${this.init.peerAdBurst * SOURCE_AD_FACTOR})`, { peer: env.from, source, by: 'source' })
      }
      if (body.descriptor.provider !== env.from) {
        throw new ProviderMismatchError(`ad signed by ${env.from} names provider ${body.descriptor.provider}`, { from: env.from, provider: body.descriptor.provider })
      }
      assertDescriptorSize(body.descriptor, this.init.maxDescriptorBytes)
      const cid = cidStringOf(body.descriptor)
      if (cid !== body.capability) throw new CidMismatchError(`ad names capability ${body.capability} but its descriptor hashes to ${cid}`, { expected: body.capability, actual: cid })
    } catch (err) {
      this.c.metrics.reject('discovery', (err as Error).name)
      throw err
    }
    if (env.from === this.c.identity.id) return 'ignore'
  }

  async onMessage (verified: VerifiedEnvelope<any>): Promise<void> {
    const env = verified.envelope
    const body = env.body as AdvertiseCapability
    if (env.from === this.c.identity.id) return
    if (body.withdraw === true) {
      const removed = await this.init.catalog.withdraw(env.from, body.capability, env.ts, this.keepUntil(env.ts, env.exp, body.ttl))
      this.log.debug({ cid: body.capability, provider: env.from, removed }, 'capability withdrawn')
      return
    }
    const entry: CatalogEntry = {
      cid: body.capability,
      name: body.descriptor.name,
      version: body.descriptor.version,
      provider: env.from,
      descriptor: body.descriptor,
      addrs: body.addrs,
      ts: env.ts,
      expires: this.keepUntil(env.ts, env.exp, body.ttl),
      source: 'gossip'
    }
    const result = await this.init.catalog.upsert(entry)
    if (result === 'full') this.c.metrics.reject('discovery', 'CatalogFull')
    if (result === 'added') {
      this.log.debug({ cid: entry.cid, name: entry.name, provider: entry.provider }, 'capability heard')
      await this.rememberAddrs(env.from, body.addrs)
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
