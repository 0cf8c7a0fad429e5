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
import { encodeFrame, FrameReader, END_OF_STREAM } from './frames.js'
import { RpcTimeoutError, RpcDialError, RpcStreamError, RpcStatusError, RpcAbortedError, TruncatedFrameError, FrameTooLargeError, MalformedFrameError, UnsolicitedFrameError, StreamResetError } from './errors.js'
import { errorToData, type ErrorData, PlError } from '../core/errors.js'
import type { Metrics } from '../core/index.js'
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

/** How long a responder keeps a stream with no request on it open @default 30 s */
export const DEFAULT_IDLE_MS = 30_000
/** After closing an idle stream, how long the responder waits for the requester to close its side before resetting it */
const IDLE_LINGER_MS = 5_000
/** Idle streams a requester keeps per peer and protocol, at most a quarter of the protocol's inbound stream limit */
const MAX_IDLE_STREAMS = 8
/** Response frames a requester holds decoded and unread (progress frames arriving faster than one tick) */
const MAX_QUEUED_RESPONSES = 4096

function maxIdleFor (def: ProtocolDef<any, any>): number {
  return Math.max(1, Math.min(MAX_IDLE_STREAMS, Math.floor(def.maxInboundStreams / 4)))
}

function isFramingError (err: unknown): boolean {
  return err instanceof FrameTooLargeError || err instanceof MalformedFrameError || err instanceof TruncatedFrameError || err instanceof UnsolicitedFrameError
}

/** An outbound stream with its frame reader, reusable for the next call to the same peer and protocol. */
interface PooledStream {
  stream: Stream
  reader: FrameReader
  /** peer + protocol id */
  key: string
  /** true once it served a call before the current one */
  reused: boolean
  maxIdle: number
}

function usable (c: PooledStream): boolean {
  return c.stream.status === 'open' && c.stream.writeStatus === 'writable' && c.stream.remoteWriteStatus === 'writable' && !c.reader.done
}

/**
 * Idle outbound streams by peer and protocol. A stream is here only between
 * calls; a frame arriving on an idle stream is unsolicited (counted, the
 * stream reset); a stream the peer closes leaves the pool. Bounded by
 * connections × protocols × `maxIdleFor(def)`.
 */
class StreamPool {
  private readonly idle = new Map<string, PooledStream[]>()
  /** calls in flight by peer + protocol, and the calls waiting for one of them to finish */
  private readonly inflight = new Map<string, { n: number, waiting: Array<() => void> }>()

  /**
   * Back-pressure: waits until fewer than `limit` calls to this peer and
   * protocol are in flight (the responder's inbound stream limit), so a burst
   * queues here instead of being reset by the responder. Throws the signal's
   * reason if it aborts while waiting.
   */
  async acquire (key: string, limit: number, signal: AbortSignal): Promise<void> {
    let slot = this.inflight.get(key)
    if (slot == null) { slot = { n: 0, waiting: [] }; this.inflight.set(key, slot) }
    if (slot.n < limit) { slot.n++; return }
    const s = slot
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = s.waiting.indexOf(go)
        if (i >= 0) s.waiting.splice(i, 1)
        reject(signal.reason)
      }
      const go = (): void => { signal.removeEventListener('abort', onAbort); resolve() }
      if (signal.aborted) { reject(signal.reason); return }
      signal.addEventListener('abort', onAbort, { once: true })
      s.waiting.push(go)
    })
  }

  /** Ends a call started with `acquire`: its slot goes to the next waiting call. */
  release (key: string): void {
    const slot = this.inflight.get(key)
    if (slot == null) return
    const next = slot.waiting.shift()
    if (next != null) { next(); return }
    slot.n--
    if (slot.n <= 0) this.inflight.delete(key)
  }

  take (key: string): PooledStream | undefined {
    const list = this.idle.get(key)
    while (list != null && list.length > 0) {
      const c = list.pop() as PooledStream
      if (list.length === 0) this.idle.delete(key)
      c.reader.onData = undefined
      if (usable(c)) { c.reused = true; return c }
      if (c.stream.status === 'open') c.stream.abort(new RpcStreamError('stale pooled stream'))
    }
    return undefined
  }

  put (c: PooledStream, metrics?: Metrics): void {
    if (!usable(c)) {
      if (c.stream.status === 'open') c.stream.abort(new RpcStreamError('request finished'))
      return
    }
    let list = this.idle.get(c.key)
    if (list == null) { list = []; this.idle.set(c.key, list) }
    if (list.length >= c.maxIdle) {
      c.stream.close().catch((err: Error) => { c.stream.abort(err) })
      return
    }
    list.push(c)
    c.reader.onData = () => {
      metrics?.reject('rpc', 'UnsolicitedFrameError')
      this.remove(c)
      c.stream.abort(new UnsolicitedFrameError('peer sent a frame on an idle stream'))
    }
    c.reader.onEnd = () => {
      // the responder closed it (its idle limit): close our side too so the stream is released at both ends
      this.remove(c)
      if (c.stream.status === 'open') c.stream.close().catch((err: Error) => { c.stream.abort(err) })
    }
  }

  private remove (c: PooledStream): void {
    const list = this.idle.get(c.key)
    if (list == null) return
    const i = list.indexOf(c)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) this.idle.delete(c.key)
  }

  /** idle streams held */
  get size (): number {
    let n = 0
    for (const list of this.idle.values()) n += list.length
    return n
  }

  closeAll (): void {
    for (const list of [...this.idle.values()]) {
      for (const c of [...list]) {
        c.reader.onData = undefined
        c.stream.close().catch((err: Error) => { c.stream.abort(err) })
      }
    }
    this.idle.clear()
  }
}

