/**
 * One attached client: a WebSocket over which a process registers capability
 * specs and answers the calls (and, with `bids: true`, the bid questions)
 * the node forwards. JSON text frames; the protocol is in docs/BRIDGES.md
 * (## Attached providers).
 */
import type { WebSocket } from 'ws'
import type { Logger } from 'pino'
import { errorToData } from '../../core/errors.js'
import type { Clock, TimerHandle } from '../../core/clock.js'
import type { ModuleCall, ModuleCallOptions, ModuleResult } from '../../exec/types.js'
import { AttachFrameTooLargeError, AttachMessageError, AttachedCallTimeoutError, AttachedHandlerError, AttachedProviderGoneError, UnknownAttachedCallError } from './errors.js'
import { MAX_ATTACH_FRAME_BYTES, WS_CLOSE_TOO_BIG } from './constants.js'
import { parseGuardedJson, RequestTooDeepError } from '../../core/json-guard.js'

export type Frame = Record<string, unknown> & { op?: unknown, id?: unknown }

/** What a session needs from the service. */
export interface SessionHost {
  clock: Clock
  logger: Logger
  /** deepest nesting of a frame (the gateway's `api.maxJsonDepth`): checked on the text before parsing */
  maxJsonDepth: number
  /** a frame was refused (counted by error name) */
  rejected: (reason: string) => void
  /** handles `register`; returns the answer frame */
  register: (session: AttachedSession, frame: Frame) => Promise<Record<string, unknown>>
  /** the socket closed: unpublish what it registered */
  closed: (session: AttachedSession) => Promise<void>
}

interface Pending {
  resolve: (value: Frame) => void
  reject: (err: Error) => void
  onProgress?: ModuleCallOptions['onProgress']
}

/**
 * The step input as the capability's input schema sees it: the executor's
 * `previous_outputs` (upstream outputs for in-node modules) is not part of
 * a spec's input, so it is not forwarded.
 */
function capabilityInput (inputData: unknown): unknown {
  if (inputData == null || typeof inputData !== 'object' || Array.isArray(inputData)) return inputData
  const { previous_outputs: _upstream, ...input } = inputData as Record<string, unknown>
  return input
}

export class AttachedSession {
  /** attachment ids this connection registered */
  readonly attachments = new Set<string>()
  private readonly pending = new Map<string, Pending>()
  private seq = 0
  private open = true

  constructor (readonly id: string, private readonly socket: WebSocket, private readonly host: SessionHost) {}

  get connected (): boolean {
    return this.open
  }

  get inflight (): number {
    return this.pending.size
  }

  start (): void {
    this.socket.on('message', (data, isBinary) => { void this.onMessage(data as Buffer, isBinary) })
    this.socket.on('close', () => { void this.onClose() })
    this.socket.on('error', (err) => {
      this.host.rejected((err as { code?: string }).code ?? 'SocketError')
      this.socket.terminate()
    })
  }

  send (msg: unknown): void {
    if (this.open) this.socket.send(JSON.stringify(msg))
  }

  close (code = 1001, reason = 'node stopping'): void {
    this.socket.close(code, reason)
    // a peer that never answers the closing handshake is cut off
    const t = setTimeout(() => { this.socket.terminate() }, 5_000)
    t.unref()
  }

  /**
   * Forwards one step; resolves with the client's output. The wall limit
   * (`call.limits.wall_ms`) and `options.signal` cancel it: the client gets
   * `{type:'cancel'}` and a later answer is dropped.
   */
  async call (attachment: string, capability: { name: string, version: string }, call: ModuleCall, options: ModuleCallOptions): Promise<ModuleResult> {
    const started = this.host.clock.now()
    const answer = await this.ask('call', {
      attachment,
      capability,
      input: capabilityInput(call.inputData),
      limits: call.limits,
      ...(call.step != null ? { step: { run: call.step.runId, key: call.step.key, attempt: call.step.attempt } } : {})
    }, call.limits.wall_ms, options)
    const wall = Math.max(0, this.host.clock.now() - started)
    return { output: answer.output, usage: { cpu_ms: 0, wall_ms: wall, mem_peak_mb: 0 }, via: { kind: 'attached', target: attachment, ref: String(answer.call) } }
  }

