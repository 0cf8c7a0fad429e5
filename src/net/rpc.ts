/**
 * Framed request-response over libp2p streams. A protocol is data: id, size
 * limits, timeouts, handler. The requester sends one frame; the responder
 * answers with zero or more PROGRESS frames and one final frame whose status
 * says what happened (OK / NOT_FOUND / REJECTED / BUSY / ERROR) — never a bare
 * stream reset.
 *
 * @example
 * const echo = defineProtocol({ id: '/pl/echo/1.0.0', handler: async (req) => ({ status: 'OK', body: req }) })
 * await rpc.handle(echo)
 * const res = await rpc.request(peerId, echo, { hi: 1 })
 */
import type { Libp2p, Stream, Connection, PeerId, StreamCloseEvent } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { encodeFrame, FrameDecoder } from './frames.js'
import { RpcTimeoutError, RpcDialError, RpcStreamError, RpcStatusError, RpcAbortedError, TruncatedFrameError } from './errors.js'
import { errorToData, type ErrorData, PlError } from '../core/errors.js'
import type { Metrics } from '../core/metrics.js'
import type { Logger } from '../core/logger.js'
import { systemClock, timeoutSignal, type Clock, type TimerHandle } from '../core/clock.js'

export type RpcStatus = 'OK' | 'PROGRESS' | 'NOT_FOUND' | 'REJECTED' | 'BUSY' | 'ERROR'

export interface RpcResponse<B = unknown> {
  status: RpcStatus
  body?: B
  error?: ErrorData
}

export interface RpcTimeouts {
  /** opening the connection and negotiating the protocol @default 5000 */
  dialMs: number
  /** from sending the request to the first response byte @default 10000 */
  firstByteMs: number
  /** the whole call @default 30000 */
  totalMs: number
}

export interface HandlerContext {
  /** the authenticated caller: the Noise-authenticated remote peer on libp2p, the signer of the call on NATS */
  peer: string
  /** the libp2p connection the request came on (absent on other transports) */
  connection?: Connection
  /** which transport carried the request @default 'libp2p' */
  transport?: string
  signal: AbortSignal
  /** sends a PROGRESS frame to the requester */
  progress: (body: unknown) => Promise<void>
}

export interface ProtocolDef<Req = unknown, Res = unknown> {
  id: string
  /** @default 1 MiB */
  maxRequestBytes: number
  /** @default 4 MiB */
  maxResponseBytes: number
  timeouts: RpcTimeouts
  /** @default 32 */
  maxInboundStreams: number
  /** @default 64 */
  maxOutboundStreams: number
  handler?: (request: Req, ctx: HandlerContext) => Promise<RpcResponse<Res>>
}

export const DEFAULT_TIMEOUTS: RpcTimeouts = { dialMs: 5_000, firstByteMs: 10_000, totalMs: 30_000 }

export function defineProtocol<Req = unknown, Res = unknown> (def: Partial<ProtocolDef<Req, Res>> & { id: string }): ProtocolDef<Req, Res> {
  return {
    maxRequestBytes: 1024 * 1024,
    maxResponseBytes: 4 * 1024 * 1024,
    maxInboundStreams: 32,
    maxOutboundStreams: 64,
    ...def,
    timeouts: { ...DEFAULT_TIMEOUTS, ...def.timeouts }
  }
}

export interface RequestOptions {
  signal?: AbortSignal
  onProgress?: (body: unknown) => void
  timeouts?: Partial<RpcTimeouts>
}

/** Options a transport gets for one outbound call: the combined abort signal and the call's timeouts. */
export interface TransportRequestOptions {
  signal: AbortSignal
  timeouts: RpcTimeouts
  onProgress?: (body: unknown) => void
  /** true when the caller's own signal aborted (not a timeout or shutdown) */
  callerAborted: () => boolean
}

/**
 * Another way to reach peers than a libp2p stream (the NATS binding,
 * src/bridges/nats). It carries the same request frame and answers with the
 * same response frames; `Rpc.request` uses it for peers it reaches while
 * libp2p has no connection to them, and when a libp2p dial fails.
 */
export interface RpcTransport {
  readonly name: string
  /** whether `peer` was heard from on this transport recently */
  reaches: (peer: string) => boolean
  /** sends one encoded request frame; resolves with the final response. Throws RpcDialError when nobody serves the peer there. */
  request: (peer: string, def: ProtocolDef<any, any>, frame: Uint8Array, options: TransportRequestOptions) => Promise<RpcResponse>
}

export interface RpcComponents {
  libp2p: Libp2p
  metrics?: Metrics
  logger?: Logger
  /** runs the dial, first-byte and total timeouts @default systemClock */
  clock?: Clock
}

