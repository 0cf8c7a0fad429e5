/**
 * One run of a Task DAG: the scheduler proper. It walks blocks of steps
 * (the top level, a branch arm, a loop iteration), starting each step as
 * soon as its dependencies (`after` + the steps its bindings read) are
 * done, bounded by the executor's slot semaphore. Every step instance is
 * journaled (state, attempts, output CID, usage) before the walk moves on;
 * on resume the same deterministic walk replays journaled outputs instead
 * of running steps again.
 *
 * Instance keys: `id` at the top level, `id@i` in loop iteration / router
 * round i, `id[n]` for map element n (nested: `id@0@2`, `id@1[3]`).
 */
import { setMaxListeners } from 'node:events'
import type { Logger } from 'pino'
import { errorToData, type ErrorData } from '../core/errors.js'
import type { Json } from '../core/encoding.js'
import type { ModuleSpec } from '../core/module.js'
import type { BatchOp, Store } from '../store/index.js'
import { evalExpr, truthy, type RetryPolicy, type Step, type TaskDag } from '../workflow/index.js'
import type { Addons } from './addons.js'
import { DEFAULT_RETRY } from './constants.js'
import {
  BindingError, DeadlineExceededError, ExecutorStoppedError, HumanTimeoutError, NoRunnerError,
  RouterError, RouterLimitExceededError, RunCancelledError, StepInterruptedError, withStepDetails
} from './errors.js'
import { asList, mapOutput, resolveBinding, type BindingScope } from './inputs.js'
import type { Journal } from './journal.js'
import { effectiveLimits } from './limits.js'
import type { Semaphore } from './semaphore.js'
import type { EffectiveLimits, ExecEvent, HumanQuestion, RunRecord, StepContext, StepRecord, StepResolver } from './types.js'
import { clockSleep, type Clock, type TimerHandle } from './clock.js'

export interface RunEnv {
  store: Store
  journal: Journal
  logger: Logger
  resolver: StepResolver
  slots: Semaphore
  addons: Addons
  defaults: Partial<EffectiveLimits>
  retry?: RetryPolicy
  /** run deadline, retry backoff, human-question timeouts and the times journaled @default the executor's clock */
  clock: Clock
  emit: (ev: ExecEvent) => void
}

interface Deferred { promise: Promise<void>, resolve: () => void, reject: (err: unknown) => void }

function deferred (): Deferred {
  let resolve: () => void = () => {}
  let reject: (err: unknown) => void = () => {}
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej })
  promise.catch(() => {})
  return { promise, resolve, reject }
}

/** Keys of the question waiters: `<step key>#<ask index>`. */
type WaiterKey = string

export class RunExecution {
  readonly controller = new AbortController()
  readonly signal = this.controller.signal
  private runLog?: Logger
  private readonly steps: Record<string, Step>
  /** latest output of each step id (null for a skipped step) */
  private readonly latest = new Map<string, { value: unknown, skipped?: boolean }>()
  private readonly settled = new Map<string, Deferred>()
  private readonly journaled = new Map<string, StepRecord>()
  /** a step attempt's output as its runner encoded it (size check), so the journal does not encode it again */
  private readonly encodedOutputs = new WeakMap<StepRecord, { output: unknown, bytes: Uint8Array }>()
  /** an attempt's receipt block (remote steps), written in the batch of the attempt's next step record */
  private readonly receiptOps = new WeakMap<StepRecord, BatchOp>()
  /** the write of each attempt's `running` record (a step in this process waits for it: StepRunner.outOfProcess) */
  private readonly runningWrites = new WeakMap<StepRecord, Promise<void>>()
  private readonly waiters = new Map<WaiterKey, { resolve: (choice: string) => void, reject: (err: Error) => void }>()
  private readonly inflight = new Set<Promise<unknown>>()
  private readonly topLevel: string[]
  /** top-level steps (of a DAG-mode run) not yet done: the last one's success goes in the run's final batch */
  private topLeft: number
  private readonly topIds: Set<string>
  /** the last step's success (output block + `succeeded` record), written with the run's final record, and its event, emitted after */
  private readonly last: { ops: BatchOp[], events: ExecEvent[] } = { ops: [], events: [] }
  /** set when the run record of a just-submitted run could not be written: the run then writes nothing more */
  private unrecorded = false
  /** the `running` records of the first steps of a run just submitted, until `takeFirstOps` puts them in its run record's batch */
  private firstOps?: BatchOp[]
  private deadlineTimer?: TimerHandle
  private waiting = 0
  /** rejects with the abort reason once the run aborts */
  private readonly aborted: Promise<never>

