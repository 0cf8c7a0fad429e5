/**
 * ModulePool runs one module call with hard limits, without a DAG: JS
 * modules in sandboxed Node runner processes (the default) or, for modules
 * the operator trusts (`sandbox.isolation` / `sandbox.thread`), in piscina
 * worker threads (one pool per heap limit); Python modules in reused
 * `python3` runner processes. The scheduler's LocalRunner
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
import { rmdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import type { ModuleSpec } from '../core/index.js'
import { silentLogger } from '../core/logger.js'
import { ModuleLoadError } from './errors.js'
import { JsPools, type JsPoolsInit } from './js/pool.js'
import { PyPools, type PyPoolsInit } from './python/pool.js'
import { SandboxPools, type SandboxPoolsInit } from './sandbox/pool.js'
import { DEFAULT_TMP_ROOT, sweepStepDirs } from './tmp.js'
import type { Clock } from './clock.js'
import type { ContainmentMode } from './containment.js'
import type { JsIsolation, ModuleCall, ModuleCallOptions, ModuleResult } from './types.js'
import { ExternalRunners } from './external.js'

/** How JS modules are isolated (operator configuration: `services.exec.poolInit.sandbox`). */
export interface SandboxInit extends Omit<SandboxPoolsInit, 'logger' | 'clock' | 'tmpRoot'> {
  /** how JS modules run unless listed in `thread` @default 'sandbox' */
  isolation?: JsIsolation
  /** module CIDs or names (module keys, capability names) trusted to run in the in-process worker-thread pool @default [] */
  thread?: string[]
}

export interface ModulePoolInit {
  js?: Omit<JsPoolsInit, 'logger'>
  python?: Omit<PyPoolsInit, 'logger'>
  sandbox?: SandboxInit
  /** where per-step temp folders are made (swept of crashed nodes' folders by `start()`) @default DEFAULT_TMP_ROOT */
  tmpRoot?: string
  logger?: Logger
  /** timers of the wall-limit watchdogs @default systemClock */
  clock?: Clock
}

/**
 * How processes a step starts are kept from outliving it (docs/EXECUTOR.md, Containment).
 * python: 'pid-namespace' or 'process-group' (with the reason the namespace could not be made);
 * js: the default isolation, and how its processes are contained ('pid-namespace' or
 * 'process-group' for the sandbox; 'thread-process-tree' for threads: the worker
 * thread's child processes are killed with the step).
 */
export interface ContainmentReport {
  python: { mode: ContainmentMode, reason?: string }
  js: { isolation: JsIsolation, mode: ContainmentMode | 'thread-process-tree', reason?: string }
}

/**
 * How long a module folder found in place is not checked again. The check
 * only turns a folder removed under a node into a clear ModuleLoadError;
 * a step of a module whose folder went within this time runs on its warm
 * runner's (or worker's) copy, or fails to load it in the runner.
 */
const FOLDER_CHECK_MS = 1000
/** module folders remembered at most (the memory is dropped beyond) */
const MAX_FOLDERS_SEEN = 1024

export class ModulePool {
  readonly js: JsPools
  readonly py: PyPools
  /** runners of external implementations (A2A, MCP, attached processes...), registered by the bridges */
  readonly external = new ExternalRunners()
  readonly sandbox: SandboxPools
  private readonly isolation: JsIsolation
  private readonly trusted: Set<string>
  private readonly tmpRoot: string

  constructor (init: ModulePoolInit = {}) {
    const logger = init.logger ?? silentLogger()
    this.tmpRoot = init.tmpRoot ?? DEFAULT_TMP_ROOT
    this.js = new JsPools({ ...init.js, logger, clock: init.clock, tmpRoot: this.tmpRoot })
    this.py = new PyPools({ tmpRoot: this.tmpRoot, ...init.python, logger, clock: init.clock })
    const { isolation, thread, ...sandbox } = init.sandbox ?? {}
    this.sandbox = new SandboxPools({ containment: init.python?.containment, ...sandbox, tmpRoot: this.tmpRoot, logger, clock: init.clock })
    this.isolation = isolation ?? 'sandbox'
    this.trusted = new Set(thread ?? [])
  }

  /** How a JS module's step runs: a network-less step or a confined module (uploaded by a network caller) always in the sandbox, else the call's choice, the operator's trust list, the default. */
  isolationFor (module: ModuleSpec, call?: Pick<ModuleCall, 'sandbox'>): JsIsolation {
    if (call?.sandbox?.network === 'none' || module.confined === true) return 'sandbox'
    if (call?.sandbox?.isolation != null) return call.sandbox.isolation
    if (this.trusted.has(module.cid) || this.trusted.has(module.key)) return 'thread'
    return this.isolation
  }

