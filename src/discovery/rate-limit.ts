import { systemClock } from '../core/clock.js'

/**
 * Token buckets keyed by peer: `burst` tokens, refilled at `rate` per second.
 * A take may cost more than one token (byte budgets: cost = bytes).
 * The map is bounded: when it holds `maxKeys` buckets, full ones (peers at
 * rest) are dropped first, then the oldest.
 */
export class PeerRateLimiter {
  private readonly buckets = new Map<string, { tokens: number, at: number }>()

  /** @param now the clock (ms) refilling the buckets @default systemClock.now */
  constructor (private readonly rate: number, private readonly burst: number, private readonly maxKeys = 10_000, private readonly now: () => number = systemClock.now) {
    if (!(rate > 0) || !(burst >= 1)) throw new TypeError(`rate must be > 0 and burst >= 1 (got ${rate}, ${burst})`)
  }

  /** Takes `cost` tokens for `key`; false (and nothing taken) when the bucket holds fewer. */
  take (key: string, now = this.now(), cost = 1): boolean {
    let b = this.buckets.get(key)
    if (b == null) {
      if (this.buckets.size >= this.maxKeys) this.prune(now)
      b = { tokens: this.burst, at: now }
      this.buckets.set(key, b)
    } else {
      b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.rate / 1000)
      b.at = now
    }
    if (b.tokens < cost) return false
    b.tokens -= cost
    return true
  }

  /** Milliseconds until `key` has a token again (0 if it has one now). */
  waitMs (key: string, now = this.now()): number {
    const b = this.buckets.get(key)
    if (b == null) return 0
    const tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.rate / 1000)
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) * 1000 / this.rate)
  }

  get size (): number { return this.buckets.size }

  private prune (now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.rate / 1000 >= this.burst) this.buckets.delete(k)
    }
    while (this.buckets.size >= this.maxKeys) {
      const first = this.buckets.keys().next().value
      if (first === undefined) break
      this.buckets.delete(first)
    }
  }
}
