/**
 * Request-reply of the RPC protocols over NATS (an RpcTransport, see
 * src/net/rpc.ts). A call is one NATS message on `<prefix>.<peer>.<name>`:
 * the same length-prefixed dag-cbor request frame as on a libp2p stream,
 * with the caller proof in its headers (caller.ts) and a per-call inbox as
 * its reply subject. The responder publishes the response frames (PROGRESS
 * frames, then the final one) to the inbox as one byte stream, cut into
 * messages of at most the server's max_payload; the caller reads them with
 * the same FrameDecoder and size limit as a libp2p stream. Handlers are the
 * node's own (`Rpc.served`), run by the same `runHandler`, so envelopes are
 * verified, replay-checked, limited and counted exactly as on libp2p.
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import type { Identity, Metrics, ReplayGuard } from '../../core/index.js'
import type { Logger } from '../../core/logger.js'
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js'
import { encodeFrame, FrameDecoder, badFrameResponse, runHandler, type ProtocolDef, type Rpc, type RpcResponse, type RpcStatus, type RpcTransport, type TransportRequestOptions } from '../../net/index.js'
import { FrameTooLargeError, RpcAbortedError, RpcDialError, RpcStreamError, RpcTimeoutError } from '../../net/errors.js'
import { signCall, verifyCall } from './caller.js'
import { callSubject, subjectProtocol } from './subjects.js'
import { InvalidNatsCallError, NatsBusyError, UnknownNatsProtocolError } from './errors.js'

export interface NatsCallsComponents {
  identity: Identity
  rpc: Rpc
  replay: ReplayGuard
  metrics: Metrics
  logger: Logger
  clock?: Clock
}

export interface NatsCallsInit {
  prefix: string
  maxInFlight: number
  maxMessageBytes: number
  skewMs: number
  /** the live connection, or undefined while there is none */
  connection: () => NatsConnection | undefined
  /** whether the connection is up now (not reconnecting) */
  connected: () => boolean
  /** `peer` answered or called: it is reachable on NATS */
  heard: (peer: string) => void
  reaches: (peer: string) => boolean
}

function isResponse (v: unknown): v is RpcResponse {
  return v != null && typeof v === 'object' && typeof (v as RpcResponse).status === 'string'
}

export class NatsCalls implements RpcTransport {
  readonly name = 'nats'
  private sub?: Subscription
  private inFlight = 0
  private shutdown = new AbortController()
  private readonly clock: Clock

  constructor (private readonly c: NatsCallsComponents, private readonly init: NatsCallsInit) {
    this.clock = c.clock ?? systemClock
  }

  reaches (peer: string): boolean {
    return this.init.reaches(peer)
  }

  /** Serves this node's protocols on `<prefix>.<self>.*` of `nc` (called on every new connection object). */
  listen (nc: NatsConnection): void {
    if (this.shutdown.signal.aborted) this.shutdown = new AbortController()
    this.sub = nc.subscribe(`${this.init.prefix}.${this.c.identity.id}.*`, {
      callback: (err, msg) => {
        if (err != null) return
        this.serve(msg).catch((e: Error) => { this.c.logger.debug({ err: e.message }, 'nats call failed') })
      }
    })
  }

  stop (): void {
    this.shutdown.abort()
    this.sub?.unsubscribe()
    this.sub = undefined
  }

  private maxChunk (nc: NatsConnection): number {
    return Math.max(1024, Math.min(this.init.maxMessageBytes, nc.info?.max_payload ?? this.init.maxMessageBytes) - 256)
  }

  /** Publishes `bytes` to `subject` as one stream, in messages no larger than the server takes. */
  private publishStream (nc: NatsConnection, subject: string, bytes: Uint8Array): void {
    const chunk = this.maxChunk(nc)
    for (let at = 0; at < bytes.byteLength; at += chunk) nc.publish(subject, bytes.subarray(at, Math.min(bytes.byteLength, at + chunk)))
  }

  // ------------------------------------------------------------------ responder

  private async serve (msg: Msg): Promise<void> {
    const nc = this.init.connection()
    const reply = msg.reply
    if (nc == null) return
    const id = subjectProtocol(msg.subject)
    const served = this.c.rpc.served(id)
    const answer = (res: RpcResponse, max: number): void => {
      if (reply != null && reply !== '') this.publishStream(nc, reply, encodeFrame(res, max))
    }
    const refuse = (err: Error, status: RpcStatus = 'REJECTED'): void => {
      this.c.metrics.reject('nats', err.name)
      this.c.logger.debug({ subject: msg.subject, err: err.message }, 'nats call refused')
      answer({ status, error: { name: err.name, message: err.message } }, 64 * 1024)
    }
    if (reply == null || reply === '') { refuse(new InvalidNatsCallError(`a call on ${msg.subject} has no reply subject`)); return }
    if (served == null) { refuse(new UnknownNatsProtocolError(`this node serves no ${id}`, { protocol: id }), 'NOT_FOUND'); return }
    const { def, handler } = served
    let status: RpcStatus = 'ERROR'
    if (this.inFlight >= this.init.maxInFlight) {
      refuse(new NatsBusyError(`${this.inFlight} NATS calls in flight, the limit is ${this.init.maxInFlight}`, { max: this.init.maxInFlight }), 'BUSY')
      this.c.metrics.rpc.inc({ protocol: id, direction: 'in', status: 'BUSY' })
      return
    }
    this.inFlight++
    const total = new AbortController()
    const timer = this.clock.setTimeout(() => { total.abort(new RpcTimeoutError(`${def.id} handler timed out`)) }, def.timeouts.totalMs)
    const signal = AbortSignal.any([this.shutdown.signal, total.signal])
    try {
      let peer: string
      try {
        peer = await verifyCall(msg.subject, msg.data, msg.headers, { replay: this.c.replay, skewMs: this.init.skewMs, now: this.clock.now() })
      } catch (err) {
        status = 'REJECTED'
        refuse(err as Error)
        return
      }
      this.init.heard(peer)
      let request: unknown
      try {
        request = this.decodeRequest(msg.data, def.maxRequestBytes)
      } catch (err) {
        const bad = badFrameResponse(err, def.id, peer, this.c)
        status = bad.status
        answer(bad, def.maxResponseBytes)
        return
      }
      const response = await runHandler(def, handler, request, {
        peer,
        transport: 'nats',
        signal,
        progress: async (body) => { if (!signal.aborted) this.publishStream(nc, reply, encodeFrame({ status: 'PROGRESS', body }, def.maxResponseBytes)) }
      }, this.c)
      status = response.status
      if (signal.aborted) return
      try {
        answer(response, def.maxResponseBytes)
      } catch (err) {
        status = 'ERROR'
        answer({ status, error: { name: (err as Error).name, message: (err as Error).message } }, 64 * 1024)
      }
    } finally {
      this.inFlight--
      this.clock.clearTimeout(timer)
      this.c.metrics.rpc.inc({ protocol: def.id, direction: 'in', status })
    }
  }