/** Throws RpcStatusError unless the response is OK; returns its body. */
export function expectOk<B> (res: RpcResponse<B>, protocol: string): B {
  if (res.status === 'OK') return res.body as B
  const e = res.error
  throw new RpcStatusError(`${protocol} answered ${res.status}${e != null ? `: ${e.name}: ${e.message}` : ''}`, { status: res.status, remote: e }, res.status === 'BUSY' || e?.retryable === true)
}

async function send (stream: Stream, bytes: Uint8Array, signal: AbortSignal): Promise<void> {
  if (!stream.send(bytes)) await stream.onDrain({ signal })
}

/** Reads frames from `stream` until `stop(value)` says so; enforces the size limit as bytes arrive. */
async function readUntil (stream: Stream, maxBytes: number, stop: (value: unknown) => boolean, onFirstByte?: () => void): Promise<unknown> {
  const decoder = new FrameDecoder(maxBytes)
  let first = true
  for await (const chunk of stream) {
    if (first) { first = false; onFirstByte?.() }
    decoder.push(chunk)
    for (let f = decoder.next(); f != null; f = decoder.next()) {
      if (stop(f.value)) return f.value
    }
  }
  decoder.end()
  throw new TruncatedFrameError('stream closed before the final frame')
}

/** The answer to a request whose frame could not be read: REJECTED, counted as an rpc rejection (every transport). */
export function badFrameResponse (err: unknown, protocol: string, peer: string, c: { metrics?: Metrics, logger?: Logger }): RpcResponse {
  c.metrics?.reject('rpc', (err as Error).name)
  c.logger?.debug({ protocol, peer, err: (err as Error).message }, 'bad request frame')
  return { status: 'REJECTED', error: { name: (err as Error).name, message: (err as Error).message } }
}

/** Runs a protocol's handler on one decoded request; a thrown PlError becomes REJECTED (counted), anything else ERROR (every transport). */
export async function runHandler<Req, Res> (def: ProtocolDef<Req, Res>, handler: NonNullable<ProtocolDef<Req, Res>['handler']>, request: unknown, ctx: HandlerContext, c: { metrics?: Metrics, logger?: Logger }): Promise<RpcResponse<Res>> {
  try {
    return await handler(request as Req, ctx)
  } catch (err) {
    const data = errorToData(err)
    delete data.stack
    const response: RpcResponse<Res> = { status: err instanceof PlError && !(err instanceof RpcStreamError) ? 'REJECTED' : 'ERROR', error: data }
    if (response.status === 'REJECTED') c.metrics?.reject(def.id, data.name)
    else c.logger?.warn({ protocol: def.id, peer: ctx.peer, err: data }, 'handler failed')
    return response
  }
}

function isResponse (v: unknown): v is RpcResponse {
  return v != null && typeof v === 'object' && typeof (v as RpcResponse).status === 'string'
}

export class Rpc {
  private readonly shutdown = new AbortController()
  private readonly handled = new Set<string>()
  /** handlers by protocol id, for transports other than libp2p */
  private readonly handlers = new Map<string, { def: ProtocolDef<any, any>, handler: NonNullable<ProtocolDef<any, any>['handler']> }>()
  private readonly transports: RpcTransport[] = []
  private readonly clock: Clock
  /** timeouts of calls in flight, cleared by stop() so that no timer outlives the node */
  private readonly timeouts = new Set<() => void>()

  constructor (private readonly components: RpcComponents) {
    this.clock = components.clock ?? systemClock
  }

  private timeout (ms: number): { signal: AbortSignal, clear: () => void } {
    const t = timeoutSignal(this.clock, ms)
    const clear = (): void => { t.clear(); this.timeouts.delete(clear) }
    this.timeouts.add(clear)
    return { signal: t.signal, clear }
  }

  /** Registers the protocol's handler with libp2p. */
  async handle<Req, Res> (def: ProtocolDef<Req, Res>): Promise<void> {
    if (def.handler == null) throw new TypeError(`protocol ${def.id} has no handler`)
    const handler = def.handler
    await this.components.libp2p.handle(def.id, (stream, connection) => {
      this.serve(def, handler, stream, connection).catch(() => {})
    }, { maxInboundStreams: def.maxInboundStreams, maxOutboundStreams: def.maxOutboundStreams, runOnLimitedConnection: true })
    this.handled.add(def.id)
    this.handlers.set(def.id, { def, handler })
  }