  constructor (
    private readonly env: RunEnv,
    readonly run: RunRecord,
    private readonly dag: TaskDag,
    private readonly input: Record<string, unknown>,
    private readonly modules: Record<string, ModuleSpec>,
    /** a run just submitted: no step of it is journaled, so the journal is not read */
    private readonly fresh = false,
    /**
     * the write of the run record of a just-submitted run, not yet made: the `running` records of the
     * steps that start at once go in its batch (`takeFirstOps`), and no step starts before it is written
     */
    private readonly recorded?: Promise<void>
  ) {
    if (recorded != null) this.firstOps = []
    this.steps = dag.steps
    const owned = new Set<string>()
    for (const s of Object.values(this.steps)) for (const id of [...(s.then ?? []), ...(s.else ?? []), ...(s.body ?? [])]) owned.add(id)
    this.topLevel = Object.keys(this.steps).filter(id => this.steps[id].parent == null && !owned.has(id))
    this.topLeft = this.topLevel.length
    this.topIds = new Set(this.topLevel)
    recorded?.catch(() => { this.unrecorded = true })
    // every running or queued step listens on the run's signal
    setMaxListeners(0, this.signal)
    this.aborted = new Promise<never>((resolve, reject) => {
      this.signal.addEventListener('abort', () => { reject(this.signal.reason) }, { once: true })
    })
    this.aborted.catch(() => {})
  }

  /**
   * The `running` records of the steps the run started at once (what `execute` did before its first
   * wait), for the batch of the run record; later steps write their own.
   */
  takeFirstOps (): BatchOp[] {
    const ops = this.firstOps ?? []
    this.firstOps = undefined
    return ops
  }

  /** the run's child logger, made when something logs (most runs never do) */
  private get log (): Logger {
    return (this.runLog ??= this.env.logger.child({ run: this.run.id }))
  }

  /** Aborts the run: running steps are killed; `reason` becomes the run's error. */
  abort (reason: Error): void {
    if (!this.signal.aborted) this.controller.abort(reason)
  }

  /** Hands a decision to a waiting question; false when nothing waits for it. */
  deliverDecision (key: string, ask: number, choice: string): boolean {
    const w = this.waiters.get(`${key}#${ask}`)
    if (w == null) return false
    w.resolve(choice)
    // visible at once to callers polling the run (the journal follows)
    if (this.waiting <= 1 && this.run.state === 'waiting-human') this.run.state = 'running'
    return true
  }

  async execute (): Promise<RunRecord> {
    if (!this.fresh) for (const rec of await this.env.journal.listSteps(this.run.id)) this.journaled.set(rec.key, rec)
    if (this.run.deadline != null) {
      const left = this.run.deadline - this.env.clock.now()
      const fire = (): void => { this.abort(new DeadlineExceededError(`run ${this.run.id} passed its deadline of ${String(this.dag.constraints.deadline_ms ?? '?')} ms`, { run: this.run.id, deadline: this.run.deadline })) }
      if (left <= 0) fire()
      else this.deadlineTimer = this.env.clock.setTimeout(fire, left)
    }
    try {
      const output = this.dag.mode === 'router' && this.dag.router != null
        ? await this.runRouter()
        : await this.track(this.runBlock(this.topLevel, '')).then(() => this.result())
      this.signal.throwIfAborted()
      const { cid, op } = this.env.store.blocks.putOp(output ?? null)
      await this.finishRun({ state: 'succeeded', output: cid }, [op])
      this.env.emit({ type: 'pl:run:finished', runId: this.run.id, output, outputCid: cid })
      return this.run
    } catch (err) {
      const reason = this.signal.aborted ? this.signal.reason as Error : err as Error
      this.abort(reason)
      await Promise.allSettled([...this.inflight])
      // a run whose record was never written leaves nothing in the journal (its submit fails)
      if (this.unrecorded) throw reason
      if (reason instanceof ExecutorStoppedError) {
        // the last step's success, if it was waiting for the run's final batch, is journaled still
        if (this.last.ops.length > 0) {
          await this.env.journal.write(this.takeLast())
          this.emitLast()
        }
        throw reason
      }
      const error = errorToData(reason)
      await this.finishRun({ state: reason instanceof RunCancelledError ? 'cancelled' : 'failed', error })
      this.env.emit({ type: 'pl:run:failed', runId: this.run.id, error })
      return this.run
    } finally {
      this.env.clock.clearTimeout(this.deadlineTimer)
    }
  }

