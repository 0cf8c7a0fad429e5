/**
 * The load of a soak: submits plans to requester nodes at a steady rate
 * (`POST /runs`), polls unfinished runs (`GET /runs/:id`; at most
 * `pollBudget` per round, the longest unpolled first, so the harness's own
 * load on a requester stays bounded when runs pile up) and keeps
 * one TrackedRun per accepted submission. A submission without a run id is a
 * SubmitFailure, not a run.
 *
 * @example
 * const load = new Load({ apis, requesters: [0], plans, doc, rate: 1, clock })
 * load.startSubmitting({ maxSubmissions: 60 }); load.startPolling()
 * await load.doneSubmitting; await load.stopSubmitting(); await load.settle(60_000)
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { errorToData } from '../../src/core/errors.js'
import { errorOf, type MemberApi } from './client.js'
import { soakDocument, type SoakPlan } from './plans.js'
import { TERMINAL_STATES, type RunView, type SubmitFailure, type TrackedRun } from './records.js'
import type { Rng } from './rng.js'

export interface LoadInit {
  apis: MemberApi[]
  requesters: number[]
  plans: SoakPlan[]
  /** base document; each submission gets a numbered variant */
  doc: string
  /** runs per second */
  rate: number
  rng: Rng
  /** ms since the start of the load */
  clock: () => number
  /** whether node `i` may be used right now (false while it is being restarted) */
  available: (i: number) => boolean
  /** @default 250 */
  pollEveryMs?: number
  /** @default 8 */
  pollConcurrency?: number
  /**
   * most runs polled per round: with a backlog, polling every unfinished run
   * every 250 ms grows the requester's load with the backlog (120 runs in
   * flight were ~480 GET /runs/:id a second) and the backlog with it
   * @default 16
   */
  pollBudget?: number
  /** @default 3000 */
  pollTimeoutMs?: number
  /** @default 10000 */
  submitTimeoutMs?: number
  log?: (line: string) => void
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function mapLimit<T> (items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]
      await fn(item)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

export class Load {
  readonly runs: TrackedRun[] = []
  readonly submitFailures: SubmitFailure[] = []
  /** submissions skipped because no requester was available at their tick */
  skipped = 0
  private submitTimer?: NodeJS.Timeout
  private submitting = false
  private polling = false
  /** when each run was last polled by the polling loop */
  private readonly polledAt = new WeakMap<TrackedRun, number>()
  private pollLoop?: Promise<void>
  private readonly inflight = new Set<Promise<void>>()
  private seq = 0
  private rr = 0
  /** submissions made by the steady stream (not the warm-up's) */
  private made = 0
  private readonly submittingDone = Promise.withResolvers<void>()
  /** resolves when the steady stream has ended: its count or its time reached, or stopSubmitting() */
  readonly doneSubmitting = this.submittingDone.promise
  private readonly onTerminal = new Set<() => void>()

  constructor (private readonly init: LoadInit) {
    if (!(init.rate > 0)) throw new TypeError('rate must be > 0')
    if (init.requesters.length === 0) throw new TypeError('no requester node')
  }

  /** Submits one run now (exported for the warm-up); resolves with the tracked run or the failure. */
  async submit (plan: SoakPlan, node: number, track = true): Promise<TrackedRun | SubmitFailure> {
    const n = this.seq++
    const at = this.init.clock()
    try {
      const res = await this.init.apis[node].request('POST', '/runs', { plan: plan.text, input: { doc: soakDocument(this.init.doc, n) } }, this.init.submitTimeoutMs ?? 10_000)
      const runId = res.json?.runId ?? res.json?.run?.id
      if (res.status >= 300 || typeof runId !== 'string') {
        const e = res.status >= 300 ? errorOf(res) : { name: 'NoRunId', message: `POST /runs answered ${res.status} without a runId` }
        return this.failed({ at, node, plan: plan.name, ...e }, track)
      }
      const run: TrackedRun = { runId, node, plan: plan.name, submittedAt: at, state: 'unknown' }
      if (track) this.runs.push(run)
      return run
    } catch (err) {
      const d = errorToData(err)
      return this.failed({ at, node, plan: plan.name, name: d.name, message: d.message }, track)
    }
  }

  private failed (f: SubmitFailure, track: boolean): SubmitFailure {
    if (track) this.submitFailures.push(f)
    return f
  }

  /** Picks the next available requester (round robin) or undefined. */
  private nextRequester (): number | undefined {
    const rs = this.init.requesters
    for (let k = 0; k < rs.length; k++) {
      const i = rs[(this.rr + k) % rs.length]
      if (this.init.available(i)) {
        this.rr = (this.rr + k + 1) % rs.length
        return i
      }
    }
    return undefined
  }

