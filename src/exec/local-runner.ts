/**
 * The local StepRunner: runs a step on this node's own modules. A step of a
 * workflow.json bundle names its module (key + folder CID); a DSL step
 * names a capability, which `localCapabilities` maps to an installed module.
 */
import { encodeCanonical } from '../core/encoding.js'
import type { ModuleSpec } from '../core/index.js'
import type { Step } from '../workflow/index.js'
import { DEFAULT_MAX_OUTPUT_BYTES } from './constants.js'
import { InvalidOutputError, ModuleChangedError, ModuleLoadError } from './errors.js'
import { withUsage } from './limits.js'
import type { ModulePool } from './pool.js'
import type { RunnerQuery, StepContext, StepRunner, StepRunResult } from './types.js'

export type LocalCapabilities = (name: string, version?: string) => ModuleSpec | undefined

export interface LocalRunnerInit {
  /** largest step output (dag-cbor bytes) @default DEFAULT_MAX_OUTPUT_BYTES (16 MiB) */
  maxOutputBytes?: number
}

export class LocalRunner implements StepRunner {
  readonly name = 'local'

  private readonly maxOutputBytes: number

  constructor (private readonly pool: ModulePool, private readonly capabilities?: LocalCapabilities, init: LocalRunnerInit = {}) {
    this.maxOutputBytes = init.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
  }

  /** The module that would run `step`, if this node has one. */
  moduleFor (step: Step, modules: Record<string, ModuleSpec>): ModuleSpec | undefined {
    if (step.module != null) return modules[step.module.key]
    if (step.capability != null) return this.capabilities?.(step.capability.name, step.capability.version)
    return undefined
  }

  canRun (step: Step, query: RunnerQuery): boolean {
    // bundle steps are always local: requesters send data, never code
    if (step.module != null) return true
    const module = this.moduleFor(step, query.modules)
    // an external implementation counts only while its bridge can serve it (an attached process is connected...)
    return module != null && (module.kind !== 'external' || this.pool.external.ready(module))
  }

  outOfProcess (step: Step, query: RunnerQuery): boolean {
    const module = this.moduleFor(step, query.modules)
    if (module == null) return false
    // JS steps run in worker threads of this process when the pool isolates them so
    return module.kind !== 'js' || this.pool.isolationFor(module) !== 'thread'
  }

  async run (step: Step, inputData: Record<string, unknown>, ctx: StepContext): Promise<StepRunResult> {
    const module = this.moduleFor(step, ctx.modules)
    if (module == null) {
      throw new ModuleLoadError(`step ${step.id}: module '${step.module?.key ?? step.capability?.name ?? '?'}' is not part of this run's bundle`, { step: step.id })
    }
    if (step.module != null && module.cid !== step.module.cid) {
      throw new ModuleChangedError(`step ${step.id}: module '${module.key}' has CID ${module.cid}, but the plan pins ${step.module.cid}`, { step: step.id, expected: step.module.cid, actual: module.cid })
    }
    const { output, usage, via, inner } = await this.pool.runModule(module, {
      name: step.id,
      parameters: step.parameters,
      settings: step.settings,
      globalSettings: ctx.dag.globalSettings,
      globalParameters: ctx.dag.globalParameters,
      inputData,
      limits: ctx.limits,
      step: { runId: ctx.runId, key: ctx.key, attempt: ctx.attempt, constraints: ctx.dag.constraints ?? {}, ...(ctx.depth != null ? { depth: ctx.depth } : {}) }
    }, {
      signal: ctx.signal,
      onProgress: ctx.progress,
      // read only when the module logs: the step's child logger is made then
      get log () { return ctx.log },
      addon: ctx.addon,
      ask: ctx.ask
    })
    const outputBytes = encodeCanonical(output ?? null)
    const size = outputBytes.byteLength
    if (size > this.maxOutputBytes) {
      throw withUsage(new InvalidOutputError(`step ${step.id}: module '${module.key}' returned ${size} bytes of output, over this node's limit of ${this.maxOutputBytes} bytes`, { step: step.id, module: module.key, limit: 'max_output_bytes', limit_value: this.maxOutputBytes, measured: size }), usage)
    }
    return { output, outputBytes, usage, executor: 'local', ...(via != null ? { via } : {}), ...(inner != null ? { inner } : {}) }
  }
}