  /**
   * Journals the run's final record, with `ops` and the last step's success in the same batch; the live
   * record (what `Executor.get` copies) turns final only once that batch is written, so nobody sees an
   * ended run beside a step the journal does not have as ended yet.
   */
  private async finishRun (fields: Partial<RunRecord>, ops: BatchOp[] = []): Promise<void> {
    const now = this.env.clock.now()
    const final: RunRecord = { ...this.run, ...fields, updated: now, ended: now }
    await this.env.journal.putRun(final, [...this.takeLast(), ...ops])
    Object.assign(this.run, final)
    this.emitLast()
  }

  private emitLast (): void {
    for (const ev of this.last.events.splice(0)) this.env.emit(ev)
  }

  /** The last step's pending journal operations (once). */
  private takeLast (): BatchOp[] {
    return this.last.ops.splice(0)
  }

  private track<T> (p: Promise<T>): Promise<T> {
    this.inflight.add(p)
    const done = (): void => { this.inflight.delete(p) }
    p.then(done, done)
    return p
  }

  private result (): unknown {
    const outs = this.dag.outputs
    const value = (id: string): unknown => this.latest.get(id)?.value ?? null
    if (outs.length === 1) return value(outs[0])
    return Object.fromEntries(outs.map(id => [id, value(id)]))
  }

  // ---------------------------------------------------------------- walking

  private settledOf (id: string): Deferred {
    let d = this.settled.get(id)
    if (d == null) { d = deferred(); this.settled.set(id, d) }
    return d
  }

  private ancestors (id: string): Set<string> {
    const out = new Set<string>()
    let p = this.steps[id]?.parent
    while (p != null && !out.has(p)) { out.add(p); p = this.steps[p]?.parent }
    return out
  }

  private inLoop (id: string): boolean {
    // a top-level step has no ancestors
    if (this.steps[id]?.parent == null) return false
    for (const a of this.ancestors(id)) if (this.steps[a]?.kind === 'loop') return true
    return false
  }

  /** Steps a step waits for: `after` plus the steps its bindings read (not its own ancestors). */
  private deps (step: Step): string[] {
    const out = new Set(step.after)
    if (step.args != null) for (const b of Object.values(step.args)) if (b.from === 'step') out.add(b.step)
    if (step.over?.from === 'step') out.add(step.over.step)
    out.delete(step.id)
    // a top-level step has no ancestors
    if (step.parent != null) for (const a of this.ancestors(step.id)) out.delete(a)
    const list: string[] = []
    for (const id of out) if (this.steps[id] != null) list.push(id)
    return list
  }

  /**
   * Runs the steps of one block; siblings wait for each other, steps of the
   * enclosing blocks (`outer`, innermost first) through their instance in
   * this walk, and anything else through `settled`. A step of an enclosing
   * loop iteration is only ever settled through `outer`.
   */
  private async runBlock (ids: string[], suffix: string, outer: Array<Map<string, Deferred>> = []): Promise<void> {
    // the DAG may come back from dag-cbor with its keys re-sorted: never rely on key order here
    const local = new Map<string, Deferred>(ids.map(id => [id, deferred()]))
    const scopes = [local, ...outer]
    const waitFor = (d: string): Deferred => {
      for (const m of scopes) {
        const hit = m.get(d)
        if (hit != null) return hit
      }
      return this.settledOf(d)
    }
    const runs = ids.map(async (id) => {
      const step = this.steps[id]
      const mine = local.get(id) as Deferred
      try {
        for (const d of this.deps(step)) await Promise.race([waitFor(d).promise, this.aborted])
        this.signal.throwIfAborted()
        await this.runStep(step, suffix, scopes)
        if (outer.length === 0 && suffix === '') this.topLeft--
        mine.resolve()
      } catch (err) {
        mine.reject(err)
        throw err
      }
    })
    await Promise.all(runs.map(async p => await this.track(p)))
  }

  private setOutput (step: Step, value: unknown): void {
    this.latest.set(step.id, { value })
    if (!this.inLoop(step.id)) this.settledOf(step.id).resolve()
  }

  private async runStep (step: Step, suffix: string, scopes: Array<Map<string, Deferred>>): Promise<void> {
    const key = step.id + suffix
    switch (step.kind) {
      case 'branch': return await this.runBranch(step, key, suffix, scopes)
      case 'loop': return await this.runLoop(step, key, suffix, scopes)
      case 'map': return await this.runMap(step, key)
      case 'human': {
        const out = await this.runLeaf(step, key, async (rec) => await this.humanStep(step, key, rec))
        this.setOutput(step, out)
        return
      }
      default: {
        const out = await this.runLeaf(step, key, async (rec, attempt) => await this.callStep(step, key, rec, attempt, this.inputData(step, undefined)))
        this.setOutput(step, out)
      }
    }
  }

