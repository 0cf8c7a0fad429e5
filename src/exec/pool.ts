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
import type { ModuleCall, ModuleCallOptions, ModuleResult } from './types.js'

export interface ModulePoolInit {
  js?: Omit<JsPoolsInit, 'logger'>
  python?: Omit<PyPoolsInit, 'logger'>
  logger?: Logger
  /** timers of the wall-limit watchdogs @default systemClock */
  clock?: Clock
}

export class ModulePool {
  readonly js: JsPools
  readonly py: PyPools

  constructor (init: ModulePoolInit = {}) {
    const logger = init.logger ?? silentLogger()
    this.js = new JsPools({ ...init.js, logger, clock: init.clock })
    this.py = new PyPools({ ...init.python, logger, clock: init.clock })
  }

  async runModule (module: ModuleSpec, call: ModuleCall, options: ModuleCallOptions = {}): Promise<ModuleResult> {
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
