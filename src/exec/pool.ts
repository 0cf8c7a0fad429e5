/**
 * ModulePool runs one module call with hard limits, without a DAG: JS
 * modules in piscina worker threads (one pool per heap limit), Python
 * modules in reused `python3` runner processes. The scheduler's LocalRunner
 * uses it, and so will the provider side of remote execution.
 *
 * @example
 * const pool = new ModulePool({ logger })
 * const spec = await moduleSpecOf('inc', '/mods/module_inc')
 * const { output, usage } = await pool.runModule(spec, {
 *   parameters: {}, settings: {}, globalSettings: { incr: 3 }, globalParameters: {},
 *   inputData: { previous_outputs: { start: { number: 5 } } },
 *   limits: { wall_ms: 5000, mem_mb: 128 }
 * })
 * await pool.close()
 */
import { stat } from 'node:fs/promises'
import type { Logger } from 'pino'
import type { ModuleSpec } from '../core/module.js'
import { silentLogger } from '../core/logger.js'
import { ModuleLoadError } from './errors.js'
import { JsPools, type JsPoolsInit } from './js/pool.js'
import { PyPools, type PyPoolsInit } from './python/pool.js'
import type { Clock } from './clock.js'
import type { ContainmentMode } from './containment.js'
import type { ModuleCall, ModuleCallOptions, ModuleResult } from './types.js'
import { ExternalRunners } from './external.js'

export interface ModulePoolInit {
  js?: Omit<JsPoolsInit, 'logger'>
  python?: Omit<PyPoolsInit, 'logger'>
  logger?: Logger
  /** timers of the wall-limit watchdogs @default systemClock */
  clock?: Clock
}

/**
 * How processes a step starts are kept from outliving it (docs/EXECUTOR.md, Containment).
 * python: 'pid-namespace' or 'process-group' (with the reason the namespace could not be made);
 * js: 'thread-process-tree' (the worker thread's child processes are killed with the step).
 */
export interface ContainmentReport {
  python: { mode: ContainmentMode, reason?: string }
  js: { mode: 'thread-process-tree' }
}

export class ModulePool {
  readonly js: JsPools
  readonly py: PyPools
  /** runners of external implementations (A2A, MCP, attached processes...), registered by the bridges */
  readonly external = new ExternalRunners()

  constructor (init: ModulePoolInit = {}) {
    const logger = init.logger ?? silentLogger()
    this.js = new JsPools({ ...init.js, logger, clock: init.clock })
    this.py = new PyPools({ ...init.python, logger, clock: init.clock })
  }

  /**
   * Resolves the Python interpreter, probes how steps can be contained (and,
   * with `python.warm`, starts a spare runner). Optional: the first Python
   * step does it otherwise. Idempotent.
   */
  async start (): Promise<ContainmentReport> {
    const python = await this.py.start()
    return { python: { mode: python.mode, ...(python.reason != null ? { reason: python.reason } : {}) }, js: { mode: 'thread-process-tree' } }
  }

  /** How steps are contained; `python` is undefined until the pool started or ran a Python step. */
  containment (): Partial<ContainmentReport> {
    const py = this.py.containment
    return { js: { mode: 'thread-process-tree' }, ...(py != null ? { python: { mode: py.mode, ...(py.reason != null ? { reason: py.reason } : {}) } } : {}) }
  }

  async runModule (module: ModuleSpec, call: ModuleCall, options: ModuleCallOptions = {}): Promise<ModuleResult> {
    if (module.kind === 'external') return await this.external.run(module, call, options)
    await assertModuleFolder(module)
    return module.kind === 'py' ? await this.py.run(module, call, options) : await this.js.run(module, call, options)
  }

  async close (): Promise<void> {
    await Promise.allSettled([this.js.close(), this.py.close()])
  }
}

/** Fails with ModuleLoadError when the module's folder or entry file is gone. */
async function assertModuleFolder (module: ModuleSpec): Promise<void> {
  try {
    if (!(await stat(module.dir)).isDirectory()) throw new Error('not a folder')
  } catch {
    throw new ModuleLoadError(`module ${module.key}: its folder ${module.dir} does not exist`, { module: module.key, dir: module.dir })
  }
  try {
    await stat(module.entry)
  } catch {
    throw new ModuleLoadError(`module ${module.key}: its entry file ${module.entry} does not exist`, { module: module.key, entry: module.entry })
  }
}