  private scope (): BindingScope {
    return { input: this.input, output: (id) => this.latest.get(id) }
  }

  private inputData (step: Step, item: { step: string, value: unknown } | undefined, allPrevious = false): Record<string, unknown> {
    const scope = { ...this.scope(), item }
    const args: Record<string, unknown> = {}
    for (const [name, b] of Object.entries(step.args ?? {})) args[name] = resolveBinding(b, scope, `step ${step.id}, argument ${name}`)
    const previous: Record<string, unknown> = {}
    const from = allPrevious ? [...this.latest.keys()] : step.after
    for (const id of from) {
      const o = this.latest.get(id)
      if (o != null && o.skipped !== true) previous[id] = o.value
    }
    return { ...this.input, ...args, previous_outputs: previous }
  }

  private exprScope (): Record<string, Json> {
    const scope: Record<string, Json> = { ...(this.input as Record<string, Json>) }
    for (const [id, o] of this.latest) {
      scope[id] = o.value as Json
      const as = this.steps[id]?.as
      if (as != null) scope[as] = o.value as Json
    }
    return scope
  }

  private armSteps (owner: Step, list: string[] | undefined): string[] {
    return (list ?? []).filter(id => this.steps[id] != null && (this.steps[id].parent ?? owner.id) === owner.id)
  }

  /** A step and everything nested in it (arms, bodies). */
  private subtree (ids: string[]): string[] {
    const out: string[] = []
    const walk = (id: string): void => {
      if (out.includes(id) || this.steps[id] == null) return
      out.push(id)
      const s = this.steps[id]
      for (const c of [...(s.then ?? []), ...(s.else ?? []), ...(s.body ?? [])]) walk(c)
    }
    ids.forEach(walk)
    return out
  }

  private async runBranch (step: Step, key: string, suffix: string, scopes: Array<Map<string, Deferred>>): Promise<void> {
    await this.container(step, key, async () => {
      const taken = step.condition == null ? true : truthy(evalExpr(step.condition, this.exprScope()))
      const arm = taken ? 'then' : 'else'
      const skipped = this.subtree(this.armSteps(step, taken ? step.else : step.then))
      for (const id of skipped) await this.skip(this.steps[id], id + suffix, `branch ${step.id} took its ${arm} arm`)
      await this.runBlock(this.armSteps(step, taken ? step.then : step.else), suffix, scopes)
      return { branch: arm }
    })
  }

  private async runLoop (step: Step, key: string, suffix: string, scopes: Array<Map<string, Deferred>>): Promise<void> {
    await this.container(step, key, async () => {
      const body = this.armSteps(step, step.body)
      const max = step.max ?? 1
      let i = 0
      let last: unknown = null
      for (; i < max; i++) {
        await this.runBlock(body, `${suffix}@${i}`, scopes)
        if (body.length > 0) last = this.latest.get(body[body.length - 1])?.value ?? null
        if (step.until != null && truthy(evalExpr(step.until, this.exprScope()))) { i++; break }
      }
      if (!this.inLoop(step.id)) for (const id of this.subtree(body)) this.settledOf(id).resolve()
      return { iterations: i, last }
    })
  }

  /** Branch and loop steps: journaled for display; their insides replay from the journal. */
  private async container (step: Step, key: string, body: () => Promise<unknown>): Promise<void> {
    const rec: StepRecord = { run: this.run.id, step: step.id, key, state: 'running', attempts: 1, started: this.env.clock.now() }
    await this.env.journal.putStep(rec)
    this.env.emit({ type: 'pl:step:started', runId: this.run.id, step: step.id, key, attempt: 1 })
    let out: unknown
    try {
      out = await body()
    } catch (err) {
      const error = errorToData(err)
      await this.env.journal.putStep({ ...rec, state: 'failed', ended: this.env.clock.now(), error })
      this.env.emit({ type: 'pl:step:failed', runId: this.run.id, step: step.id, key, error, attempt: 1, willRetry: false })
      throw err
    }
    const { cid, op } = this.env.store.blocks.putOp(out)
    await this.env.journal.putStep({ ...rec, state: 'succeeded', ended: this.env.clock.now(), output: cid }, undefined, [op])
    this.env.emit({ type: 'pl:step:finished', runId: this.run.id, step: step.id, key, outputCid: cid, replayed: false })
    this.setOutput(step, out)
  }