  private jsReport (): ContainmentReport['js'] | undefined {
    if (this.isolation === 'thread') return { isolation: 'thread', mode: 'thread-process-tree' }
    const c = this.sandbox.containment
    return c == null ? undefined : { isolation: 'sandbox', mode: c.mode, ...(c.reason != null ? { reason: c.reason } : {}) }
  }

  /**
   * Resolves the Python interpreter, probes how steps can be contained (and,
   * with `python.warm`, starts a spare runner). Optional: the first Python
   * step does it otherwise. Idempotent.
   */
  async start (): Promise<ContainmentReport> {
    // temp folders of a node that crashed (or was SIGKILLed) mid-step
    await sweepStepDirs(this.tmpRoot)
    const [python] = await Promise.all([this.py.start(), this.sandbox.start()])
    return { python: { mode: python.mode, ...(python.reason != null ? { reason: python.reason } : {}) }, js: this.jsReport() as ContainmentReport['js'] }
  }

  /** How steps are contained; `python` (and the sandbox's `js`) is undefined until the pool started or ran such a step. */
  containment (): Partial<ContainmentReport> {
    const py = this.py.containment
    const js = this.jsReport()
    return { ...(js != null ? { js } : {}), ...(py != null ? { python: { mode: py.mode, ...(py.reason != null ? { reason: py.reason } : {}) } } : {}) }
  }

  /** module folders (folder + entry file) found in place, and when: checked again after FOLDER_CHECK_MS */
  private readonly foldersSeen = new Map<string, number>()

  /** Fails with ModuleLoadError when the module's folder or entry file is gone; a folder found less than FOLDER_CHECK_MS ago is not looked at again. */
  private async checkFolder (module: ModuleSpec): Promise<void> {
    const key = `${module.dir}\0${module.entry}`
    const seen = this.foldersSeen.get(key)
    const now = performance.now()
    if (seen != null && now - seen < FOLDER_CHECK_MS) return
    await assertModuleFolder(module)
    if (this.foldersSeen.size >= MAX_FOLDERS_SEEN) this.foldersSeen.clear()
    this.foldersSeen.set(key, now)
  }

  async runModule (module: ModuleSpec, call: ModuleCall, options: ModuleCallOptions = {}): Promise<ModuleResult> {
    if (module.kind === 'external') return await this.external.run(module, call, options)
    await this.checkFolder(module)
    if (module.kind === 'py') return await this.py.run(module, call, options)
    if (this.isolationFor(module, call) === 'thread') return { ...await this.js.run(module, call, options), isolation: 'thread' }
    return await this.sandbox.run(module, call, options)
  }

  /**
   * Starts the runner a step of `module` with `limits` will use, ahead of the
   * step (`create-infra`): a Python runner, or a sandboxed Node runner with
   * the module's permissions. Thread-isolated JS and external modules have
   * nothing to start per module (the thread pool is shared, a bridge connects
   * on demand).
   */
  async prewarm (module: ModuleSpec, limits: ModuleCall['limits']): Promise<{ module: string, started: boolean, reason?: string }> {
    const call = { limits }
    if (module.kind === 'external') return { module: module.key, started: false, reason: `served by the ${module.external?.kind ?? 'external'} bridge: nothing runs on this node ahead of a step` }
    await assertModuleFolder(module)
    const idle = { module: module.key, started: false, reason: 'a runner for it is idle already' }
    if (module.kind === 'py') return await this.py.prewarm(module, call) ? { module: module.key, started: true } : idle
    if (this.isolationFor(module) === 'thread') return { module: module.key, started: false, reason: 'runs in the shared worker-thread pool (isolation: thread), which starts on first use' }
    if (this.sandbox.permissionsOf(module).includes('child-process')) return { module: module.key, started: false, reason: 'may start child processes: each step gets a fresh runner' }
    return await this.sandbox.prewarm(module, call) ? { module: module.key, started: true } : idle
  }

  /** Closes the idle runners started for `module` (remove-infra). */
  release (module: ModuleSpec): number {
    return module.kind === 'py' ? this.py.dropIdle(module) : module.kind === 'js' ? this.sandbox.dropIdle(module) : 0
  }

  async close (): Promise<void> {
    await Promise.allSettled([this.js.close(), this.py.close(), this.sandbox.close()])
    // this process's folder under tmpRoot, once no pool of it uses it any more (rmdir fails on a non-empty folder)
    await rmdir(join(this.tmpRoot, String(process.pid))).catch(() => {})
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