  /**
   * Starts the steady stream: one submission every 1/rate s, on a drift-free
   * schedule, until `stopAtMs` on the load clock or `maxSubmissions` made
   * (ticks skipped for want of an available requester do not count), whichever
   * comes first; then `doneSubmitting` resolves.
   */
  startSubmitting (options: { stopAtMs?: number, maxSubmissions?: number } = {}): void {
    if (this.submitting) return
    const stopAtMs = options.stopAtMs ?? Infinity
    const max = options.maxSubmissions ?? Infinity
    if (stopAtMs === Infinity && max === Infinity) throw new TypeError('startSubmitting needs stopAtMs or maxSubmissions')
    this.submitting = true
    const interval = 1000 / this.init.rate
    const start = this.init.clock()
    let k = 0
    const tick = (): void => {
      if (!this.submitting) return
      if (this.init.clock() >= stopAtMs || this.made >= max) { this.submittingDone.resolve(); return }
      const node = this.nextRequester()
      if (node == null) this.skipped++
      else {
        this.made++
        const plan = this.init.plans[this.init.rng.int(0, this.init.plans.length - 1)]
        const p = this.submit(plan, node).then(() => {}, () => {})
        this.inflight.add(p)
        void p.finally(() => this.inflight.delete(p))
      }
      k++
      if (this.made >= max) { this.submittingDone.resolve(); return }
      this.submitTimer = setTimeout(tick, Math.max(0, start + k * interval - this.init.clock()))
    }
    tick()
  }

  /** Ends the stream (if still going) and waits for the submissions in flight. */
  async stopSubmitting (): Promise<void> {
    this.submitting = false
    clearTimeout(this.submitTimer)
    this.submittingDone.resolve()
    await Promise.allSettled([...this.inflight])
  }

  unfinished (): TrackedRun[] {
    return this.runs.filter(r => !TERMINAL_STATES.has(r.state))
  }

  /** Applies one `GET /runs/:id` answer to a tracked run. */
  private apply (run: TrackedRun, status: number, json: any): void {
    if (status === 404) { run.forgotten = true; return }
    if (status >= 300 || json?.run == null) return
    const view = json as RunView
    run.forgotten = false
    run.view = view
    const was = run.state
    run.state = view.run.state
    run.error = view.run.error != null ? { name: view.run.error.name, message: view.run.error.message } : undefined
    if (TERMINAL_STATES.has(run.state) && !TERMINAL_STATES.has(was)) {
      run.observedEndAt = this.init.clock()
      const { created, ended } = view.run
      run.latencyMs = typeof created === 'number' && typeof ended === 'number' && ended >= created ? ended - created : run.observedEndAt - run.submittedAt
      for (const notify of [...this.onTerminal]) notify()
    }
  }

  /** Polls `runs` once (those whose requester is available). */
  async pollOnce (runs: TrackedRun[] = this.unfinished()): Promise<void> {
    await mapLimit(runs.filter(r => this.init.available(r.node)), this.init.pollConcurrency ?? 8, async (r) => {
      try {
        const res = await this.init.apis[r.node].request('GET', `/runs/${encodeURIComponent(r.runId)}`, undefined, this.init.pollTimeoutMs ?? 3000)
        this.apply(r, res.status, res.json)
      } catch {
        // node down or paused: poll again next round
      }
    })
  }

  startPolling (): void {
    if (this.polling) return
    this.polling = true
    this.pollLoop = (async () => {
      while (this.polling) {
        const due = this.unfinished().sort((a, b) => (this.polledAt.get(a) ?? -1) - (this.polledAt.get(b) ?? -1)).slice(0, this.init.pollBudget ?? 16)
        const now = this.init.clock()
        for (const r of due) this.polledAt.set(r, now)
        await this.pollOnce(due)
        await sleep(this.init.pollEveryMs ?? 250)
      }
    })()
  }

  async stopPolling (): Promise<void> {
    this.polling = false
    await this.pollLoop
  }

  /**
   * Waits (while polling runs, see startPolling) until every run is terminal,
   * `graceMs` passed or `signal` aborted; resolves with how many are still
   * unfinished. Woken by each run that ends, not by a sleep loop.
   */
  async settle (graceMs: number, signal?: AbortSignal): Promise<number> {
    if (this.unfinished().length === 0 || signal?.aborted === true) return this.unfinished().length
    const grace = new AbortController()
    const timer = setTimeout(() => { grace.abort() }, graceMs)
    const { promise, resolve } = Promise.withResolvers<void>()
    const check = (): void => { if (this.unfinished().length === 0) resolve() }
    this.onTerminal.add(check)
    const stop = AbortSignal.any(signal != null ? [grace.signal, signal] : [grace.signal])
    stop.addEventListener('abort', () => { resolve() }, { once: true })
    try {
      check()
      await promise
    } finally {
      clearTimeout(timer)
      this.onTerminal.delete(check)
    }
    return this.unfinished().length
  }
}
