/**
 * The two request-response protocols of the contract net, as data.
 *
 * /pl/negotiate/1.0.0 — request `{envelope}`:
 *   CallForProposal.v1 → OK `{envelope: Bid.v1 | Decline.v1}`
 *   Award.v1           → OK `{award: <award id>, accepted: true}` | REJECTED (typed error)
 *   BidRelease.v1      → OK `{released: <bids dropped>}` (the requester will not award them)
 *   any request may carry `releases: [BidRelease.v1]` (≤ 16) and `plain_releases: [BidRelease.v1 body]` (≤ 16), handled first
 *   (a provider that takes `plain_releases` says so in its answer to a call: `plain_releases: true`)
 *   Bid.v1 | Decline.v1 (a provider answering an open call) → OK `{received: true}` | REJECTED
 * /pl/exec/1.0.0 — request `{award: <the Award.v1 envelope>, input?: <bytes>, accept?: true}` (`accept`: the award was not
 *   sent on /pl/negotiate; the provider verifies and accepts it as there, then runs it):
 *   PROGRESS `{type: 'pl:exec:accepted' | 'pl:exec:input' | 'pl:step:progress', ...}` frames, then
 *   OK `{result: Result.v1 envelope (with the provider-signed receipt), output?: <dag-cbor bytes>, inner?: <SignedReceipt.v1 of a composite's inner run>[]}`
 */
import { defineProtocol, type ProtocolDef, type HandlerContext, type RpcResponse } from '../net/index.js'
import type { Envelope } from '../core/index.js'
import { DEFAULT_MAX_OUTPUT_BYTES, EXEC_PROTOCOL, NEGOTIATE_PROTOCOL } from './constants.js'
import type { Award, BidRelease, Result } from './types.js'

/**
 * `releases`: BidRelease.v1 envelopes of the same requester riding with the
 * call (at most MAX_CARRIED_RELEASES), handled before `envelope`; a bad one
 * is refused and counted on its own, the call is answered as usual.
 */
export interface NegotiateRequest {
  envelope: Envelope<any>
  releases?: Array<Envelope<BidRelease>>
  /**
   * BidRelease.v1 bodies without an envelope, released by the caller (the
   * Noise-authenticated peer of the stream), for a provider that said it
   * takes them (`plain_releases: true` in its answer to a call). A release
   * is not evidence of anything (it only frees capacity the caller's own
   * bids hold) and is idempotent: it needs no signature of its own.
   */
  plain_releases?: BidRelease[]
}
/** BidRelease.v1 envelopes (and bodies) one /pl/negotiate request may carry beside its envelope */
export const MAX_CARRIED_RELEASES = 16
/** `plain_releases: true` beside a Bid or Decline: this provider takes `plain_releases` */
export type NegotiateResponse = { envelope: Envelope<any>, plain_releases?: true } | { award: string, accepted: true } | { received: true } | { released: number }

/** `accept: true`: the award comes with this call instead of on /pl/negotiate before it (verified and accepted first) */
export interface ExecRequest { award: Envelope<Award>, input?: Uint8Array, accept?: true }
/** `inner`: the receipts of a composite step's inner run (and of composites nested in it), which the receipt's `inner` names */
export interface ExecResponse { result: Envelope<Result>, output?: Uint8Array, inner?: unknown[] }

export type ExecProgress =
  | { type: 'pl:exec:accepted', award: string }
  /** sent after a fetched input only (`source: 'inline'` is kept for older providers, which sent it for inline input too) */
  | { type: 'pl:exec:input', cid: string, source: 'inline' | 'fetched', bytes: number }
  | { type: 'pl:step:progress', n: number, total?: number, message?: string }

type Handler<Req, Res> = (request: Req, ctx: HandlerContext) => Promise<RpcResponse<Res>>

export function negotiateProtocol (handler?: Handler<NegotiateRequest, NegotiateResponse>): ProtocolDef<NegotiateRequest, NegotiateResponse> {
  return defineProtocol<NegotiateRequest, NegotiateResponse>({
    id: NEGOTIATE_PROTOCOL,
    maxRequestBytes: 256 * 1024,
    maxResponseBytes: 256 * 1024,
    timeouts: { dialMs: 5_000, firstByteMs: 10_000, totalMs: 15_000 },
    handler
  })
}

/** `maxInputBytes`: the largest inline input accepted; outputs up to DEFAULT_MAX_OUTPUT_BYTES. */
export function execProtocol (handler?: Handler<ExecRequest, ExecResponse>, maxInputBytes = 4 * 1024 * 1024): ProtocolDef<ExecRequest, ExecResponse> {
  return defineProtocol<ExecRequest, ExecResponse>({
    id: EXEC_PROTOCOL,
    maxRequestBytes: maxInputBytes + 256 * 1024,
    maxResponseBytes: DEFAULT_MAX_OUTPUT_BYTES + 256 * 1024,
    // the handler side caps a call at 10 minutes; requesters pass the step's own budget per call
    timeouts: { dialMs: 5_000, firstByteMs: 10_000, totalMs: 10 * 60_000 },
    handler
  })
}
