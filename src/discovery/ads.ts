/**
 * Own AdvertiseCapability envelopes on `pl/v1/catalog`: each published
 * capability is signed with `exp` = now + ttl, sent, and re-signed and re-sent
 * at ttl/2. Sends are paced by a token bucket kept below what receivers
 * allow, so an honest node never trips their per-peer limit (gossipsub has no
 * backpressure). Withdrawals jump the queue.
 */
import type { Gossip } from '../net/index.js'
import type { Envelope, SignOptions } from '../core/index.js'
import type { Logger } from '../core/logger.js'
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js'
import { CATALOG_TOPIC } from './constants.js'
import { PeerRateLimiter } from './rate-limit.js'
import type { AdvertiseCapability, CapabilityDescriptor } from './types.js'

export interface AdvertiserInit {
  gossip: Gossip
  sign: <B extends object>(type: string, body: B, options?: SignOptions) => Envelope<B>
  addrs: () => string[]
  logger: Logger
  ttlMs: number
  publishRate: number
  publishBurst: number
  /** paces and re-sends ads @default systemClock */
  clock?: Clock
}

interface Pending { cid: string, descriptor: CapabilityDescriptor, withdraw: boolean }

const SELF = 'self'
const MAX_ADDRS = 32

export class Advertiser {
  private readonly timers = new Map<string, TimerHandle>()
  private readonly queue: Pending[] = []
  private readonly pacer: PeerRateLimiter
  private readonly expiries = new Map<string, number>()
  /** the last ad sent for each capability still advertised (served to joining peers over /pl/catalog-sync) */
  private readonly current = new Map<string, Envelope<AdvertiseCapability>>()
  /** capabilities being advertised (a send in flight when one is withdrawn must not re-arm its timer) */
  private readonly live = new Set<string>()
  private drainTimer?: TimerHandle
  private readonly clock: Clock
  private running = false
  /** ads sent (re-ads included), for tests and metrics */
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
    return this.expiries.get(cid)
  }

  /** The last ads sent for the capabilities still advertised, unexpired at `now`. */
  currentAds (now = this.clock.now()): Array<Envelope<AdvertiseCapability>> {
    return [...this.current.values()].filter(env => env.exp > now)
  }

  /** Sends an ad for the capability now (paced) and keeps re-sending it until withdrawn. */
  advertise (cid: string, descriptor: CapabilityDescriptor): void {
    if (!this.running) return
    this.live.add(cid)
    this.clearTimer(cid)
    if (!this.queue.some(p => p.cid === cid && !p.withdraw)) this.queue.push({ cid, descriptor, withdraw: false })
    this.drain()
  }

  /** Stops re-advertising `cid` and sends a withdrawal ahead of pending ads. */
  withdraw (cid: string, descriptor: CapabilityDescriptor): void {
    this.live.delete(cid)
    this.clearTimer(cid)
    this.expiries.delete(cid)
    this.current.delete(cid)
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i].cid === cid) this.queue.splice(i, 1)
    if (!this.running) return
    this.queue.unshift({ cid, descriptor, withdraw: true })
    this.drain()
  }

  /**
   * Graceful stop: withdraws `caps` as far as the pacing allows right now
   * (the rest expire at their TTL), then clears every timer.
   */
  async stop (caps: Array<{ cid: string, descriptor: CapabilityDescriptor }>): Promise<void> {
    if (!this.running) return
    this.live.clear()
    for (const t of this.timers.values()) this.clock.clearTimeout(t)
    this.timers.clear()
    this.clock.clearTimeout(this.drainTimer)
    this.drainTimer = undefined
    this.queue.length = 0
    for (const cap of caps) {
      if (!this.pacer.take(SELF)) break
      await this.send({ ...cap, withdraw: true })
    }
    this.running = false
    this.expiries.clear()
    this.current.clear()
  }

  private clearTimer (cid: string): void {
    const t = this.timers.get(cid)
    if (t != null) this.clock.clearTimeout(t)
    this.timers.delete(cid)
  }

  private drain (): void {
    if (this.drainTimer != null || !this.running) return
    while (this.queue.length > 0) {
      if (!this.pacer.take(SELF)) {
        this.drainTimer = this.clock.setTimeout(() => { this.drainTimer = undefined; this.drain() }, Math.max(1, this.pacer.waitMs(SELF)))
        return
      }
      const next = this.queue.shift() as Pending
      void this.send(next).then((ok) => {
        if (next.withdraw || !this.running || !this.live.has(next.cid)) return
        // re-sign and re-send at half the TTL; a failed send is retried sooner
        const delay = ok ? this.init.ttlMs / 2 : Math.min(1_000, this.init.ttlMs / 4)
        this.clearTimer(next.cid)
        this.timers.set(next.cid, this.clock.setTimeout(() => { this.timers.delete(next.cid); this.advertise(next.cid, next.descriptor) }, delay))
      })
    }
  }

  private async send (p: Pending): Promise<boolean> {
    const body: AdvertiseCapability = {
      capability: p.cid,
      descriptor: p.descriptor,
      addrs: this.init.addrs().slice(0, MAX_ADDRS),
      ttl: this.init.ttlMs,
      ...(p.withdraw ? { withdraw: true } : {})
    }
    try {
      const env = this.init.sign('AdvertiseCapability.v1', body, { ttlMs: this.init.ttlMs })
      await this.init.gossip.publish(CATALOG_TOPIC, env)
      this.sent++
      if (!p.withdraw) this.expiries.set(p.cid, env.exp)
      if (!p.withdraw && this.live.has(p.cid)) this.current.set(p.cid, env)
      this.init.logger.debug({ cid: p.cid, withdraw: p.withdraw }, 'catalog ad sent')
      return true
    } catch (err) {
      this.init.logger.warn({ cid: p.cid, withdraw: p.withdraw, err: (err as Error).message }, 'catalog ad not sent')
      return false
    }
  }
}