  /** Asks a question of type `type` (call, bid); the answer frame, or a typed error. */
  async ask (type: string, body: Record<string, unknown>, timeoutMs: number | undefined, options: ModuleCallOptions = {}): Promise<Frame> {
    if (!this.open) throw new AttachedProviderGoneError(`attached client ${this.id} is not connected`, { session: this.id }, true)
    const id = `${type}-${++this.seq}`
    let timer: TimerHandle | undefined
    let onAbort: (() => void) | undefined
    try {
      return await new Promise<Frame>((resolve, reject) => {
        this.pending.set(id, { resolve, reject, onProgress: options.onProgress })
        const cancel = (err: Error): void => {
          if (!this.pending.delete(id)) return
          this.send({ type: 'cancel', call: id, reason: err.message })
          reject(err)
        }
        if (timeoutMs != null) {
          timer = this.host.clock.setTimeout(() => { cancel(new AttachedCallTimeoutError(`attached client ${this.id} did not answer ${type} ${id} within ${timeoutMs} ms`, { session: this.id, call: id, limit: 'wall_ms', limit_value: timeoutMs }, true)) }, timeoutMs)
        }
        if (options.signal != null) {
          const signal = options.signal
          onAbort = () => { cancel(signal.reason instanceof Error ? signal.reason : new AttachedCallTimeoutError(`${type} ${id} was aborted`, { session: this.id, call: id }, true)) }
          if (signal.aborted) onAbort()
          else signal.addEventListener('abort', onAbort, { once: true })
        }
        this.send({ type, call: id, ...body })
      })
    } finally {
      this.host.clock.clearTimeout(timer)
      if (onAbort != null) options.signal?.removeEventListener('abort', onAbort)
    }
  }

  private async onMessage (data: Buffer, isBinary: boolean): Promise<void> {
    let frame: Frame | undefined
    try {
      if (data.byteLength > MAX_ATTACH_FRAME_BYTES) {
        const err = new AttachFrameTooLargeError(`frame of ${data.byteLength} bytes is over the limit of ${MAX_ATTACH_FRAME_BYTES}`, { max: MAX_ATTACH_FRAME_BYTES, size: data.byteLength })
        this.refuse(err)
        this.close(WS_CLOSE_TOO_BIG, 'frame too large')
        return
      }
      if (isBinary) throw new AttachMessageError('frames are JSON text, not binary')
      let parsed: unknown
      try {
        parsed = parseGuardedJson(data.toString('utf8'), this.host.maxJsonDepth, 'attach frame')
      } catch (err) {
        if (err instanceof RequestTooDeepError) throw err
        throw new AttachMessageError('frame is not JSON')
      }
      frame = parsed as Frame | undefined
      if (frame == null || typeof frame !== 'object' || Array.isArray(frame)) throw new AttachMessageError('frame must be a JSON object with an "op"')
      const answer = await this.handle(frame)
      if (answer != null) this.send({ ...answer, ...(frame.id !== undefined ? { id: frame.id } : {}) })
    } catch (err) {
      this.refuse(err, frame)
    }
  }

  private refuse (err: unknown, frame?: Frame): void {
    const data = errorToData(err)
    this.host.rejected(data.name)
    this.send({ type: 'error', ...(frame?.id !== undefined ? { id: frame.id } : {}), error: { name: data.name, message: data.message, ...(data.details != null ? { details: data.details } : {}) } })
  }

  private take (frame: Frame): Pending {
    const call = frame.call
    if (typeof call !== 'string' || call === '') throw new AttachMessageError('"call" must be the id of a call the node sent')
    const p = this.pending.get(call)
    if (p == null) throw new UnknownAttachedCallError(`no call ${JSON.stringify(call)} is waiting for an answer on this connection (unknown, answered, cancelled or timed out)`, { call })
    return p
  }

  private async handle (frame: Frame): Promise<Record<string, unknown> | undefined> {
    switch (frame.op) {
      case 'register':
        return await this.host.register(this, frame)
      case 'result':
      case 'bid': {
        const p = this.take(frame)
        this.pending.delete(frame.call as string)
        p.resolve(frame)
        return undefined
      }
      case 'error': {
        const p = this.take(frame)
        const e = frame.error as { name?: unknown, message?: unknown, details?: unknown, retryable?: unknown } | undefined
        if (e == null || typeof e !== 'object' || typeof e.name !== 'string' || typeof e.message !== 'string') throw new AttachMessageError('"error" must be {name, message, details?, retryable?}')
        this.pending.delete(frame.call as string)
        p.reject(new AttachedHandlerError(`attached provider failed: ${e.name}: ${e.message}`.slice(0, 2000), { remote: e.name.slice(0, 128), ...(e.details != null && typeof e.details === 'object' ? { remote_details: e.details } : {}) }, e.retryable === true))
        return undefined
      }
      case 'progress': {
        const p = this.take(frame)
        if (typeof frame.n !== 'number') throw new AttachMessageError('"n" must be a number')
        p.onProgress?.(frame.n, typeof frame.total === 'number' ? frame.total : undefined, typeof frame.message === 'string' ? frame.message.slice(0, 1000) : undefined)
        return undefined
      }
      case 'ping':
        return { type: 'pong' }
      default:
        throw new AttachMessageError(`unknown op ${JSON.stringify(frame.op)} (register, result, error, progress, bid, ping)`, { op: frame.op })
    }
  }

  private async onClose (): Promise<void> {
    if (!this.open) return
    this.open = false
    for (const [id, p] of this.pending) {
      p.reject(new AttachedProviderGoneError(`attached client ${this.id} disconnected during ${id}`, { session: this.id, call: id }, true))
    }
    this.pending.clear()
    try {
      await this.host.closed(this)
    } catch (err) {
      this.host.logger.warn({ err: errorToData(err), session: this.id }, 'cleanup after an attached client left failed')
    }
  }
}