  /**
   * The protocol and handler serving `id`, for another transport to run
   * requests with (`runHandler`); undefined once its service removed it from
   * libp2p (services stop by `libp2p.unhandle`, so libp2p is the one record).
   */
  served (id: string): { def: ProtocolDef<any, any>, handler: NonNullable<ProtocolDef<any, any>['handler']> } | undefined {
    const h = this.handlers.get(id)
    if (h == null) return undefined
    if (!this.components.libp2p.getProtocols().includes(id)) {
      this.handlers.delete(id)
      return undefined
    }
    return h
  }

  /** Adds a transport `request` may use (see RpcTransport). */
  attach (transport: RpcTransport): void {
    if (!this.transports.includes(transport)) this.transports.push(transport)
  }

  detach (transport: RpcTransport): void {
    const i = this.transports.indexOf(transport)
    if (i >= 0) this.transports.splice(i, 1)
  }

  private async serve<Req, Res> (def: ProtocolDef<Req, Res>, handler: NonNullable<ProtocolDef<Req, Res>['handler']>, stream: Stream, connection: Connection): Promise<void> {
    const { metrics } = this.components
    const total = this.timeout(def.timeouts.totalMs)
    // the caller reset the stream (it cancelled, or its node died): the handler's work is for nobody now
    const gone = new AbortController()
    const onClose = (e: Event): void => { if ((e as StreamCloseEvent).error != null && (e as StreamCloseEvent).local !== true) gone.abort(new RpcAbortedError(`${def.id}: the caller reset the stream`)) }
    stream.addEventListener('close', onClose)
    const signal = AbortSignal.any([this.shutdown.signal, total.signal, gone.signal])
    const onAbort = (): void => { stream.abort(new RpcTimeoutError(`${def.id} handler timed out`)) }
    signal.addEventListener('abort', onAbort, { once: true })
    const peer = connection.remotePeer.toString()
    let status: RpcStatus = 'ERROR'
    try {
      let request: unknown
      try {
        request = await readUntil(stream, def.maxRequestBytes, () => true)
      } catch (err) {
        // Bad framing from the peer: answer with a status if the stream still takes writes, count it, move on.
        const bad = badFrameResponse(err, def.id, peer, this.components)
        status = bad.status
        await send(stream, encodeFrame(bad, def.maxResponseBytes), signal).catch(() => {})
        await stream.close({ signal }).catch(() => {})
        return
      }
      const response = await runHandler(def, handler, request, {
        peer,
        connection,
        transport: 'libp2p',
        signal,
        progress: async (body) => { await send(stream, encodeFrame({ status: 'PROGRESS', body }, def.maxResponseBytes), signal) }
      }, this.components)
      status = response.status
      await send(stream, encodeFrame(response, def.maxResponseBytes), signal)
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    } finally {
      total.clear()
      signal.removeEventListener('abort', onAbort)
      stream.removeEventListener('close', onClose)
      metrics?.rpc.inc({ protocol: def.id, direction: 'in', status })
    }
  }

  /**
   * Sends `request` to `peer` and returns the final response (any status).
   * An open libp2p connection is used first; a peer without one that an
   * attached transport reaches is called there; otherwise libp2p dials, and
   * when the dial fails the attached transports get a try.
   */
  async request<Req, Res> (peer: string | PeerId | Multiaddr, def: ProtocolDef<Req, Res>, request: Req, options: RequestOptions = {}): Promise<RpcResponse<Res>> {
    const frame = encodeFrame(request, def.maxRequestBytes)
    const id = typeof peer === 'string' ? peer : 'getComponents' in peer ? undefined : peer.toString()
    if (id == null || this.transports.length === 0) return await this.requestLibp2p(peer, def, frame, options)
    const connected = this.components.libp2p.getConnections(typeof peer === 'string' ? peerIdFromString(peer) : peer as PeerId).length > 0
    const preferred = connected ? undefined : this.transports.find(tr => tr.reaches(id))
    if (preferred != null) return await this.requestVia(preferred, id, def, frame, options)
    try {
      return await this.requestLibp2p(peer, def, frame, options)
    } catch (err) {
      if (!(err instanceof RpcDialError)) throw err
      for (const tr of this.transports) {
        try {
          return await this.requestVia(tr, id, def, frame, options)
        } catch (err2) {
          if (!(err2 instanceof RpcDialError)) throw err2
        }
      }
      throw err
    }
  }

