/**
 * The CFP→award stage of the scale bench (processes and in-process mesh
 * alike): the requester first connects to its candidates (those it is
 * connected to first, the others dialed with retries), then runs warm-up
 * rounds whose failures are ignored, then the measured rounds, a failed one
 * counted instead of ending the run. On a machine at load 40–60 a stream to
 * a starved provider may take more than the RPC's 5 s to open: without this
 * the first such round lost every figure of the size (docs/SCALE.md).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Candidate } from '../../src/negotiation/index.js'
import type { PlNode } from '../../src/node.js'
import { cfpAwardRig } from '../cfp-award.js'

export interface CfpStageResult {
  cfpMs: number[]
  pingMs: number[]
  /** measured rounds that failed (not every candidate bid, or the award was not acknowledged) */
  failedRounds: number
  /** candidates the rounds asked (connected before the first round) */
  candidates: number
}

/** dial attempts per candidate, and the bound of one */
const DIAL_TRIES = 3
const DIAL_TIMEOUT_MS = 30_000

/** Dials `c` until connected (a starved provider answers late, not never); false after DIAL_TRIES. */
export async function connectCandidate (node: PlNode, c: Candidate, signal: AbortSignal): Promise<boolean> {
  const peer = peerIdFromString(c.provider)
  // the ad's addresses, so that the dial does not wait for a DHT peer lookup
  const addrs = c.addrs ?? []
  if (addrs.length > 0) await node.libp2p.peerStore.merge(peer, { multiaddrs: addrs.map(a => multiaddr(a)) })
  for (let attempt = 0; attempt < DIAL_TRIES; attempt++) {
    if (node.libp2p.getConnections(peer).length > 0) return true
    signal.throwIfAborted()
    try {
      await node.libp2p.dial(peer, { signal: AbortSignal.any([signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)]) })
      return true
    } catch {
      await sleep(1_000, undefined, { signal })
    }
  }
  return node.libp2p.getConnections(peer).length > 0
}

/** `want` candidates out of `all` that `node` is connected to: those already connected first, then the others dialed. */
export async function connectedCandidates (node: PlNode, all: Candidate[], want: number, signal: AbortSignal): Promise<Candidate[]> {
  const isConnected = (c: Candidate): boolean => node.libp2p.getConnections(peerIdFromString(c.provider)).length > 0
  const ordered = [...all.filter(isConnected), ...all.filter(c => !isConnected(c))]
  const out: Candidate[] = []
  for (const c of ordered) {
    if (out.length >= want) break
    if (await connectCandidate(node, c, signal)) out.push(c)
  }
  return out
}

/**
 * `warm` unmeasured rounds, then `rounds` measured ones over `candidates`,
 * each followed by a libp2p ping to one candidate (the baseline). A round is
 * bounded by 30 s; a failed measured round is counted, not timed.
 */
export async function cfpRounds (node: PlNode, capability: string, candidates: Candidate[], rounds: number, warm: number, signal: AbortSignal): Promise<CfpStageResult> {
  const exchange = await cfpAwardRig(node, { capability, run: 'scale-bench', candidates, minBids: candidates.length, replyMs: 10_000 })
  const cfpMs: number[] = []
  const pingMs: number[] = []
  let failedRounds = 0
  for (let r = 0; r < rounds + warm; r++) {
    signal.throwIfAborted()
    const ts = performance.now()
    try {
      await exchange(`s${r}`, AbortSignal.any([signal, AbortSignal.timeout(30_000)]))
    } catch {
      signal.throwIfAborted()
      if (r >= warm) failedRounds++
      continue
    }
    const te = performance.now()
    try {
      await node.libp2p.services.ping.ping(peerIdFromString(candidates[r % candidates.length].provider), { signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]) })
    } catch {
      signal.throwIfAborted()
      continue
    }
    if (r >= warm) { cfpMs.push(te - ts); pingMs.push(performance.now() - te) }
  }
  return { cfpMs, pingMs, failedRounds, candidates: candidates.length }
}
