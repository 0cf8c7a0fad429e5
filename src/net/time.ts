/**
 * `/pl/time/1.0.0`: "what time is it on your clock?" — so an operator can
 * see how far this node's clock is from its peers' before envelopes start
 * being rejected (envelopes carry their signing time and are refused outside
 * ±60 s, `ClockSkewError`). The request is empty; the answer is the peer's
 * `now` (ms since epoch). The asker estimates the peer's offset the NTP way:
 * `offset = now_peer − (t_sent + t_received) / 2`, good to ± half the round
 * trip, which it reports with it.
 *
 * Served by every node; read by `GET /net/clock` on the control API and by
 * `pl-node doctor` (src/cli/doctor/checks.ts).
 *
 * @example
 * await rpc.handle(timeProtocol(clock))
 * const samples = await measurePeerClocks(rpc, peers, { clock })
 * summarizeClockOffsets(samples) // { peers: 3, medianMs: 12, maxAbsMs: 40, ... }
 */
import { defineProtocol, type ProtocolDef, type Rpc } from './rpc.js'
import { systemClock, type Clock } from '../core/clock.js'
import { PlError } from '../core/errors.js'

export const TIME_PROTOCOL = '/pl/time/1.0.0'
/** peers asked at once by one measurement (the rest are left out) */
export const MAX_CLOCK_PEERS = 16
/** |offset| above which a peer's clock is reported as skewed: a tenth of the envelope window */
export const CLOCK_WARN_MS = 5_000

export interface TimeAnswer { now: number }

/** A peer answered /pl/time with something that is not `{now: <ms since epoch>}`. */
export class InvalidTimeAnswerError extends PlError {
  override name = 'InvalidTimeAnswerError'
}

export function timeProtocol (clock: Clock = systemClock): ProtocolDef<unknown, TimeAnswer> {
  return defineProtocol<unknown, TimeAnswer>({
    id: TIME_PROTOCOL,
    // the request carries nothing; anything large is not a time request
    maxRequestBytes: 64,
    maxResponseBytes: 256,
    maxInboundStreams: 8,
    timeouts: { dialMs: 5_000, firstByteMs: 5_000, totalMs: 10_000 },
    handler: async () => ({ status: 'OK', body: { now: clock.now() } })
  })
}

export interface PeerClock {
  peer: string
  /** the peer's clock minus ours, ms (positive: the peer is ahead) */
  offsetMs?: number
  /** the round trip of the measurement: the offset is good to ± half of it */
  rttMs?: number
  /** why this peer could not be measured */
  error?: string
}

/** Asks each of `peers` (at most MAX_CLOCK_PEERS, in parallel) for its time. Never throws: a failure is the peer's `error`. */
export async function measurePeerClocks (rpc: Rpc, peers: string[], options: { clock?: Clock, signal?: AbortSignal } = {}): Promise<PeerClock[]> {
  const clock = options.clock ?? systemClock
  const def = timeProtocol(clock)
  return await Promise.all(peers.slice(0, MAX_CLOCK_PEERS).map(async (peer): Promise<PeerClock> => {
    try {
      const sent = clock.now()
      const res = await rpc.request(peer, def, {}, { signal: options.signal })
      const received = clock.now()
      const now = res.body?.now
      if (res.status !== 'OK') return { peer, error: `${res.error?.name ?? res.status}: ${res.error?.message ?? ''}` }
      if (typeof now !== 'number' || !Number.isFinite(now) || now <= 0) throw new InvalidTimeAnswerError(`peer ${peer} answered /pl/time without a time`, { peer })
      return { peer, offsetMs: Math.round(now - (sent + received) / 2), rttMs: received - sent }
    } catch (err) {
      return { peer, error: `${(err as Error).name}: ${(err as Error).message}` }
    }
  }))
}

export interface ClockSummary {
  /** peers measured */
  peers: number
  /** median offset of the peers' clocks from ours, ms */
  medianMs?: number
  /** the largest |offset| seen, ms */
  maxAbsMs?: number
  /** peers whose |offset| is above CLOCK_WARN_MS */
  skewed: string[]
}

export function summarizeClockOffsets (samples: PeerClock[], warnMs = CLOCK_WARN_MS): ClockSummary {
  const measured = samples.filter((s): s is PeerClock & { offsetMs: number } => typeof s.offsetMs === 'number')
  if (measured.length === 0) return { peers: 0, skewed: [] }
  const sorted = measured.map(s => s.offsetMs).sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const medianMs = sorted.length % 2 === 1 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2)
  return {
    peers: measured.length,
    medianMs,
    maxAbsMs: Math.max(...sorted.map(Math.abs)),
    skewed: measured.filter(s => Math.abs(s.offsetMs) > warnMs).map(s => s.peer)
  }
}