  /** One call over an attached transport, with the same timeouts, abort and counting as over libp2p. */
  private async requestVia<Res> (tr: RpcTransport, peer: string, def: ProtocolDef<any, Res>, frame: Uint8Array, options: RequestOptions): Promise<RpcResponse<Res>> {
    const t = { ...def.timeouts, ...options.timeouts }
    const signals = [this.shutdown.signal]
    if (options.signal != null) signals.push(options.signal)
    const started = performance.now()
    try {
      const res = await tr.request(peer, def, frame, { signal: AbortSignal.any(signals), timeouts: t, onProgress: options.onProgress, callerAborted: () => options.signal?.aborted === true })
      this.components.metrics?.rpc.inc({ protocol: def.id, direction: 'out', status: res.status })
      this.components.metrics?.rpcDuration.observe({ protocol: def.id }, (performance.now() - started) / 1000)
      return res as RpcResponse<Res>
    } catch (err) {
      const name = (err as Error).name
      this.components.metrics?.rpc.inc({ protocol: def.id, direction: 'out', status: name === 'RpcDialError' ? 'DIAL_FAILED' : name === 'RpcTimeoutError' ? 'TIMEOUT' : 'FAILED' })
      throw err
    }
  }

  private async requestLibp2p<Res> (peer: string | PeerId | Multiaddr, def: ProtocolDef<any, Res>, frame: Uint8Array, options: RequestOptions): Promise<RpcResponse<Res>> {
    const t = { ...def.timeouts, ...options.timeouts }
    const target = typeof peer === 'string' ? peerIdFromString(peer) : peer
    const totalTimeout = this.timeout(t.totalMs)
    const total = totalTimeout.signal
    const signals = [this.shutdown.signal, total]
    if (options.signal != null) signals.push(options.signal)
    const signal = AbortSignal.any(signals)
    const started = performance.now()
    let stream: Stream
    const dialTimeout = this.timeout(t.dialMs)
    try {
      // runOnLimitedConnection: a provider behind NAT is reached through a circuit relay (docs/TESTNET.md)
      stream = await this.components.libp2p.dialProtocol(target, def.id, { signal: AbortSignal.any([signal, dialTimeout.signal]), runOnLimitedConnection: true })
    } catch (err) {
      totalTimeout.clear()
      this.components.metrics?.rpc.inc({ protocol: def.id, direction: 'out', status: 'DIAL_FAILED' })
      if (options.signal?.aborted === true) throw new RpcAbortedError(`${def.id} request aborted`)
      throw new RpcDialError(`cannot open ${def.id} to ${target.toString()}: ${(err as Error).message}`, { peer: target.toString() })
    } finally {
      dialTimeout.clear()
    }
    let firstByteTimer: TimerHandle | undefined
    let timedOut: string | undefined
    const onAbort = (): void => {
      timedOut ??= options.signal?.aborted === true ? 'aborted' : total.aborted ? 'total' : 'shutdown'
      stream.abort(new RpcTimeoutError(`${def.id} ${timedOut}`))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      await send(stream, frame, signal)
      await stream.close({ signal })
      firstByteTimer = this.clock.setTimeout(() => { timedOut = 'first-byte'; stream.abort(new RpcTimeoutError(`${def.id} no first byte`)) }, t.firstByteMs)
      const final = await readUntil(stream, def.maxResponseBytes, (v) => {
        if (!isResponse(v)) return true
        if (v.status !== 'PROGRESS') return true
        options.onProgress?.(v.body)
        return false
      }, () => { this.clock.clearTimeout(firstByteTimer) })
      if (!isResponse(final)) throw new RpcStreamError(`${def.id} response is not a response frame`)
      this.components.metrics?.rpc.inc({ protocol: def.id, direction: 'out', status: final.status })
      this.components.metrics?.rpcDuration.observe({ protocol: def.id }, (performance.now() - started) / 1000)
      return final as RpcResponse<Res>
    } catch (err) {
      this.components.metrics?.rpc.inc({ protocol: def.id, direction: 'out', status: timedOut != null ? 'TIMEOUT' : 'FAILED' })
      if (timedOut === 'aborted') throw new RpcAbortedError(`${def.id} request to ${target.toString()} aborted`)
      if (timedOut != null) throw new RpcTimeoutError(`${def.id} request to ${target.toString()} timed out (${timedOut} limit: ${timedOut === 'first-byte' ? t.firstByteMs : t.totalMs} ms)`, { peer: target.toString(), phase: timedOut })
      if (err instanceof PlError) throw err
      throw new RpcStreamError(`${def.id} request to ${target.toString()} failed: ${(err as Error).message}`, { peer: target.toString() })
    } finally {
      this.clock.clearTimeout(firstByteTimer)
      totalTimeout.clear()
      signal.removeEventListener('abort', onAbort)
      if (stream.status === 'open') stream.abort(new RpcStreamError('request finished'))
    }
  }

  async stop (): Promise<void> {
    this.shutdown.abort()
    for (const clear of [...this.timeouts]) clear()
    for (const id of this.handled) await this.components.libp2p.unhandle(id).catch(() => {})
    this.handled.clear()
    this.handlers.clear()
  }
}
