/**
 * Dead-peer memory of a requester ("quarantine"): peers that could not be
 * reached (a dial failed or never completed, a connection dropped under an
 * award) or let a bid window pass without answering. A quarantined peer is
 * neither dialed by the discovery walk nor sent a call, so one dead provider
 * costs one timeout, not one per step. The set is bounded (oldest entry
 * evicted), each entry expires (the period doubles each time the same peer
 * is quarantined again, up to a ceiling), and a peer leaves it as soon as it
 * is heard from: a connection with it opens, or it signs a fresh ad.
 *
 * @example
 * const q = new PeerQuarantine({ now: () => clock.now })
 * q.add(peer, 'unreachable')
 * q.has(peer)        // true until the period ends or q.release(peer)
 */
import { DEFAULT_QUARANTINE_MAX_MS, DEFAULT_QUARANTINE_MAX_PEERS, DEFAULT_QUARANTINE_MS } from './constants.js'

export type QuarantineReason = 'unreachable' | 'missed-bid' | 'connection-lost'

export interface QuarantineInit {
  /** first quarantine period of a peer @default DEFAULT_QUARANTINE_MS */
  periodMs?: number
  /** ceiling of the doubled period of a peer quarantined again @default DEFAULT_QUARANTINE_MAX_MS */
  maxPeriodMs?: number
  /** peers remembered at once (the oldest entry is dropped beyond it) @default DEFAULT_QUARANTINE_MAX_PEERS */
  maxPeers?: number
  /** the clock (ms since epoch) @default Date.now */
  now?: () => number
}

export interface QuarantineEntry {
  peer: string
  reason: QuarantineReason
  since: number
  until: number
  /** times quarantined in a row (the period doubles each time) */
  strikes: number
  /** newest `expires` of the peer's gossip ads seen while quarantined: a later one is a fresh ad */
  adExpires?: number
}

export class PeerQuarantine {
  private readonly entries = new Map<string, QuarantineEntry>()
  /** strikes of peers released or expired, so a peer that flaps gets longer periods (bounded like the entries) */
  private readonly strikes = new Map<string, number>()
  readonly periodMs: number
  readonly maxPeriodMs: number
  readonly maxPeers: number
  private readonly now: () => number

  constructor (init: QuarantineInit = {}) {
    this.periodMs = init.periodMs ?? DEFAULT_QUARANTINE_MS
    this.maxPeriodMs = Math.max(this.periodMs, init.maxPeriodMs ?? DEFAULT_QUARANTINE_MAX_MS)
    this.maxPeers = Math.max(1, init.maxPeers ?? DEFAULT_QUARANTINE_MAX_PEERS)
    this.now = init.now ?? Date.now
  }

  /**
   * Quarantines `peer`. While it is quarantined, more failures change
   * nothing (they are the same outage); a peer that fails again after its
   * period ended gets twice the period.
   */
  add (peer: string, reason: QuarantineReason): QuarantineEntry {
    const held = this.get(peer)
    if (held != null) return held
    const now = this.now()
    const strikes = Math.min(30, (this.strikes.get(peer) ?? 0) + 1)
    const period = Math.min(this.maxPeriodMs, this.periodMs * 2 ** (strikes - 1))
    const entry: QuarantineEntry = { peer, reason, since: now, until: now + period, strikes }
    this.entries.set(peer, entry)
    this.remember(peer, strikes)
    while (this.entries.size > this.maxPeers) this.entries.delete(this.entries.keys().next().value as string)
    return entry
  }

  /** Whether `peer` is quarantined now (an expired entry is dropped). */
  has (peer: string): boolean {
    return this.get(peer) != null
  }

  get (peer: string): QuarantineEntry | undefined {
    const e = this.entries.get(peer)
    if (e == null) return undefined
    if (e.until <= this.now()) {
      this.entries.delete(peer)
      return undefined
    }
    return e
  }

  /** The peer was heard from: out of quarantine, and its strikes forgotten. Returns whether it was quarantined. */
  release (peer: string): boolean {
    this.strikes.delete(peer)
    return this.entries.delete(peer)
  }

  /**
   * A gossip ad of `peer` valid until `expires` was seen: the first one seen
   * while quarantined is the baseline, a later one means the peer signed a
   * fresh ad and is released. Returns whether it was released.
   */
  sawAd (peer: string, expires: number): boolean {
    const e = this.get(peer)
    if (e == null) return false
    if (e.adExpires == null || expires <= e.adExpires) {
      e.adExpires = Math.max(e.adExpires ?? 0, expires)
      return false
    }
    return this.release(peer)
  }

  /** Peers quarantined now. */
  list (): QuarantineEntry[] {
    const out: QuarantineEntry[] = []
    for (const peer of [...this.entries.keys()]) {
      const e = this.get(peer)
      if (e != null) out.push({ ...e })
    }
    return out
  }

  get size (): number {
    return this.list().length
  }

  clear (): void {
    this.entries.clear()
    this.strikes.clear()
  }

  private remember (peer: string, strikes: number): void {
    this.strikes.delete(peer)
    this.strikes.set(peer, strikes)
    while (this.strikes.size > this.maxPeers) this.strikes.delete(this.strikes.keys().next().value as string)
  }
}
