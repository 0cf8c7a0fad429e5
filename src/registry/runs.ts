/**
 * The executor side of registered workflows (the `/dsl-executor/*` routes):
 * run one through the exec service's own submit API, warm an executor for
 * one (bundle fetched and unpacked, providers of its negotiated steps found
 * in advance) and release that again.
 */
import { effectiveLimits, type ExecService } from '../exec/index.js'
import type { PlComponents } from '../node.js'
import type { Logger } from '../core/logger.js'
import type { ModuleSpec } from '../core/index.js'
import { runView } from '../exec/view.js'
import type { RunState } from '../exec/types.js'
import { loadWorkflow, type LoadedWorkflow, type TaskDag } from '../workflow/index.js'
import type { Registry, RecordView } from './service.js'
import { InvalidWorkflowBundleError, RegistryUnavailableError, RunAddonMissingError } from './errors.js'
import type { Principal } from '../gateway/types.js'

export interface ExecuteRequest {
  input?: Record<string, unknown>
  /** addons the run needs, by kind: each must be configured on this node (URLs and keys never come with a request) */
  addons?: { webhook?: string[], llm?: string[], callback?: string[] }
  version?: string
  wait?: boolean
}

export interface ExecuteAnswer { runId: string, state?: RunState, output?: unknown, workflow_id: string, version: string }

export interface NegotiatedStep { step: string, capability: string, version?: string, providers: number, error?: string }

export interface InfraReport {
  workflow_id: string
  version: string
  record: string
  kind: 'bundle' | 'plan'
  /** the local file the executor runs */
  path: string
  /** bundles: the unpacked folder kept until remove-infra */
  unpacked?: string
  /** module keys of the bundle, pinned by CID */
  modules: Record<string, string>
  /** runners started ahead of the first step, per bundle module (`started: false` with the reason when there is nothing to start) */
  pools: { started: boolean, reason?: string, modules: Array<{ module: string, started: boolean, reason?: string }> }
  negotiated: NegotiatedStep[]
  ready: boolean
}

interface Warm { record: RecordView, path: string, loaded: LoadedWorkflow, report: InfraReport }

/** What the registry's runs read of the discovery service (src/discovery satisfies it). */
export interface FinderLike { find: (q: { name: string, version?: string }, o?: { signal?: AbortSignal, timeoutMs?: number }) => Promise<Array<{ provider: string }>>, localCapability?: (name: string, version?: string) => unknown }

/** The services the registry's runs use: the executor runs them, discovery finds providers of negotiated steps. */
export interface RunsServices {
  exec?: ExecService
  discovery?: FinderLike
}

type RunsComponents = Pick<PlComponents, 'logger'> & { services: RunsServices }

/** Names of the addons an executor configures (read through its Addons object). */
function configuredAddons (exec: ExecService): { webhook: Set<string>, llm: Set<string>, callback: Set<string> } {
  const a = exec.executor.addons as unknown as { webhooks?: Record<string, unknown>, llms?: Record<string, unknown>, callbacks?: Map<string, unknown> }
  return { webhook: new Set(Object.keys(a.webhooks ?? {})), llm: new Set(Object.keys(a.llms ?? {})), callback: new Set(a.callbacks?.keys() ?? []) }
}

export class RegistryRuns {
  private readonly warm = new Map<string, Warm>()
  private readonly log: Logger

  constructor (private readonly c: RunsComponents, private readonly registry: Registry, private readonly init: { findTimeoutMs?: number } = {}) {
    this.log = c.logger.child({ component: 'registry-runs' })
  }

  private exec (): ExecService {
    const exec = this.c.services.exec
    if (exec?.executor == null) throw new RegistryUnavailableError('this node runs no executor (services.exec)')
    return exec
  }

  private async load (path: string, what: string): Promise<LoadedWorkflow> {
    try {
      return await loadWorkflow(path)
    } catch (err) {
      const name = (err as Error).name
      if (name !== 'Error' && name !== 'TypeError') throw new InvalidWorkflowBundleError(`${what} does not load on this node: ${(err as Error).message}`, { cause: name })
      throw err
    }
  }

  /** `POST /dsl-executor/:id/execute_dsl`: submits a run of the registered workflow; with `wait` answers once it ends. */
  async execute (id: string, req: ExecuteRequest, options: { signal?: AbortSignal, principal?: Principal } = {}): Promise<ExecuteAnswer> {
    const exec = this.exec()
    if (req.addons != null) {
      const have = configuredAddons(exec)
      for (const kind of ['webhook', 'llm', 'callback'] as const) {
        for (const name of req.addons[kind] ?? []) {
          if (!have[kind].has(name)) throw new RunAddonMissingError(`no ${kind} addon named '${name}' is configured on this node`, { kind, name, known: [...have[kind]] })
        }
      }
    }
    const warm = this.warm.get(id)
    let dag: TaskDag
    let submit: { modules?: Record<string, ModuleSpec>, source: string, cleanup?: () => Promise<void> }
    let record: RecordView
    if (warm != null && (req.version == null || req.version === warm.record.version)) {
      // the warm bundle stays unpacked for later runs: no cleanup
      record = warm.record
      dag = warm.loaded.dag
      submit = { modules: warm.loaded.bundle?.modules, source: warm.path }
    } else {
      const resolved = await this.registry.resolve(id, { version: req.version, signal: options.signal })
      record = resolved.record
      const wf = await this.load(resolved.path, `workflow ${id}`)
      dag = wf.dag
      submit = { modules: wf.bundle?.modules, source: resolved.path, cleanup: wf.cleanup }
    }
    let runId: string
    try {
      runId = await exec.executor.submit(dag, req.input ?? {}, { ...submit, ...(options.principal?.agent != null ? { onBehalfOf: options.principal.agent } : {}) })
    } catch (err) {
      await submit.cleanup?.()
      throw err
    }
    this.log.info({ workflow: id, version: record.version, run: runId }, 'registered workflow submitted')
    const base = { runId, workflow_id: id, version: record.version }
    if (req.wait !== true) return base
    await exec.executor.wait(runId, { signal: options.signal })
    const view = await runView(exec.executor, runId)
    return { ...base, state: view.run.state, ...(view.output !== undefined ? { output: view.output } : {}) }
  }