/**
 * An AbortSignal that aborts when any of `parents` does, like
 * `AbortSignal.any` but released by `dispose()`: `AbortSignal.any` on the
 * node-lifetime shutdown signal costs tens of µs per call here (its
 * dependents pile up until GC), which was a good part of a call on an open
 * stream.
 */
function linkedSignal (parents: AbortSignal[]): { signal: AbortSignal, dispose: () => void } {
  const controller = new AbortController()
  const onAbort = (evt: Event): void => { controller.abort((evt.target as AbortSignal).reason) }
  for (const p of parents) {
    if (p.aborted) { controller.abort(p.reason); return { signal: controller.signal, dispose: () => {} } }
  }
  for (const p of parents) p.addEventListener('abort', onAbort, { once: true })
  return { signal: controller.signal, dispose: () => { for (const p of parents) p.removeEventListener('abort', onAbort) } }
}

export interface RpcInit {
  /** a responder closes a stream that carried no request for this long @default 30 000 */
  idleMs?: number
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
  /** idle outbound streams, reused by the next call to the same peer and protocol */
  private readonly pool = new StreamPool()
  /** inbound streams being served (idle or mid-request), reset by stop() */
  private readonly serving = new Set<Stream>()
  private readonly idleMs: number

  constructor (private readonly components: RpcComponents, init: RpcInit = {}) {
    this.clock = components.clock ?? systemClock
    this.idleMs = init.idleMs ?? DEFAULT_IDLE_MS
  }

