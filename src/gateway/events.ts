/**
 * Live run events for WebSocket and SSE clients. One listener on the
 * executor fans events out to the subscribers of each run; a finished step
 * is followed by what negotiation and receipts recorded for it (bids, the
 * award, the receipt CID), and a finished run by its receipts' root.
 * Every subscriber is a Sink with a bounded buffer: a client that does not
 * read is dropped (`onSlow`) instead of growing the node's memory.
 */
import type { Executor } from '../exec/index.js'
import type { ExecEvent } from '../exec/types.js'
import type { Logger } from '../core/logger.js'

/** A client connection that takes JSON messages. */
export interface Sink {
  /** bytes queued and not yet taken by the client */
  buffered: () => number
  write: (text: string) => void
  /** the client is too slow: close it */
  drop: () => void
  /** the node is stopping: end the stream */
  end: () => void
}

export interface Enricher {
  /** the step's award explanation (bids, winner), if it was negotiated */
  explanation?: (run: string, key: string) => Promise<unknown>
  /** the step's receipt CID from the journal */
  receipt?: (run: string, key: string) => Promise<string | undefined>
  /** the run's receipts root, when it has receipts */
  receiptsRoot?: (run: string) => Promise<{ root: string, count: number } | undefined>
}

export type StreamMessage = { type: 'event', run: string, seq?: number, event: Record<string, unknown> }

export class RunEventHub {
  private readonly subs = new Map<string, Set<Sink>>()
  private readonly listener = (ev: ExecEvent): void => { this.onEvent(ev) }
  private attached = false

  constructor (private readonly executor: Executor, private readonly enrich: Enricher, private readonly maxBuffer: number, private readonly log: Logger) {}

  start (): void {
    if (this.attached) return
    this.attached = true
    this.executor.on('event', this.listener)
  }

  /** Detaches from the executor and ends every client's stream (an open SSE response would keep the server from closing). */
  stop (): void {
    this.executor.off('event', this.listener)
    this.attached = false
    const sinks = new Set<Sink>()
    for (const set of this.subs.values()) for (const s of set) sinks.add(s)
    this.subs.clear()
    for (const s of sinks) {
      try { s.end() } catch {}
    }
  }

  /** clients dropped for being too slow since the hub started */
  droppedSlow = 0

  get subscribers (): number {
    let n = 0
    for (const s of this.subs.values()) n += s.size
    return n
  }

  /**
   * Subscribes `sink` to `run`: first the events kept since `since`, then
   * live ones. (Both happen without an await in between, so none is lost or
   * sent twice.) Returns the unsubscribe function.
   */
  subscribe (run: string, sink: Sink, since = 0): () => void {
    let set = this.subs.get(run)
    if (set == null) { set = new Set(); this.subs.set(run, set) }
    set.add(sink)
    const { events } = this.executor.events(run, since)
    for (const e of events) {
      const { seq, ...event } = e
      if (!this.send(sink, { type: 'event', run, seq, event })) break
    }
    return () => { this.unsubscribe(run, sink) }
  }

  unsubscribe (run: string, sink: Sink): void {
    const set = this.subs.get(run)
    set?.delete(sink)
    if (set?.size === 0) this.subs.delete(run)
  }

  /** Writes one message; drops the sink (and returns false) when its buffer is over the limit. */
  send (sink: Sink, msg: unknown): boolean {
    const text = JSON.stringify(msg)
    if (sink.buffered() + text.length > this.maxBuffer) {
      for (const [run, set] of this.subs) if (set.delete(sink) && set.size === 0) this.subs.delete(run)
      this.droppedSlow++
      sink.drop()
      return false
    }
    sink.write(text)
    return true
  }

  private publish (run: string, msg: unknown): void {
    const set = this.subs.get(run)
    if (set == null) return
    for (const sink of [...set]) this.send(sink, msg)
  }

  private onEvent (ev: ExecEvent): void {
    if (!this.subs.has(ev.runId)) return
    const seq = this.executor.events(ev.runId, Number.MAX_SAFE_INTEGER).next - 1
    const { runId, ...event } = ev as ExecEvent & Record<string, unknown>
    this.publish(runId, { type: 'event', run: runId, seq, event })
    if (ev.type === 'pl:step:finished') void this.afterStep(ev.runId, ev.key)
    if (ev.type === 'pl:run:finished' || ev.type === 'pl:run:failed') void this.afterRun(ev.runId)
  }

  private async afterStep (run: string, key: string): Promise<void> {
    try {
      const exp = await this.enrich.explanation?.(run, key) as { bids?: unknown[], winner?: string, attempts?: Array<{ award?: string, provider: string }> } | undefined
      if (exp != null) this.publish(run, { type: 'event', run, event: { type: 'pl:step:negotiated', key, winner: exp.winner, bids: exp.bids ?? [], award: exp.attempts?.at(-1)?.award } })
      const receipt = await this.enrich.receipt?.(run, key)
      if (receipt != null) this.publish(run, { type: 'event', run, event: { type: 'pl:step:receipt', key, receipt } })
    } catch (err) {
      this.log.debug({ run, key, err: (err as Error).message }, 'no step details to stream')
    }
  }

  private async afterRun (run: string): Promise<void> {
    try {
      const r = await this.enrich.receiptsRoot?.(run)
      if (r != null) this.publish(run, { type: 'event', run, event: { type: 'pl:run:receipts', root: r.root, count: r.count } })
    } catch (err) {
      this.log.debug({ run, err: (err as Error).message }, 'no receipts to stream')
    }
  }
}
