/**
 * Token buckets per caller, on an injectable clock: `burst` tokens, refilled
 * at `perSecond`. A caller with no token left is told when one will be back.
 */
import { MAX_RATE_BUCKETS } from './constants.js'
import { systemClock, type Clock } from '../core/clock.js'

export interface RateLimiterInit {
  burst: number
  perSecond: number
  /** @default systemClock */
  clock?: Clock
  /** @default MAX_RATE_BUCKETS */
  maxBuckets?: number
}

interface Bucket { tokens: number, at: number }

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  private readonly clock: Clock

  constructor (private readonly init: RateLimiterInit) {
    if (!(init.burst >= 1) || !(init.perSecond > 0)) throw new TypeError('rate limit needs burst >= 1 and perSecond > 0')
    this.clock = init.clock ?? systemClock
  }

  /** Takes one token for `key`; returns 0 when taken, else the seconds until one is back (for `Retry-After`). */
  take (key: string): number {
    const now = this.clock.now()
    let b = this.buckets.get(key)
    if (b == null) {
      b = { tokens: this.init.burst, at: now }
      if (this.buckets.size >= (this.init.maxBuckets ?? MAX_RATE_BUCKETS)) {
        const oldest = this.buckets.keys().next().value
        if (oldest != null) this.buckets.delete(oldest)
      }
    } else {
      this.buckets.delete(key) // re-inserted below: Map order is least recently used first
      b.tokens = this.tokensAt(b, now)
      b.at = now
    }
    this.buckets.set(key, b)
    if (b.tokens >= 1) {
      b.tokens -= 1
      return 0
    }
    return this.secondsToToken(b.tokens)
  }

  /** Seconds until `key` has a token, without taking one (0: it has one now). */
  wait (key: string): number {
    const b = this.buckets.get(key)
    if (b == null) return 0
    const tokens = this.tokensAt(b, this.clock.now())
    return tokens >= 1 ? 0 : this.secondsToToken(tokens)
  }

  /** The bucket's tokens at `now`, refilled since it was last touched. */
  private tokensAt (b: Bucket, now: number): number {
    return Math.min(this.init.burst, b.tokens + Math.max(0, now - b.at) * this.init.perSecond / 1000)
  }

  private secondsToToken (tokens: number): number {
    return Math.max(1, Math.ceil((1 - tokens) / this.init.perSecond))
  }

  get size (): number {
    return this.buckets.size
  }
}