  private async skip (step: Step, key: string, reason: string): Promise<void> {
    this.latest.set(step.id, { value: null, skipped: true })
    if (!this.inLoop(step.id)) this.settledOf(step.id).resolve()
    if (this.journaled.get(key)?.state === 'skipped') return
    await this.env.journal.putStep({ run: this.run.id, step: step.id, key, state: 'skipped', attempts: 0, reason })
    this.env.emit({ type: 'pl:step:skipped', runId: this.run.id, step: step.id, key, reason })
  }

  private async runMap (step: Step, key: string): Promise<void> {
    const prior = this.journaled.get(key)
    if (prior?.state === 'succeeded' && prior.output != null) {
      const out = await this.env.store.blocks.get(prior.output)
      this.env.emit({ type: 'pl:step:finished', runId: this.run.id, step: step.id, key, outputCid: prior.output, replayed: true })
      this.setOutput(step, out)
      return
    }
    if (step.over == null) throw new BindingError(`map step ${step.id} has no 'over' binding`, { step: step.id })
    const items = asList(resolveBinding(step.over, this.scope(), `map step ${step.id}`))
    const rec: StepRecord = { run: this.run.id, step: step.id, key, state: 'running', attempts: 1, started: this.env.clock.now() }
    // the map's own `running` record is for display and resume bookkeeping: its items do not wait for it (the
    // journal writes batches in order, so it lands before or with theirs); its end is written after it
    const running = this.writeRunning(rec)
    this.env.emit({ type: 'pl:step:started', runId: this.run.id, step: step.id, key, attempt: 1 })
    const outputs = await Promise.all(items.map(async (value, i) => {
      const k = `${key}[${i}]`
      return await this.track(this.runLeaf(step, k, async (r, attempt) => await this.callStep(step, k, r, attempt, this.inputData(step, { step: step.id, value }))))
    })).catch(async (err) => {
      await running.catch(() => {})
      await this.env.journal.putStep({ ...rec, state: 'failed', ended: this.env.clock.now(), error: errorToData(err) })
      throw err
    })
    await running
    const out = mapOutput(outputs)
    const { cid, op } = this.env.store.blocks.putOp(out)
    await this.env.journal.putStep({ ...rec, state: 'succeeded', ended: this.env.clock.now(), output: cid }, undefined, [op])
    this.env.emit({ type: 'pl:step:finished', runId: this.run.id, step: step.id, key, outputCid: cid, replayed: false })
    this.setOutput(step, out)
  }

  // ---------------------------------------------------------------- router mode

  private async runRouter (): Promise<unknown> {
    const { step: routerId, max_iterations: max } = this.dag.router as NonNullable<TaskDag['router']>
    const router = this.steps[routerId]
    if (router == null) throw new RouterError(`the router step '${routerId}' is not in the DAG`)
    let last: string[] = []
    for (let i = 0; i < max; i++) {
      const rkey = `${routerId}@${i}`
      const out = await this.runLeaf(router, rkey, async (rec, attempt) => await this.callStep(router, rkey, rec, attempt, this.inputData(router, undefined, true)))
      this.latest.set(routerId, { value: out })
      const next = parseNext(out, routerId)
      if (next.length === 0) {
        const o = out as Record<string, unknown>
        if (o != null && typeof o === 'object' && 'output' in o) return o.output
        if (last.length === 0) return null
        if (last.length === 1) return this.latest.get(last[0])?.value ?? null
        return Object.fromEntries(last.map(id => [id, this.latest.get(id)?.value ?? null]))
      }
      for (const id of next) {
        if (this.steps[id] == null || id === routerId) throw new RouterError(`router step ${routerId} chose '${id}', which is ${id === routerId ? 'the router itself' : 'not a step of this workflow'}`, { next: id })
      }
      await Promise.all(next.map(async id => {
        const s = this.steps[id]
        const k = `${id}@${i}`
        const o = await this.track(this.runLeaf(s, k, async (rec, attempt) => await this.callStep(s, k, rec, attempt, this.inputData(s, undefined, true))))
        this.latest.set(id, { value: o })
      }))
      last = next
    }
    throw new RouterLimitExceededError(`router step ${routerId} asked for more than ${max} rounds`, { limit: 'max_iterations', limit_value: max })
  }

  // ---------------------------------------------------------------- leaves

