/**
 * The Executor: submits, resumes, cancels and answers runs of Task DAGs on
 * this node. Embeddable (tests, `pl run` in-process) and wrapped as a daemon
 * service by `exec()`. Runs are journaled in the Store; `resumeAll()` picks
 * up every run that was running or waiting for a human when the process
 * stopped. Progress is typed events (`on('event')`, `events(runId)`).
 */
import { EventEmitter } from 'node:events'
import { randomUUID } from 'node:crypto'
import { access } from 'node:fs/promises'
import type { Logger } from 'pino'
import { errorToData } from '../core/errors.js'
import { silentLogger } from '../core/logger.js'
import { type Metrics, folderCid, type ModuleSpec } from '../core/index.js'
import type { Store } from '../store/index.js'
import { type RetryPolicy, type Step, type TaskDag, loadWorkflow } from '../workflow/index.js'
import { Addons, type AddonCallback, type AddonsConfig } from './addons.js'
import { DagCache } from './dag-cache.js'
import { DEFAULT_CONCURRENCY } from './constants.js'
import {
  DecisionNotPendingError, ExecutorStoppedError, InvalidDecisionError, ModuleChangedError,
  RunCancelledError, RunNotFoundError, RunNotResumableError, RunOrphanedError
} from './errors.js'
import { resolveCidInputs } from './inputs.js'
import { checkRunInputs } from './run-inputs.js'
import { Journal } from './journal.js'
import { LocalRunner, type LocalCapabilities } from './local-runner.js'
import { ModulePool, type ModulePoolInit } from './pool.js'
import { systemClock, type Clock } from './clock.js'
import { RunExecution } from './run.js'
import { Semaphore } from './semaphore.js'
import type { EffectiveLimits, ExecEvent, RunRecord, RunState, RunnerQuery, StepRecord, StepResolver, StepRunner } from './types.js'
import { ExecMetrics } from './metrics.js'

export interface ExecutorInit {
  store: Store
  /** warm the pool (warmUp) in start() @default true; false: the owner calls warmUp() when it suits */
  warmAtStart?: boolean
  logger?: Logger
  metrics?: Metrics
  /** tried in order after the local runner */
  runners?: StepRunner[]
  /** wraps the local runner (e.g. the receipts service gives every local step a self-signed receipt) */
  wrapLocal?: (local: StepRunner) => StepRunner
  /** modules installed on this node, for DSL capability steps */
  localCapabilities?: LocalCapabilities
  addons?: AddonsConfig
  /** steps running at once across all runs @default max(2, available parallelism) */
  concurrency?: number
  /** node defaults under each step's own limits @default {wall_ms: 60000, mem_mb: 512} */
  defaults?: Partial<EffectiveLimits>
  /** @default {max: 2, backoff_ms: 200} */
  retry?: RetryPolicy
  /** a pool to share (e.g. with the provider side); otherwise one is created from `poolInit` and closed on stop */
  pool?: ModulePool
  poolInit?: ModulePoolInit
  /** events kept per run for polling @default 2000 */
  maxEventsPerRun?: number
  /** largest output of a local step in dag-cbor bytes (InvalidOutputError beyond) @default DEFAULT_MAX_OUTPUT_BYTES (16 MiB) */
  maxOutputBytes?: number
  /** run deadlines, retry backoff, human-question timeouts, journaled times and (for a pool it creates) step wall limits @default systemClock */
  clock?: Clock
}

export interface SubmitOptions {
  /** bundle modules by module key */
  modules?: Record<string, ModuleSpec>
  /** the workflow file/folder the run came from (shown by `pl runs`; used by `pl run --resume`) */
  source?: string
  runId?: string
  /** called once the run settles in this executor (ended or stopped), e.g. to remove an unpacked bundle */
  cleanup?: () => Promise<void>
  /** PeerId of the agent the run is for (an agent that signed its request to the gateway): recorded in the run and in every receipt */
  onBehalfOf?: string
  /** composite nesting (the inner run of a composite capability): its remote calls carry it */
  depth?: number
  /**
   * the call this run serves (a composite's inner run: `<outer run>/<step key>`). Such a run is
   * not resumed after a restart (`resumeAll`): its caller's connection ended with the node, the
   * caller failed over, and nobody waits for its result; it ends `cancelled` (RunOrphanedError).
   */
  serves?: string
}

