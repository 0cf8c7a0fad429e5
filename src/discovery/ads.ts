/**
 * Own ads on `pl/v1/catalog`: every capability this node advertises goes
 * out in as few envelopes as fit (`AdvertiseCapabilitySet.v1`, at most
 * MAX_SET_ADS capabilities and SET_FILL_BYTES of descriptors each; a lone
 * capability as `AdvertiseCapability.v1`), signed with `exp` = now + ttl,
 * and all of them are re-signed and re-sent together at ttl/2: a node's
 * re-ads cost the mesh one gossip message per set, not one per capability.
 * Sends are paced by a token bucket kept below what receivers allow, so an
 * honest node never trips their per-peer limit (gossipsub has no
 * backpressure). Withdrawals jump the queue, and the capabilities left are
 * re-sent at once in new sets that no longer name the withdrawn one.
 */
import type { Gossip } from '../net/index.js'
import type { Envelope, SignOptions } from '../core/index.js'
import type { Logger } from '../core/logger.js'
import { encodeCanonical } from '../core/encoding.js'
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js'
import { CATALOG_TOPIC } from './constants.js'
import { PeerRateLimiter } from './rate-limit.js'
import { adBody, adItems, groupAds, type AdItem, type SignedAd } from './ad-set.js'
import type { CapabilityDescriptor } from './types.js'

export interface AdvertiserInit {
  gossip: Gossip
  sign: <B extends object>(type: string, body: B, options?: SignOptions) => Envelope<B>
  addrs: () => string[]
  logger: Logger
  ttlMs: number
  publishRate: number
  publishBurst: number
  /** capabilities per envelope: MAX_SET_ADS, or 1 for one AdvertiseCapability.v1 each (`adSets: false`) @default MAX_SET_ADS */
  perSet?: number
  /** paces and re-sends ads @default systemClock */
  clock?: Clock
}

interface Live { cid: string, descriptor: CapabilityDescriptor, size: number }
/** A send of every live capability (groups fixed when its first envelope goes), or a withdrawal. */
type Pending = { withdraw: false, groups?: Live[][], sends: Array<Promise<boolean>> } | { withdraw: true, items: AdItem[] }

const SELF = 'self'
const MAX_ADDRS = 32

export class Advertiser {
  private readonly queue: Pending[] = []
  private readonly pacer: PeerRateLimiter
  /** capabilities being advertised (a send in flight when one is withdrawn must not name it) */
  private readonly live = new Map<string, Live>()
  /** the last envelope sent naming each capability still advertised (its expiry; served to joining peers over /pl/catalog-sync) */
  private readonly carrying = new Map<string, SignedAd>()
  private refreshTimer?: TimerHandle
  private drainTimer?: TimerHandle
  private drainQueued = false
  /** the last retry delay after sends that failed or reached no peer (0: the last send was heard) */
  private retryMs = 0
  private readonly clock: Clock
  private running = false
  /** ad envelopes sent (re-ads and withdrawals included), for tests and metrics */
  sent = 0

  constructor (private readonly init: AdvertiserInit) {
    this.clock = init.clock ?? systemClock
    this.pacer = new PeerRateLimiter(init.publishRate, init.publishBurst, undefined, this.clock.now)
  }

  start (): void {
    this.running = true
  }

  /** Expiry of the last ad sent for `cid` (undefined before the first). */
  expiryOf (cid: string): number | undefined {
    return this.carrying.get(cid)?.exp
  }

  /** The last ads sent for the capabilities still advertised, unexpired at `now`; an ad that also names a withdrawn capability is left out. */
  currentAds (now = this.clock.now()): SignedAd[] {
    const out = new Set<SignedAd>()
    for (const env of this.carrying.values()) {
      if (env.exp > now && !out.has(env) && adItems(env).every(i => this.live.has(i.capability))) out.add(env)
    }
    return [...out]
  }

  /** Sends the capability now (with the others, paced) and keeps re-sending it until withdrawn. */
  advertise (cid: string, descriptor: CapabilityDescriptor): void {
    if (!this.running) return
    this.live.set(cid, { cid, descriptor, size: encodeCanonical(descriptor).byteLength })
    this.requestSend()
  }

  /** Stops re-advertising `cid`, sends a withdrawal ahead of pending ads, then re-sends the others without it. */
  withdraw (cid: string, descriptor: CapabilityDescriptor): void {
    const had = this.live.delete(cid)
    this.carrying.delete(cid)
    if (!this.running) return
    this.queue.unshift({ withdraw: true, items: [{ capability: cid, descriptor, withdraw: true }] })
    if (had && this.live.size > 0) this.requestSend()
    else this.drain()
  }