  /**
   * Runs one step instance with retries, journaling each attempt. A journaled
   * success is replayed (its output read back); a journaled `running` state
   * is an interrupted attempt and counts against the retry policy.
   */
  private async runLeaf (step: Step, key: string, attemptFn: (rec: StepRecord, attempt: number) => Promise<unknown>): Promise<unknown> {
    const prior = this.journaled.get(key)
    if (prior?.state === 'succeeded' && prior.output != null) {
      const out = await this.env.store.blocks.get(prior.output)
      this.env.emit({ type: 'pl:step:finished', runId: this.run.id, step: step.id, key, outputCid: prior.output, usage: prior.usage, runner: prior.runner, replayed: true })
      return out
    }
    const policy = step.retry ?? this.env.retry ?? DEFAULT_RETRY
    let attempt = prior == null ? 0 : prior.state === 'waiting-human' ? Math.max(0, prior.attempts - 1) : prior.attempts
    if (prior?.state === 'running' && attempt > policy.max) {
      const err = new StepInterruptedError(`step ${key} was interrupted ${attempt} times (its retry policy allows ${policy.max} retries)`, { run: this.run.id, step: key, attempts: attempt })
      await this.env.journal.putStep({ ...prior, state: 'failed', ended: this.env.clock.now(), error: errorToData(err) })
      throw err
    }
    for (;;) {
      attempt++
      const rec: StepRecord = { run: this.run.id, step: step.id, key, state: 'running', attempts: attempt, started: this.env.clock.now() }
      // a step in its own process (sandboxed JS, Python) or on another node runs while its `running` record is
      // written (a copy: `rec` changes meanwhile): a crash of this node before that write leaves no record, and
      // a resume runs the step again, as after a crash before it started. A step in this process (worker
      // threads, or a runner that does not say: StepRunner.outOfProcess) waits for the record: if it brings the process down, resume
      // counts the attempt as interrupted. The record's batch is written before the step's result (one queue).
      const running = this.writeRunning(rec)
      this.runningWrites.set(rec, running)
      await this.recorded
      this.env.emit({ type: 'pl:step:started', runId: this.run.id, step: step.id, key, attempt })
      try {
        this.signal.throwIfAborted()
        const out = await attemptFn(rec, attempt)
        await running
        this.signal.throwIfAborted()
        // the output block and the step record in one batch: the output is journaled before any dependent starts
        const encoded = this.encodedOutputs.get(rec)
        this.encodedOutputs.delete(rec)
        const { cid, op } = encoded != null && (encoded.output ?? null) === (out ?? null) ? this.env.store.blocks.putBytesOp(encoded.bytes) : this.env.store.blocks.putOp(out ?? null)
        Object.assign(rec, { state: 'succeeded', ended: this.env.clock.now(), output: cid })
        delete rec.waiting
        const finished: ExecEvent = { type: 'pl:step:finished', runId: this.run.id, step: step.id, key, outputCid: cid, usage: rec.usage, runner: rec.runner, replayed: false }
        // the receipt block (a remote step's) goes in the same batch as the output and the record naming both
        const ops = [...this.takeReceiptOp(rec), op]
        if (this.isLastStep(step, key)) {
          // nothing else of the run is left to run, so no step waits for this one: its success goes in the
          // run's final batch (written right after this returns), and its event follows that batch
          this.last.ops.push(...ops, this.env.journal.stepOp(rec))
          this.last.events.push(finished)
          return out ?? null
        }
        await this.env.journal.putStep(rec, undefined, ops)
        this.env.emit(finished)
        return out ?? null
      } catch (err0) {
        const aborted = this.signal.aborted
        const err = (aborted ? this.signal.reason : err0) as Error
        if (err instanceof ExecutorStoppedError) {
          // not the step's fault: keep it resumable without using up a retry
          if (rec.state !== 'waiting-human') await this.env.journal.putStep({ ...rec, attempts: attempt - 1, reason: 'executor stopped' }, undefined, this.takeReceiptOp(rec)).catch((e: unknown) => { this.journalFailed(step.id, key, e) })
          throw err
        }
        const error: ErrorData = errorToData(aborted ? err : err0)
        const usage = (err0 as { details?: { usage?: StepRecord['usage'] } }).details?.usage
        const willRetry = !aborted && (err0 as { retryable?: boolean }).retryable === true && attempt <= policy.max
        Object.assign(rec, { state: 'failed', ended: this.env.clock.now(), error, ...(usage != null ? { usage } : {}) })
        delete rec.waiting
        await this.env.journal.putStep(rec, undefined, this.takeReceiptOp(rec)).catch((e: unknown) => { this.journalFailed(step.id, key, e) })
        this.env.emit({ type: 'pl:step:failed', runId: this.run.id, step: step.id, key, error, attempt, willRetry })
        if (!willRetry) throw withStepDetails(aborted ? err : err0 as Error, { run: this.run.id, step: key })
        // exponential with equal jitter (half fixed, half random), so steps that failed together do not retry in lockstep
        const ceiling = policy.backoff_ms * 2 ** (attempt - 1)
        const backoff = Math.round(ceiling / 2 + Math.random() * ceiling / 2)
        this.log.info({ step: key, attempt, backoff_ms: backoff, err: error.message }, 'retrying step')
        await clockSleep(this.env.clock, backoff, this.signal)
      }
    }
  }