export type SeqEvent = ExecEvent & { seq: number }

const TERMINAL: RunState[] = ['succeeded', 'failed', 'cancelled']
/** Runs whose events are kept in memory after they end. */
const KEPT_EVENT_LOGS = 200

export class Executor extends EventEmitter {
  readonly pool: ModulePool

  /** node defaults under each step's own limits (what a step's effective limits are computed with) */
  get defaults (): Partial<EffectiveLimits> {
    return this.init.defaults ?? {}
  }
  readonly addons: Addons
  readonly local: LocalRunner
  /** the local runner as the scheduler sees it (wrapped by `wrapLocal`) */
  private readonly firstRunner: StepRunner
  private readonly init: ExecutorInit
  private readonly log: Logger
  /** run deadlines, journaled times, retry backoff, question timeouts */
  private readonly clock: Clock
  private readonly slots: Semaphore
  private readonly ownsPool: boolean
  private readonly metrics?: ExecMetrics
  /** DAGs submitted recently, validated and encoded */
  private readonly dags: DagCache
  private journal?: Journal
  private readonly active = new Map<string, { exec: RunExecution, done: Promise<RunRecord> }>()
  /** wait({untilWaiting}) callers per run: told when the run pauses for a human (no emitter listener per waiter) */
  private readonly humanWaiters = new Map<string, Set<() => void>>()
  private readonly eventLogs = new Map<string, { next: number, list: SeqEvent[] }>()
  /** a resume (or a cancel of an inactive run) in progress per run: nothing else may start or cancel it meanwhile */
  private readonly starting = new Map<string, Promise<unknown>>()
  /** the tail of each run's queue of decide() calls, which run one at a time */
  private readonly deciding = new Map<string, Promise<void>>()
  private state: 'created' | 'started' | 'stopping' | 'stopped' = 'created'

  constructor (init: ExecutorInit) {
    super()
    this.clock = init.clock ?? systemClock
    this.init = init
    this.log = (init.logger ?? silentLogger()).child({ component: 'exec' })
    this.ownsPool = init.pool == null
    this.pool = init.pool ?? new ModulePool({ clock: init.clock, ...init.poolInit, logger: this.log })
    this.addons = new Addons(init.addons, this.log)
    this.local = new LocalRunner(this.pool, init.localCapabilities, { maxOutputBytes: init.maxOutputBytes })
    this.firstRunner = init.wrapLocal?.(this.local) ?? this.local
    this.slots = new Semaphore(init.concurrency ?? DEFAULT_CONCURRENCY)
    this.dags = new DagCache(init.store.blocks)
    if (init.metrics != null) this.metrics = new ExecMetrics(init.metrics)
  }

  get isStarted (): boolean {
    return this.state === 'started'
  }

  start (): void {
    if (this.state === 'started') return
    if (this.state !== 'created') throw new ExecutorStoppedError('a stopped Executor cannot be started again; create a new one')
    this.journal = new Journal(this.init.store)
    this.state = 'started'
    if (this.init.warmAtStart !== false) this.warmUp()
  }

  /**
   * With a warm pool (`poolInit.python.warm`): resolves the interpreter and
   * probes containment now, not in the first step, and starts a spare
   * runner; in the background. Idempotent.
   */
  warmUp (): void {
    if (this.state !== 'started' || this.warming || !this.ownsPool || this.init.poolInit?.python?.warm !== true) return
    this.warming = true
    this.pool.start().then((c) => { this.metrics?.containment(c); this.log.info({ containment: c }, 'module pool ready') }, (err: Error) => { this.log.warn({ err: err.message }, 'module pool start failed') })
  }

  private warming = false

