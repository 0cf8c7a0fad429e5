/**
 * The executor as a pl-node service: at start it resumes every journaled run
 * that was running or waiting, and adds the run routes to the control API.
 *
 *   POST /runs               {path?, plan?, input?, wait?} → {runId} (the run view with wait: true)
 *   GET  /runs               → RunRecord[]
 *   GET  /runs/:id           → {run, steps, output?, waiting?}
 *   GET  /runs/:id/events    ?since=N → {events, next} (poll with next)
 *   POST /runs/:id/decide    {step, choice}
 *   POST /runs/:id/cancel
 *   POST /runs/:id/resume
 *   GET  /exec/containment   → {python?: {mode, reason?}, js?: {isolation, mode, reason?}}
 */
import { resolve } from 'node:path'
import { InvalidRequestError } from '../api/errors.js'
import type { ControlApi } from '../api/index.js'
import type { PlComponents, PlService } from '../node.js'
import { compileDsl, loadWorkflow, sweepBundleTemps } from '../workflow/index.js'
import * as workflowErrors from '../workflow/errors.js'
import { Executor, type ExecutorInit } from './executor.js'
import { runView } from './view.js'
import { DEFAULT_MEM_MB } from './constants.js'

export interface ExecServiceInit extends Omit<ExecutorInit, 'store' | 'logger' | 'metrics'> {
  /** resume journaled runs when the service starts @default true */
  resume?: boolean
}

export interface ExecService extends PlService {
  executor: Executor
}

export type ExecComponents = Pick<PlComponents, 'store' | 'logger' | 'metrics' | 'api'> & Partial<Pick<PlComponents, 'clock'>>

export function exec (init: ExecServiceInit = {}): (components: PlComponents) => ExecService {
  return (components: ExecComponents) => new ExecutorService(components, init)
}

class ExecutorService implements ExecService {
  readonly executor: Executor
  private started = false

  constructor (private readonly components: ExecComponents, private readonly init: ExecServiceInit) {
    // a daemon keeps a spare Python runner: a module's first step does not wait for an interpreter to start
    const python = { warm: true, spareMemMb: init.defaults?.mem_mb ?? DEFAULT_MEM_MB, ...init.poolInit?.python }
    // warmed once the node is ready (afterStart()): the interpreter and containment probes and the spare runner's spawn stay out of a node's start
    this.executor = new Executor({ ...init, warmAtStart: false, poolInit: { ...init.poolInit, python }, store: components.store, logger: components.logger, metrics: components.metrics, clock: init.clock ?? components.clock })
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    // temp folders of ZIP bundles a killed node left behind
    const swept = await sweepBundleTemps()
    if (swept.length > 0) this.components.logger.info({ folders: swept }, 'removed bundle temp folders of processes that are gone')
    this.executor.start()
    if (this.components.api != null) registerRoutes(this.components.api, this.executor)
    if (this.init.resume !== false) {
      const ids = await this.executor.resumeAll()
      if (ids.length > 0) this.components.logger.info({ runs: ids }, 'resumed runs')
    }
  }

  afterStart (): void {
    this.executor.warmUp()
  }

  async stop (): Promise<void> {
    await this.executor.stop()
  }
}

function str (v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

/** Names of the workflow front ends' error classes: a plan or bundle that does not load is the caller's mistake (400). */
function workflowErrorNames (): string[] {
  return Object.entries(workflowErrors).filter(([, v]) => typeof v === 'function').map(([k]) => k)
}

export function registerRoutes (api: ControlApi, executor: Executor): void {
  api.errorStatus(workflowErrorNames(), 400)
  api.errorStatus(['InvalidDecisionError'], 400)
  api.errorStatus(['DecisionNotPendingError', 'RunNotResumableError'], 409)
  api.route('POST', '/runs', async ({ body }) => {
    const b = (body ?? {}) as Record<string, unknown>
    const path = str(b.path)
    const plan = str(b.plan)
    if ((path == null) === (plan == null)) throw new InvalidRequestError('POST /runs needs exactly one of "path" (a workflow folder, workflow.json, .zip or .yaml on this node) or "plan" (DSL YAML text)')
    if (b.input != null && (typeof b.input !== 'object' || Array.isArray(b.input))) throw new InvalidRequestError('"input" must be a JSON object')
    const input = (b.input ?? {}) as Record<string, unknown>
    let runId: string
    if (path != null) {
      const source = resolve(path)
      const wf = await loadWorkflow(source)
      try {
        runId = await executor.submit(wf.dag, input, { modules: wf.bundle?.modules, source, cleanup: wf.cleanup })
      } catch (err) {
        await wf.cleanup()
        throw err
      }
    } else {
      runId = await executor.submit(compileDsl(plan as string, { file: 'plan.yaml' }), input)
    }
    if (b.wait !== true) return { runId }
    await executor.wait(runId, { untilWaiting: true })
    return await runView(executor, runId)
  })
  api.route('GET', '/runs', async () => await executor.list())
  // how a step's processes are kept from outliving it (python is absent until the pool probed it)
  api.route('GET', '/exec/containment', async () => executor.pool.containment())
  api.route('GET', '/runs/:id', async ({ params }) => await runView(executor, params.id))
  api.route('GET', '/runs/:id/events', async ({ params, query }) => {
    await executor.get(params.id)
    const since = Number(query.since ?? 0)
    if (!Number.isInteger(since) || since < 0) throw new InvalidRequestError('"since" must be a non-negative integer')
    return executor.events(params.id, since)
  })
  api.route('POST', '/runs/:id/decide', async ({ params, body }) => {
    const step = str(body?.step)
    const choice = typeof body?.choice === 'string' ? body.choice : undefined
    if (step == null || choice == null) throw new InvalidRequestError('POST /runs/:id/decide needs {"step": <step key>, "choice": <string>}')
    await executor.decide(params.id, step, choice)
    return { ok: true }
  })
  api.route('POST', '/runs/:id/cancel', async ({ params }) => await executor.cancel(params.id))
  api.route('POST', '/runs/:id/resume', async ({ params }) => {
    await executor.resume(params.id)
    return { ok: true }
  })
}