  /**
   * Writes a `running` record (a copy: the caller's record changes meanwhile): for a first step of a run just
   * submitted in the run record's batch (the promise is that batch's write), otherwise on its own.
   */
  private writeRunning (rec: StepRecord): Promise<void> {
    let running: Promise<void>
    if (this.firstOps != null) {
      this.firstOps.push(this.env.journal.stepOp({ ...rec }))
      running = this.recorded ?? Promise.resolve()
    } else {
      running = this.env.journal.putStep({ ...rec })
    }
    running.catch(() => {})
    return running
  }

  /** The pending receipt block of an attempt, once (for the batch of its next step record). */
  private takeReceiptOp (rec: StepRecord): BatchOp[] {
    const op = this.receiptOps.get(rec)
    if (op == null) return []
    this.receiptOps.delete(rec)
    return [op]
  }

  /** Whether `key` is the only step of the run left: a top-level step of a DAG-mode run whose other top-level steps are done. */
  private isLastStep (step: Step, key: string): boolean {
    return this.dag.mode !== 'router' && key === step.id && this.topIds.has(step.id) && this.topLeft === 1
  }

  /** A journal write on a failure path failed: the step's failure itself goes on, but say so loudly (log, event, metric, run record). */
  private journalFailed (step: string, key: string, err: unknown): void {
    const error = errorToData(err)
    delete error.stack
    this.run.journal_failures = (this.run.journal_failures ?? 0) + 1
    this.log.error({ step: key, err: error }, 'journal write failed: this step\'s failure is not recorded, so a resume after a crash may run it again')
    this.env.emit({ type: 'pl:step:journal-failed', runId: this.run.id, step, key, error })
  }

  private async callStep (step: Step, key: string, rec: StepRecord, attempt: number, inputData: Record<string, unknown>): Promise<unknown> {
    const query = { runId: this.run.id, dag: this.dag, modules: this.modules }
    const runner = await this.env.resolver.resolve(step, query)
    if (runner == null) {
      const what = step.module != null ? `module '${step.module.key}'` : step.capability != null ? `capability ${step.capability.name}${step.capability.version != null ? `@${step.capability.version}` : ''}` : 'no capability'
      throw new NoRunnerError(`no runner can run step ${step.id} (${what}): no local module provides it`, { step: step.id, capability: step.capability?.name })
    }
    const limits = effectiveLimits(step.limits, this.env.defaults)
    let asks = 0
    let log: Logger | undefined
    const run = this
    const ctx: StepContext = {
      runId: this.run.id,
      ...(this.run.on_behalf_of != null ? { onBehalfOf: this.run.on_behalf_of } : {}),
      ...(this.run.depth != null ? { depth: this.run.depth } : {}),
      key,
      attempt,
      limits,
      dag: this.dag,
      modules: this.modules,
      signal: this.signal,
      progress: (n, total, message) => { this.env.emit({ type: 'pl:step:progress', runId: this.run.id, step: step.id, key, n, total, message }) },
      // a child logger per step only when something logs (most steps never do)
      get log () { return (log ??= run.log.child({ step: key })) },
      addon: async (kind, name, data) => await this.env.addons.call(kind, name, data, { runId: this.run.id, step: key, signal: this.signal }),
      ask: async (q) => await this.ask(step, key, asks++, q, rec, false)
    }
    rec.runner = runner.name
    // a step in this process starts once its `running` record is written (before it takes a slot: no slot waits on the journal)
    const running = this.runningWrites.get(rec)
    if (running != null && runner.outOfProcess?.(step, query) !== true) await running
    const res = runner.ownSlots === true ? await runner.run(step, inputData, ctx) : await this.env.slots.run(async () => await runner.run(step, inputData, ctx), this.signal)
    rec.usage = res.usage
    if (res.outputBytes != null) this.encodedOutputs.set(rec, { output: res.output, bytes: res.outputBytes })
    if (res.executor != null) rec.executor = res.executor
    if (res.receipt != null) {
      // written with the attempt's next record (its success or failure), not in a batch of its own
      const { cid, op } = this.env.store.blocks.putOp(res.receipt)
      rec.receipt = cid
      this.receiptOps.set(rec, op)
    }
    return res.output
  }