  /** `POST /dsl-executor/:id/create-infra`: fetch and unpack, find providers of negotiated steps, report what is ready. */
  async createInfra (id: string, options: { version?: string, signal?: AbortSignal } = {}): Promise<InfraReport> {
    this.exec()
    const resolved = await this.registry.resolve(id, options)
    const old = this.warm.get(id)
    if (old != null && old.record.record === resolved.record.record) return old.report
    const loaded = await this.load(resolved.path, `workflow ${id}`)
    try {
      const negotiated = await this.findProviders(loaded.dag, options.signal)
      const report: InfraReport = {
        workflow_id: id,
        version: resolved.record.version,
        record: resolved.record.record,
        kind: resolved.record.kind,
        path: resolved.path,
        ...(loaded.bundle != null ? { unpacked: loaded.bundle.root } : {}),
        modules: Object.fromEntries(Object.entries(loaded.bundle?.modules ?? {}).map(([k, m]) => [k, m.cid])),
        pools: await this.prewarm(loaded),
        negotiated,
        ready: negotiated.every(s => s.providers > 0)
      }
      this.warm.set(id, { record: resolved.record, path: resolved.path, loaded, report })
      if (old != null) await old.loaded.cleanup()
      return report
    } catch (err) {
      await loaded.cleanup()
      throw err
    }
  }

  /** Starts the runner of every bundle module, for the memory limit its steps will run with. */
  private async prewarm (loaded: LoadedWorkflow): Promise<InfraReport['pools']> {
    const executor = this.exec().executor
    const modules: InfraReport['pools']['modules'] = []
    for (const [key, module] of Object.entries(loaded.bundle?.modules ?? {})) {
      const steps = Object.values(loaded.dag.steps).filter(s => s.module?.key === key)
      const limits = [...new Map(steps.map(s => effectiveLimits(s.limits, executor.defaults)).map(l => [l.mem_mb, l])).values()]
      for (const l of limits.length > 0 ? limits : [effectiveLimits({}, executor.defaults)]) {
        try {
          modules.push(await executor.pool.prewarm(module, l))
        } catch (err) {
          modules.push({ module: key, started: false, reason: `${(err as Error).name}: ${(err as Error).message}` })
        }
      }
    }
    const started = modules.some(m => m.started)
    return { started, ...(modules.length === 0 ? { reason: 'no bundle modules (a DSL plan: its steps are negotiated)' } : {}), modules }
  }

  /** Steps without a module of the bundle: who could run them (this node's capabilities count). */
  private async findProviders (dag: TaskDag, signal?: AbortSignal): Promise<NegotiatedStep[]> {
    const discovery = this.c.services.discovery
    const out: NegotiatedStep[] = []
    for (const step of Object.values(dag.steps)) {
      if (step.capability == null || step.module != null) continue
      const entry: NegotiatedStep = { step: step.id, capability: step.capability.name, ...(step.capability.version != null ? { version: step.capability.version } : {}), providers: 0 }
      if (discovery?.find == null) {
        entry.error = 'this node runs no discovery service'
      } else {
        try {
          const found = await discovery.find({ name: step.capability.name, version: step.capability.version }, { signal, timeoutMs: this.init.findTimeoutMs })
          entry.providers = new Set(found.map(f => f.provider)).size
        } catch (err) {
          entry.error = `${(err as Error).name}: ${(err as Error).message}`
        }
      }
      out.push(entry)
    }
    return out
  }

  /** `DELETE /dsl-executor/:id/remove-infra`: removes the unpacked bundle and the warm state. */
  async removeInfra (id: string): Promise<{ workflow_id: string, released: boolean }> {
    const warm = this.warm.get(id)
    if (warm == null) return { workflow_id: id, released: false }
    this.warm.delete(id)
    const pool = this.c.services.exec?.executor?.pool
    for (const m of Object.values(warm.loaded.bundle?.modules ?? {})) pool?.release(m)
    await warm.loaded.cleanup()
    return { workflow_id: id, released: true }
  }

  /** Releases every warm workflow (service stop). */
  async close (): Promise<void> {
    for (const id of [...this.warm.keys()]) await this.removeInfra(id)
  }
}