  /** idle outbound streams held for reuse (for tests and the node's status) */
  get idleStreams (): number {
    return this.pool.size
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

  /**
   * Serves requests on one inbound stream, one at a time, until the requester
   * closes its write side (a one-call requester closes right after its
   * request; a pooling one keeps the stream for its next call). An idle stream
   * is closed after `idleMs`; a request has the protocol's total timeout from
   * its first byte to its final frame.
   */
  private async serve<Req, Res> (def: ProtocolDef<Req, Res>, handler: NonNullable<ProtocolDef<Req, Res>['handler']>, stream: Stream, connection: Connection): Promise<void> {
    const { metrics } = this.components
    // one request read ahead at most: a requester waits for the final frame before it sends the next
    const reader = new FrameReader(stream, def.maxRequestBytes, 1)
    // the caller reset the stream (it cancelled, or its node died): the work of the request in hand is for nobody now
    const gone = new AbortController()
    const onClose = (e: Event): void => { if ((e as StreamCloseEvent).error != null && (e as StreamCloseEvent).local !== true) gone.abort(new RpcAbortedError(`${def.id}: the caller reset the stream`)) }
    stream.addEventListener('close', onClose)
    const peer = connection.remotePeer.toString()
    this.serving.add(stream)
    let total: { signal: AbortSignal, clear: () => void } | undefined
    let idle: { signal: AbortSignal, clear: () => void } | undefined
    let closing = false
    const onTotal = (): void => { stream.abort(new RpcTimeoutError(`${def.id} handler timed out`)) }
    const onIdle = (): void => {
      // Close our write side: the requester sees a clean end before any answer byte and retries elsewhere if it raced us with a request.
      closing = true
      idle = this.timeout(IDLE_LINGER_MS)
      idle.signal.addEventListener('abort', () => { stream.abort(new RpcTimeoutError(`${def.id} idle stream not closed by the peer`)) }, { once: true })
      stream.close().catch(() => {})
    }
    const armIdle = (): void => {
      idle = this.timeout(this.idleMs)
      idle.signal.addEventListener('abort', onIdle, { once: true })
    }
    const startRequest = (): void => {
      if (total != null || closing) return
      idle?.clear()
      idle = undefined
      total = this.timeout(def.timeouts.totalMs)
      total.signal.addEventListener('abort', onTotal, { once: true })
    }
    reader.onData = startRequest
    armIdle()
    try {
      for (;;) {
        let request: unknown
        try {
          request = await reader.next()
        } catch (err) {
          if (closing || !isFramingError(err)) return
          // Bad framing from the peer: answer with a status if the stream still takes writes, count it, close.
          const bad = badFrameResponse(err, def.id, peer, this.components)
          metrics?.rpc.inc({ protocol: def.id, direction: 'in', status: bad.status })
          if (stream.writeStatus === 'writable') {
            const signal = total != null ? AbortSignal.any([this.shutdown.signal, total.signal]) : this.shutdown.signal
            await send(stream, encodeFrame(bad, def.maxResponseBytes), signal).catch(() => {})
            await stream.close({ signal }).catch(() => {})
          }
          return
        }
        if (request === END_OF_STREAM) {
          if (stream.writeStatus === 'writable') await stream.close().catch(() => {})
          return
        }
        if (closing) continue // raced our idle close: the requester retries on a new stream
        startRequest()
        const req = total as { signal: AbortSignal, clear: () => void }
        const linked = linkedSignal([this.shutdown.signal, req.signal, gone.signal])
        const signal = linked.signal
        let status: RpcStatus = 'ERROR'
        try {
          const response = await runHandler(def, handler, request, {
            peer,
            connection,
            transport: 'libp2p',
            signal,
            progress: async (body) => { await send(stream, encodeFrame({ status: 'PROGRESS', body }, def.maxResponseBytes), signal) }
          }, this.components)
          status = response.status
          await send(stream, encodeFrame(response, def.maxResponseBytes), signal)
        } finally {
          linked.dispose()
          metrics?.rpc.inc({ protocol: def.id, direction: 'in', status })
        }
        req.clear()
        req.signal.removeEventListener('abort', onTotal)
        total = undefined
        const backlog = reader.backlog
        if (backlog.frames > 0 || backlog.bytes > 0) startRequest()
        else armIdle()
      }
    } catch (err) {
      stream.abort(err as Error)
    } finally {
      this.serving.delete(stream)
      total?.clear()
      idle?.clear()
      reader.onData = undefined
      stream.removeEventListener('close', onClose)
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
    // the peer's text once per call (base58 encoding a PeerId is ~10 µs); parsed only when a stream must be opened
    const peerText = typeof peer === 'string' ? peer : peer.toString()
    const totalTimeout = this.timeout(t.totalMs)
    const total = totalTimeout.signal
    const signals = [this.shutdown.signal, total]
    if (options.signal != null) signals.push(options.signal)
    const linked = linkedSignal(signals)
    const signal = linked.signal
    const started = performance.now()
    const key = `${peerText} ${def.id}`
    try {
      await this.pool.acquire(key, Math.min(def.maxInboundStreams, def.maxOutboundStreams), signal)
    } catch {
      totalTimeout.clear()
      linked.dispose()
      this.components.metrics?.rpc.inc({ protocol: def.id, direction: 'out', status: options.signal?.aborted === true ? 'FAILED' : 'TIMEOUT' })
      if (options.signal?.aborted === true) throw new RpcAbortedError(`${def.id} request to ${peerText} aborted`)
      throw new RpcTimeoutError(`${def.id} request to ${peerText} timed out (total limit: ${t.totalMs} ms, waiting for a free stream)`, { peer: peerText, phase: 'total' })
    }
    try {
      // A reused stream the responder closed as we sent (its idle close) ends before any answer byte: the request was not served, so it goes once more on a new stream.
      for (let attempt = 0; ; attempt++) {
        const conn = (attempt === 0 ? this.pool.take(key) : undefined) ?? await this.open(typeof peer === 'string' ? peerIdFromString(peer) : peer, key, def, t, signal, options)
        const outcome = await this.exchange(conn, def, frame, t, signal, total, options, peerText)
        if (outcome === 'stale' && attempt === 0) continue
        if (outcome === 'stale') {
          this.components.metrics?.rpc.inc({ protocol: def.id, direction: 'out', status: 'FAILED' })
          throw new RpcStreamError(`${def.id} request to ${peerText} failed: stream closed before the final frame`, { peer: peerText })
        }
        this.components.metrics?.rpc.inc({ protocol: def.id, direction: 'out', status: outcome.status })
        this.components.metrics?.rpcDuration.observe({ protocol: def.id }, (performance.now() - started) / 1000)
        return outcome as RpcResponse<Res>
      }
    } finally {
      this.pool.release(key)
      totalTimeout.clear()
      linked.dispose()
    }
  }

  /** Opens a new stream for `def` to `target`, with the dial timeout. */
  private async open (target: PeerId | Multiaddr, key: string, def: ProtocolDef<any, any>, t: RpcTimeouts, signal: AbortSignal, options: RequestOptions): Promise<PooledStream> {
    const dialTimeout = this.timeout(t.dialMs)
    try {
      // runOnLimitedConnection: a provider behind NAT is reached through a circuit relay (docs/TESTNET.md)
      const stream = await this.components.libp2p.dialProtocol(target, def.id, { signal: AbortSignal.any([signal, dialTimeout.signal]), runOnLimitedConnection: true })
      return { stream, reader: new FrameReader(stream, def.maxResponseBytes, MAX_QUEUED_RESPONSES), key, reused: false, maxIdle: maxIdleFor(def) }
    } catch (err) {
      this.components.metrics?.rpc.inc({ protocol: def.id, direction: 'out', status: 'DIAL_FAILED' })
      if (options.signal?.aborted === true) throw new RpcAbortedError(`${def.id} request aborted`)
      throw new RpcDialError(`cannot open ${def.id} to ${target.toString()}: ${(err as Error).message}`, { peer: target.toString() })
    } finally {
      dialTimeout.clear()
    }
  }

  /**
   * One request and its answer on `conn`. Returns the final response, or
   * 'stale' when a reused stream ended cleanly before any answer byte (the
   * responder had closed it); the stream goes back to the pool only after a
   * clean final frame with nothing after it.
   */
  private async exchange (conn: PooledStream, def: ProtocolDef<any, any>, frame: Uint8Array, t: RpcTimeouts, signal: AbortSignal, total: AbortSignal, options: RequestOptions, peer: string): Promise<RpcResponse | 'stale'> {
    const { stream, reader } = conn
    let firstByteTimer: TimerHandle | undefined
    let timedOut: string | undefined
    const onAbort = (): void => {
      timedOut ??= options.signal?.aborted === true ? 'aborted' : total.aborted ? 'total' : 'shutdown'
      stream.abort(new RpcTimeoutError(`${def.id} ${timedOut}`))
    }
    const mark = reader.received
    let keep = false
    reader.onData = () => { this.clock.clearTimeout(firstByteTimer) }
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
    try {
      await send(stream, frame, signal)
      firstByteTimer = this.clock.setTimeout(() => { timedOut = 'first-byte'; stream.abort(new RpcTimeoutError(`${def.id} no first byte`)) }, t.firstByteMs)
      let final: unknown
      for (;;) {
        const v = await reader.next()
        if (v === END_OF_STREAM) {
          if (conn.reused && reader.received === mark && timedOut == null) return 'stale'
          throw new TruncatedFrameError('stream closed before the final frame')
        }
        if (isResponse(v) && v.status === 'PROGRESS') { options.onProgress?.(v.body); continue }
        final = v
        break
      }
      if (!isResponse(final)) throw new RpcStreamError(`${def.id} response is not a response frame`)
      const backlog = reader.backlog
      if (backlog.frames > 0 || backlog.bytes > 0) {
        // more than one final frame: answer this call, drop the stream
        this.components.metrics?.reject('rpc', 'UnsolicitedFrameError')
        stream.abort(new UnsolicitedFrameError(`${def.id} peer sent frames after the final one`))
      } else {
        keep = true
      }
      return final
    } catch (err) {
      this.components.metrics?.rpc.inc({ protocol: def.id, direction: 'out', status: timedOut != null ? 'TIMEOUT' : 'FAILED' })
      if (timedOut === 'aborted') throw new RpcAbortedError(`${def.id} request to ${peer} aborted`)
      if (timedOut != null) throw new RpcTimeoutError(`${def.id} request to ${peer} timed out (${timedOut} limit: ${timedOut === 'first-byte' ? t.firstByteMs : t.totalMs} ms)`, { peer, phase: timedOut })
      if (isFramingError(err)) this.components.metrics?.reject('rpc', (err as Error).name)
      if (err instanceof PlError && !(err instanceof StreamResetError)) throw err
      throw new RpcStreamError(`${def.id} request to ${peer} failed: ${(err as Error).message}`, { peer })
    } finally {
      this.clock.clearTimeout(firstByteTimer)
      signal.removeEventListener('abort', onAbort)
      reader.onData = undefined
      if (keep) this.pool.put(conn, this.components.metrics)
      else if (stream.status === 'open') stream.abort(new RpcStreamError('request finished'))
    }
  }

  async stop (): Promise<void> {
    this.shutdown.abort()
    this.pool.closeAll()
    for (const s of [...this.serving]) s.abort(new RpcStreamError('node stopping'))
    this.serving.clear()
    for (const clear of [...this.timeouts]) clear()
    for (const id of this.handled) await this.components.libp2p.unhandle(id).catch(() => {})
    this.handled.clear()
    this.handlers.clear()
  }
}