  /**
   * Graceful stop: withdraws `caps` as far as the pacing allows right now
   * (the rest expire at their TTL), then clears every timer.
   */
  async stop (caps: Array<{ cid: string, descriptor: CapabilityDescriptor }>): Promise<void> {
    if (!this.running) return
    this.live.clear()
    this.clock.clearTimeout(this.refreshTimer)
    this.refreshTimer = undefined
    this.clock.clearTimeout(this.drainTimer)
    this.drainTimer = undefined
    this.queue.length = 0
    for (const group of groupAds(caps, cap => encodeCanonical(cap.descriptor).byteLength, this.init.perSet)) {
      if (!this.pacer.take(SELF)) break
      await this.send(group.map(cap => ({ capability: cap.cid, descriptor: cap.descriptor, withdraw: true })))
    }
    this.running = false
    this.carrying.clear()
  }

  /** Queues a send of every live capability, unless one not yet begun is queued (it will name them all). */
  private requestSend (): void {
    this.clock.clearTimeout(this.refreshTimer)
    this.refreshTimer = undefined
    if (!this.queue.some(p => !p.withdraw && p.groups == null)) this.queue.push({ withdraw: false, sends: [] })
    // drained after this turn: capabilities advertised in one go (a loop, a start) share one set
    if (this.drainQueued) return
    this.drainQueued = true
    queueMicrotask(() => { this.drainQueued = false; this.drain() })
  }

  private drain (): void {
    if (this.drainTimer != null || !this.running) return
    while (this.queue.length > 0) {
      const next = this.queue[0]
      if (!next.withdraw && next.groups == null) {
        next.groups = groupAds([...this.live.values()], l => l.size, this.init.perSet)
        if (next.groups.length === 0) { this.queue.shift(); continue }
      }
      if (!this.pacer.take(SELF)) {
        this.drainTimer = this.clock.setTimeout(() => { this.drainTimer = undefined; this.drain() }, Math.max(1, this.pacer.waitMs(SELF)))
        return
      }
      if (next.withdraw) {
        this.queue.shift()
        void this.send(next.items)
        continue
      }
      const groups = next.groups as Live[][]
      const group = groups.shift() as Live[]
      next.sends.push(this.send(group.map(l => ({ capability: l.cid, descriptor: l.descriptor }))))
      if (groups.length === 0) {
        this.queue.shift()
        void Promise.all(next.sends).then(oks => { this.rearm(oks.every(Boolean)) })
      }
    }
  }

  /**
   * Re-sends every live capability at half the TTL. After a send that
   * failed or reached no peer (a node that just started may know none in
   * the topic yet, and gossipsub never sends a message again), sooner: after
   * 1 s, then twice as long each time, up to half the TTL.
   */
  private rearm (ok: boolean): void {
    if (!this.running || this.live.size === 0 || this.queue.some(p => !p.withdraw)) return
    this.clock.clearTimeout(this.refreshTimer)
    const full = this.init.ttlMs / 2
    this.retryMs = ok ? 0 : Math.min(full, this.retryMs === 0 ? Math.min(1_000, this.init.ttlMs / 4) : this.retryMs * 2)
    this.refreshTimer = this.clock.setTimeout(() => { this.refreshTimer = undefined; this.requestSend() }, ok ? full : this.retryMs)
  }

  private async send (items: AdItem[]): Promise<boolean> {
    // a capability withdrawn since its group was formed is not named again (it would undo the withdrawal)
    const named = items.filter(i => i.withdraw === true || this.live.has(i.capability))
    if (named.length === 0) return true
    const withdraw = named[0].withdraw === true
    try {
      const { type, body } = adBody(named, this.init.addrs().slice(0, MAX_ADDRS), this.init.ttlMs)
      const env = this.init.sign<object>(type, body, { ttlMs: this.init.ttlMs }) as SignedAd
      const heard = await this.init.gossip.publish(CATALOG_TOPIC, env)
      this.sent++
      for (const i of named) if (i.withdraw !== true && this.live.has(i.capability)) this.carrying.set(i.capability, env)
      this.init.logger.debug({ cids: named.map(i => i.capability), withdraw, peers: heard }, 'catalog ad sent')
      return heard > 0
    } catch (err) {
      this.init.logger.warn({ cids: named.map(i => i.capability), withdraw, err: (err as Error).message }, 'catalog ad not sent')
      return false
    }
  }
}