  /** The one request frame of a call message (a message holds exactly one frame, within the protocol's limit). */
  private decodeRequest (data: Uint8Array, maxBytes: number): unknown {
    const decoder = new FrameDecoder(maxBytes)
    decoder.push(data)
    const frame = decoder.next()
    if (frame == null) { decoder.end(); throw new InvalidNatsCallError('empty call message') }
    if (decoder.pending > 0) throw new InvalidNatsCallError(`a call message holds one frame; ${decoder.pending} bytes follow it`)
    return frame.value
  }

  // ------------------------------------------------------------------ requester

  async request (peer: string, def: ProtocolDef<any, any>, frame: Uint8Array, o: TransportRequestOptions): Promise<RpcResponse> {
    const nc = this.init.connection()
    if (nc == null || !this.init.connected()) throw new RpcDialError(`cannot call ${def.id} on ${peer} over NATS: not connected to the NATS server`, { peer, transport: 'nats' })
    const max = nc.info?.max_payload
    if (max != null && frame.byteLength > max) throw new FrameTooLargeError(`${def.id} request of ${frame.byteLength} bytes is over the NATS server's max_payload of ${max}`, { size: frame.byteLength, max })
    const subject = callSubject(this.init.prefix, peer, def.id)
    const inbox = createInbox()
    const decoder = new FrameDecoder(def.maxResponseBytes)
    const signal = AbortSignal.any([o.signal, this.shutdown.signal])
    return await new Promise<RpcResponse>((resolve, reject) => {
      let firstByte: TimerHandle | undefined
      let settled = false
      const finish = (err: Error | undefined, res?: RpcResponse): void => {
        if (settled) return
        settled = true
        this.clock.clearTimeout(firstByte)
        this.clock.clearTimeout(total)
        signal.removeEventListener('abort', onAbort)
        sub.unsubscribe()
        if (err != null) reject(err)
        else resolve(res as RpcResponse)
      }
      const timedOut = (phase: string, ms: number): void => {
        finish(new RpcTimeoutError(`${def.id} request to ${peer} over NATS timed out (${phase} limit: ${ms} ms)`, { peer, phase, transport: 'nats' }))
      }
      const onAbort = (): void => {
        finish(o.callerAborted() ? new RpcAbortedError(`${def.id} request to ${peer} aborted`) : new RpcTimeoutError(`${def.id} request to ${peer} over NATS: shutdown`, { peer, phase: 'shutdown' }))
      }
      const total = this.clock.setTimeout(() => { timedOut('total', o.timeouts.totalMs) }, o.timeouts.totalMs)
      firstByte = this.clock.setTimeout(() => { timedOut('first-byte', o.timeouts.firstByteMs) }, o.timeouts.firstByteMs)
      const sub = nc.subscribe(inbox, {
        callback: (err, msg) => {
          if (err != null) { finish(new RpcStreamError(`${def.id} reply from ${peer} over NATS failed: ${err.message}`, { peer })); return }
          this.clock.clearTimeout(firstByte)
          if (msg.headers?.code === 503) { finish(new RpcDialError(`nobody serves ${subject} on NATS`, { peer, transport: 'nats' })); return }
          try {
            decoder.push(msg.data)
            for (let f = decoder.next(); f != null; f = decoder.next()) {
              if (!isResponse(f.value)) throw new RpcStreamError(`${def.id} response from ${peer} is not a response frame`)
              if (f.value.status === 'PROGRESS') { o.onProgress?.(f.value.body); continue }
              this.init.heard(peer)
              finish(undefined, f.value)
              return
            }
          } catch (e) {
            finish(e as Error)
          }
        }
      })
      signal.addEventListener('abort', onAbort, { once: true })
      if (signal.aborted) { onAbort(); return }
      try {
        nc.publish(subject, frame, { reply: inbox, headers: signCall(this.c.identity, subject, frame, this.clock.now()) })
      } catch (err) {
        finish(new RpcDialError(`cannot publish ${def.id} to ${peer} over NATS: ${(err as Error).message}`, { peer, transport: 'nats' }))
      }
    })
  }
}