  /** Stops every active run (their journal stays resumable) and closes workers and processes. */
  async stop (): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return
    const wasStarted = this.state === 'started'
    this.state = 'stopping'
    if (wasStarted) {
      const runs = [...this.active.values()]
      for (const r of runs) r.exec.abort(new ExecutorStoppedError('the executor stopped; the run can be resumed'))
      await Promise.allSettled(runs.map(async r => await r.done))
    }
    await Promise.allSettled((this.init.runners ?? []).map(async r => await r.stop?.()))
    if (this.ownsPool) await this.pool.close()
    this.state = 'stopped'
  }

  registerCallback (name: string, fn: AddonCallback): void {
    this.addons.registerCallback(name, fn)
  }

  private j (): Journal {
    if (this.state !== 'started' || this.journal == null) throw new ExecutorStoppedError(this.state === 'created' ? 'the executor is not started' : 'the executor is stopped')
    return this.journal
  }

  private readonly resolver: StepResolver = {
    resolve: async (step: Step, query: RunnerQuery) => {
      for (const r of [this.firstRunner, ...(this.init.runners ?? [])]) if (await r.canRun(step, query)) return r
      return undefined
    }
  }

  private emitEvent (ev: ExecEvent): void {
    let log = this.eventLogs.get(ev.runId)
    if (log == null) {
      log = { next: 0, list: [] }
      this.eventLogs.set(ev.runId, log)
      if (this.eventLogs.size > KEPT_EVENT_LOGS) {
        for (const id of this.eventLogs.keys()) {
          if (!this.active.has(id)) { this.eventLogs.delete(id); break }
        }
      }
    }
    const seq = log.next++
    log.list.push({ ...ev, seq })
    const max = this.init.maxEventsPerRun ?? 2000
    if (log.list.length > max) log.list.splice(0, log.list.length - max)
    this.metrics?.observe(ev)
    if (ev.type === 'pl:run:waiting-human') for (const w of this.humanWaiters.get(ev.runId) ?? []) w()
    this.emit('event', ev)
  }

  /** Events of a run with `seq >= since` (kept in memory; a restart starts a new log). */
  events (runId: string, since = 0): { events: SeqEvent[], next: number } {
    const log = this.eventLogs.get(runId)
    if (log == null) return { events: [], next: since }
    return { events: log.list.filter(e => e.seq >= since), next: log.next }
  }

  async submit (dag: TaskDag, input: Record<string, unknown> = {}, opts: SubmitOptions = {}): Promise<string> {
    const journal = this.j()
    // validated (validateDag) and encoded, or the same DAG's block from a recent submit
    const dagBlock = this.dags.blockOf(dag)
    // 32 random bits: the first 8 hex digits of a random UUID (Node draws those from a pooled buffer; no syscall per run)
    const id = opts.runId ?? `r${this.clock.now().toString(36)}-${randomUUID().slice(0, 8)}`
    // an id of its own making (time + 32 random bits) is new: only a caller's id is looked up
    if (opts.runId != null && await journal.getRun(id) != null) throw new RunNotResumableError(`a run with id ${id} exists already`, { run: id })
    const blocks = this.init.store.blocks
    for (const w of (await checkRunInputs(dag.inputs, input, blocks)).warnings) this.log.warn({ run: id }, w)
    const resolved = await resolveCidInputs({ ...dag.inputs, ...input }, blocks)
    const now = this.clock.now()
    // the DAG and input blocks go in the batch of the run record naming them
    const inputBlock = blocks.putOp(resolved)
    const run: RunRecord = {
      v: 1,
      id,
      name: dag.name,
      state: 'running',
      dag: dagBlock.cid,
      input: inputBlock.cid,
      ...(opts.source != null ? { source: opts.source } : {}),
      ...(opts.onBehalfOf != null ? { on_behalf_of: opts.onBehalfOf } : {}),
      ...(opts.depth != null ? { depth: opts.depth } : {}),
      ...(opts.serves != null ? { serves: opts.serves } : {}),
      modules: opts.modules ?? {},
      created: now,
      updated: now,
      ...(typeof dag.constraints.deadline_ms === 'number' ? { deadline: now + dag.constraints.deadline_ms } : {})
    }
    // launched before its record is written: the `running` records of the steps it starts at once go in the
    // same batch, and they run once it is written; if it cannot be, the run stops there, leaves nothing
    // in the journal, and submit fails
    const recorded = Promise.withResolvers<void>()
    recorded.promise.catch(() => {})
    const { exec, done } = this.launch(run, dag, resolved, run.modules, opts.cleanup, opts.runId == null, recorded.promise)
    try {
      await journal.putRun(run, [dagBlock.op, inputBlock.op, ...exec.takeFirstOps()])
      recorded.resolve()
    } catch (err) {
      recorded.reject(err)
      await done.catch(() => {})
      throw err
    }
    this.log.info({ run: id, name: dag.name, steps: Object.keys(dag.steps).length }, 'run submitted')
    return id
  }

  /**
   * `fresh`: a run just submitted under an id of our making: nothing of it can be journaled yet;
   * `recorded`: the write of its run record, in flight
   */
  private launch (run: RunRecord, dag: TaskDag, input: Record<string, unknown>, modules: Record<string, ModuleSpec>, cleanupFn?: () => Promise<void>, fresh = false, recorded?: Promise<void>): { exec: RunExecution, done: Promise<RunRecord> } {
    const exec = new RunExecution({
      store: this.init.store,
      journal: this.j(),
      logger: this.log,
      resolver: this.resolver,
      slots: this.slots,
      addons: this.addons,
      defaults: this.init.defaults ?? {},
      retry: this.init.retry,
      clock: this.clock,
      emit: (ev) => { this.emitEvent(ev) }
    }, run, dag, input, modules, fresh, recorded)
    // the run's cleanup (its ZIP bundle's temp folder) is part of the run: whoever waits for the run waits for it too
    const cleanup = async (): Promise<void> => {
      await cleanupFn?.().catch((err: Error) => { this.log.warn({ run: run.id, err: err.message }, 'run cleanup failed') })
      this.active.delete(run.id)
    }
    const done = exec.execute().then(async (r) => {
      await cleanup()
      this.log.info({ run: r.id, state: r.state, err: r.error?.message }, 'run ended')
      return r
    }, async (err: Error) => {
      await cleanup()
      this.log.info({ run: run.id, err: err.message }, 'run stopped')
      throw err
    })
    done.catch(() => {})
    this.active.set(run.id, { exec, done })
    return { exec, done }
  }

  /**
   * Continues a journaled run: finished steps are replayed from the journal,
   * an interrupted step is retried per its policy. `modules` replaces the
   * bundle paths recorded at submit (e.g. after re-unpacking a ZIP).
   */
  async resume (runId: string, opts: { modules?: Record<string, ModuleSpec> } = {}): Promise<void> {
    this.j()
    // no await unless something is in progress: the check and `exclusively` must not interleave with another call
    for (let p = this.starting.get(runId); p != null; p = this.starting.get(runId)) await p.catch(() => {})
    if (this.active.has(runId)) return
    await this.exclusively(runId, async () => { await this.startRun(runId, opts) })
  }

  /** Runs `fn` as the one resume/cancel in progress for `runId`; callers check `starting` with no await in between. */
  private async exclusively<T> (runId: string, fn: () => Promise<T>): Promise<T> {
    const p = fn()
    this.starting.set(runId, p)
    try {
      return await p
    } finally {
      if (this.starting.get(runId) === p) this.starting.delete(runId)
    }
  }

  private async startRun (runId: string, opts: { modules?: Record<string, ModuleSpec> }): Promise<void> {
    const journal = this.j()
    const run = await journal.getRun(runId)
    if (run == null) throw new RunNotFoundError(`no run ${runId} in this node's journal`, { run: runId })
    if (TERMINAL.includes(run.state)) throw new RunNotResumableError(`run ${runId} has ended (${run.state}); only running or waiting runs can be resumed`, { run: runId, state: run.state })
    const dag = await this.init.store.blocks.get<TaskDag>(run.dag)
    const input = await this.init.store.blocks.get<Record<string, unknown>>(run.input)
    let modules = run.modules
    let cleanup: (() => Promise<void>) | undefined
    if (opts.modules == null && run.source != null && await someFolderMissing(modules)) {
      // e.g. a ZIP bundle whose temp folder is gone: unpack its source again
      const loaded = await loadWorkflow(run.source)
      cleanup = loaded.cleanup
      if (loaded.bundle != null) opts = { modules: loaded.bundle.modules }
    }
    try {
      if (opts.modules != null) {
        modules = opts.modules
        run.modules = modules
      }
      await checkModules(dag, modules)
      if (this.active.has(runId)) { await cleanup?.(); return }
    } catch (err) {
      await cleanup?.()
      throw err
    }
    // a waiting run goes back to waiting when its question is asked again
    run.state = 'running'
    run.updated = this.clock.now()
    await journal.putRun(run)
    this.log.info({ run: runId }, 'resuming run')
    this.launch(run, dag, input, modules, cleanup)
  }

  /** Resumes every journaled run that was running or waiting; returns their ids. */
  async resumeAll (): Promise<string[]> {
    const out: string[] = []
    for (const run of await this.j().listRuns()) {
      if (TERMINAL.includes(run.state) || this.active.has(run.id)) continue
      if (run.serves != null) {
        // nobody waits for it any more (see SubmitOptions.serves): end it instead of running it for nothing
        const err = new RunOrphanedError(`run ${run.id} served the call ${run.serves}, which ended when this node stopped (the caller failed over); it is not resumed`, { run: run.id, serves: run.serves })
        this.log.info({ run: run.id, serves: run.serves }, 'not resuming an orphaned inner run')
        Object.assign(run, { state: 'cancelled', error: errorToData(err), updated: this.clock.now(), ended: this.clock.now() })
        await this.j().putRun(run)
        continue
      }
      try {
        await this.resume(run.id)
        out.push(run.id)
      } catch (err) {
        this.log.warn({ run: run.id, err: (err as Error).message }, 'cannot resume run')
        if ((err as Error).name === 'ModuleChangedError') {
          Object.assign(run, { state: 'failed', error: errorToData(err), updated: this.clock.now(), ended: this.clock.now() })
          await this.j().putRun(run)
        }
      }
    }
    return out
  }

  /** Cancels a run: running steps are killed; the run ends `cancelled`. */
  async cancel (runId: string): Promise<RunRecord> {
    const journal = this.j()
    // a resume in progress launches the run first; the cancel then aborts it instead of being overwritten
    for (let p = this.starting.get(runId); p != null; p = this.starting.get(runId)) await p.catch(() => {})
    const active = this.active.get(runId)
    if (active != null) {
      active.exec.abort(new RunCancelledError(`run ${runId} was cancelled`, { run: runId }))
      return await active.done
    }
    return await this.exclusively(runId, async () => await this.cancelJournaled(journal, runId))
  }

  private async cancelJournaled (journal: Journal, runId: string): Promise<RunRecord> {
    const run = await journal.getRun(runId)
    if (run == null) throw new RunNotFoundError(`no run ${runId} in this node's journal`, { run: runId })
    if (TERMINAL.includes(run.state)) throw new RunNotResumableError(`run ${runId} has ended (${run.state})`, { run: runId, state: run.state })
    Object.assign(run, { state: 'cancelled', error: errorToData(new RunCancelledError(`run ${runId} was cancelled`)), updated: this.clock.now(), ended: this.clock.now() })
    await journal.putRun(run)
    return run
  }

  /**
   * Answers the question a step is waiting on. The decision is journaled
   * first; an active run continues at once, a journaled one is resumed.
   */
  async decide (runId: string, stepKey: string, choice: string): Promise<void> {
    this.j()
    // one decision at a time per run: a second answer to the same question must see the first
    const mine = (this.deciding.get(runId) ?? Promise.resolve()).then(async () => { await this.decideNow(runId, stepKey, choice) })
    const tail = mine.then(() => {}, () => {})
    this.deciding.set(runId, tail)
    try {
      await mine
    } finally {
      if (this.deciding.get(runId) === tail) this.deciding.delete(runId)
    }
  }

  private async decideNow (runId: string, stepKey: string, choice: string): Promise<void> {
    const journal = this.j()
    const run = await journal.getRun(runId)
    if (run == null) throw new RunNotFoundError(`no run ${runId} in this node's journal`, { run: runId })
    const step = await journal.getStep(runId, stepKey)
    if (step == null || step.state !== 'waiting-human' || step.waiting == null) {
      throw new DecisionNotPendingError(`step ${stepKey} of run ${runId} is not waiting for a decision${step != null ? ` (it is ${step.state})` : ''}`, { run: runId, step: stepKey })
    }
    const { ask, choices } = step.waiting
    if (choices.length > 0 && !choices.includes(choice)) {
      throw new InvalidDecisionError(`'${choice}' is not a choice of step ${stepKey} (choices: ${choices.join(', ')})`, { run: runId, step: stepKey, choice, choices })
    }
    // the step record may still say waiting while the run takes in an earlier answer
    const earlier = await journal.getDecision(runId, stepKey, ask)
    if (earlier != null) {
      throw new DecisionNotPendingError(`step ${stepKey} of run ${runId} has been decided already ('${earlier.choice}')`, { run: runId, step: stepKey, choice: earlier.choice })
    }
    await journal.putDecision({ run: runId, key: stepKey, ask, choice, at: this.clock.now() })
    this.log.info({ run: runId, step: stepKey, choice }, 'decision recorded')
    const active = this.active.get(runId)
    if (active != null) {
      active.exec.deliverDecision(stepKey, ask, choice)
      return
    }
    if (!TERMINAL.includes(run.state)) await this.resume(runId)
  }

  async list (): Promise<RunRecord[]> {
    return await this.j().listRuns()
  }

  async get (runId: string): Promise<{ run: RunRecord, steps: StepRecord[] }> {
    const journal = this.j()
    const run = await journal.getRun(runId)
    if (run == null) throw new RunNotFoundError(`no run ${runId} in this node's journal`, { run: runId })
    // the live run is copied before the steps are read: a run read as ended had journaled its steps already, and
    // the answer is a snapshot (the live record would turn `succeeded` under a caller still holding older steps)
    const live = this.active.get(runId)?.exec.run
    return { run: live != null ? structuredClone(live) : run, steps: await journal.listSteps(runId) }
  }

  /** The decoded output document of a succeeded run. */
  async output (run: RunRecord): Promise<unknown> {
    if (run.output == null) return undefined
    return await this.init.store.blocks.get(run.output)
  }

  isActive (runId: string): boolean {
    return this.active.has(runId)
  }

  /**
   * Resolves with the run record once the run has ended (or, with
   * `untilWaiting`, once it waits for a human). Rejects with
   * ExecutorStoppedError if the executor stops first.
   */
  async wait (runId: string, options: { signal?: AbortSignal, untilWaiting?: boolean } = {}): Promise<RunRecord> {
    const active = this.active.get(runId)
    if (active == null) {
      const run = await this.j().getRun(runId)
      if (run == null) throw new RunNotFoundError(`no run ${runId} in this node's journal`, { run: runId })
      if (TERMINAL.includes(run.state) || options.untilWaiting === true) return run
      throw new RunNotResumableError(`run ${runId} is ${run.state} but not active in this executor; resume it first`, { run: runId, state: run.state })
    }
    if (options.untilWaiting === true && active.exec.run.state === 'waiting-human') return active.exec.run
    return await new Promise<RunRecord>((resolve, reject) => {
      // many concurrent waits (a gateway under load) must not pile listeners on the executor's emitter
      const onHuman = (): void => { off(); resolve(active.exec.run) }
      const onAbort = (): void => { off(); reject(options.signal?.reason) }
      const off = (): void => {
        const set = this.humanWaiters.get(runId)
        set?.delete(onHuman)
        if (set?.size === 0) this.humanWaiters.delete(runId)
        options.signal?.removeEventListener('abort', onAbort)
      }
      if (options.untilWaiting === true) {
        let set = this.humanWaiters.get(runId)
        if (set == null) this.humanWaiters.set(runId, set = new Set())
        set.add(onHuman)
      }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      active.done.then((r) => { off(); resolve(r) }, (err) => { off(); reject(err) })
    })
  }
}

async function someFolderMissing (modules: Record<string, ModuleSpec>): Promise<boolean> {
  for (const m of Object.values(modules)) {
    try {
      await access(m.dir)
    } catch {
      return true
    }
  }
  return false
}

/** Refuses to resume when a recorded module folder no longer has the CID the plan pins. */
async function checkModules (dag: TaskDag, modules: Record<string, ModuleSpec>): Promise<void> {
  for (const step of Object.values(dag.steps)) {
    if (step.module == null) continue
    const spec = modules[step.module.key]
    if (spec == null) continue
    let cid: string
    try {
      cid = await folderCid(spec.dir)
    } catch {
      continue // a missing folder fails the step with ModuleLoadError when it runs
    }
    if (cid !== step.module.cid) {
      throw new ModuleChangedError(`module '${step.module.key}' in ${spec.dir} changed since the run started (CID ${cid}, the plan pins ${step.module.cid})`, { module: step.module.key, expected: step.module.cid, actual: cid })
    }
  }
}