  private async humanStep (step: Step, key: string, rec: StepRecord): Promise<unknown> {
    const h = step.human ?? { question: `decision for step ${step.id}`, choices: [] }
    const choice = await this.ask(step, key, 0, { question: h.question, choices: h.choices, timeoutMs: h.timeout_ms }, rec, true)
    return { choice }
  }

  /**
   * A question for a human: answered from the journal when already decided;
   * otherwise the step and the run go to `waiting-human` (journaled) until
   * `decide()` delivers a choice, the timeout passes, or the run aborts.
   */
  private async ask (step: Step, key: string, index: number, q: HumanQuestion, rec: StepRecord, isHumanStep: boolean): Promise<string> {
    const decided = await this.env.journal.getDecision(this.run.id, key, index)
    if (decided != null) return decided.choice
    const prior = this.journaled.get(key)?.waiting
    const since = prior?.ask === index ? prior.since : this.env.clock.now()
    const choices = Array.isArray(q.choices) ? q.choices.map(String) : []
    const timeout = typeof q.timeoutMs === 'number' && q.timeoutMs > 0 ? q.timeoutMs : undefined
    rec.state = 'waiting-human'
    rec.waiting = { ask: index, question: String(q.question), choices, since, ...(timeout != null ? { timeout_ms: timeout } : {}) }
    this.waiting++
    this.run.state = 'waiting-human'
    this.run.updated = this.env.clock.now()
    await this.env.journal.putStep(rec, this.run)
    this.env.emit({ type: 'pl:run:waiting-human', runId: this.run.id, step: step.id, key, question: String(q.question), choices, ...(timeout != null ? { timeout_ms: timeout } : {}) })
    let timer: TimerHandle | undefined
    let onAbort: (() => void) | undefined
    try {
      return await new Promise<string>((resolve, reject) => {
        this.waiters.set(`${key}#${index}`, { resolve, reject })
        // a decision journaled between the check above and now must not be missed
        void this.env.journal.getDecision(this.run.id, key, index).then((d) => { if (d != null) resolve(d.choice) }, () => {})
        onAbort = () => { reject(this.signal.reason) }
        this.signal.addEventListener('abort', onAbort, { once: true })
        if (timeout != null) {
          timer = this.env.clock.setTimeout(() => {
            const policy = step.human?.on_timeout ?? 'fail'
            if (isHumanStep && policy !== 'fail') {
              void this.env.journal.putDecision({ run: this.run.id, key, ask: index, choice: policy, at: this.env.clock.now() }).then(() => { resolve(policy) }, reject)
              return
            }
            reject(new HumanTimeoutError(`no decision for step ${key} within ${timeout} ms (question: ${String(q.question)})`, { step: key, limit: 'timeout_ms', limit_value: timeout, measured: this.env.clock.now() - since }))
          }, Math.max(0, since + timeout - this.env.clock.now()))
        }
      })
    } finally {
      this.env.clock.clearTimeout(timer)
      if (onAbort != null) this.signal.removeEventListener('abort', onAbort)
      this.waiters.delete(`${key}#${index}`)
      this.waiting--
      if (!(this.signal.reason instanceof ExecutorStoppedError)) {
        rec.state = 'running'
        delete rec.waiting
        if (this.waiting === 0 && this.run.state === 'waiting-human') this.run.state = 'running'
        this.run.updated = this.env.clock.now()
        await this.env.journal.putStep(rec, this.run)
      }
    }
  }
}

function parseNext (out: unknown, routerId: string): string[] {
  if (out == null || typeof out !== 'object' || Array.isArray(out) || !('next' in out)) {
    throw new RouterError(`router step ${routerId} must return {next: string | string[] | null}, got ${JSON.stringify(out)?.slice(0, 200)}`)
  }
  const next = out.next
  if (next == null) return []
  if (typeof next === 'string') return next === '' ? [] : [next]
  if (Array.isArray(next) && next.every(n => typeof n === 'string')) return next
  throw new RouterError(`router step ${routerId} returned an invalid next: ${JSON.stringify(next).slice(0, 200)}`)
}
