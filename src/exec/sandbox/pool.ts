/**
 * JS modules in sandboxed child processes: warm Node runner processes
 * (./runner.ts), each the PID 1 of its own PID namespace (src/exec/containment.ts)
 * and under Node's permission model: it may read its module's folder and the
 * executor's own code, read and write its temp folder, and nothing else — no
 * child processes, workers, native addons or WASI unless the module asks for
 * them and the operator grants them. The pool is the Python pool's machinery
 * (reuse per module + memory limit + network, kills, wall limit, cancel) with
 * a Node runner; CPU time and resident memory are watched from /proc, the JS
 * heap is capped by `--max-old-space-size`.
 */
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ModuleSpec, SandboxPermission } from '../../core/module.js'
import { compiledUrl } from '../../core/paths.js'
import { probeContainment, runnerPrefix, type Containment } from '../containment.js'
import { SandboxGrantRefusedError } from '../errors.js'
import { cpuExceeded, memExceeded } from '../limits.js'
import { PyPools, type PyPoolsInit, type RunnerNetwork, type StepStart } from '../python/pool.js'
import { PyProcess, residentMb } from '../python/process.js'
import { newRunnerDir } from '../tmp.js'
import type { EffectiveLimits, Isolation, ModuleCall, ModuleCallOptions, ModuleResult } from '../types.js'

export interface SandboxPoolsInit extends Omit<PyPoolsInit, 'python' | 'warm' | 'spareMemMb'> {
  /** the Node binary of the runners @default process.execPath */
  node?: string
  /** permissions the operator grants, by module CID or name (a module key or capability name) @default {} */
  grants?: Record<string, SandboxPermission[]>
  /** folders (or files) every sandboxed module may also read, or read and write (a node's shared scratch space) @default {} */
  fs?: { read?: string[], write?: string[] }
}

// from the tsc output, also when the node runs from the bundle
const RUNNER = fileURLToPath(compiledUrl('exec/sandbox/runner.js'))
/** The executor code a runner imports (its own folder tree): readable, nothing else of the node is. */
const CODE_DIRS = [fileURLToPath(compiledUrl('exec/')), fileURLToPath(compiledUrl('core/'))].map(d => d.replace(/\/$/, ''))
const FLAGS: Record<SandboxPermission, string> = { 'child-process': '--allow-child-process', worker: '--allow-worker', addons: '--allow-addons', wasi: '--allow-wasi' }
/** How often the watchdog reads a runner's CPU time and resident memory. */
const WATCH_MS = 50
/** Resident memory a Node runner has before any step (V8, its code, buffers), on top of the step's `mem_mb`. */
export const RUNNER_BASELINE_MB = 64

export class SandboxPools extends PyPools {
  private readonly grants: Record<string, SandboxPermission[]>
  private readonly fsFlags: string[]

  constructor (init: SandboxPoolsInit = {}) {
    super({ ...init, python: init.node ?? process.execPath, warm: false })
    this.label = 'sandboxed Node'
    this.grants = init.grants ?? {}
    const read = [...(init.fs?.read ?? []), ...(init.fs?.write ?? [])]
    this.fsFlags = [...read.map(p => `--allow-fs-read=${resolve(p)}`), ...(init.fs?.write ?? []).map(p => `--allow-fs-write=${resolve(p)}`)]
  }

  /** The Node runner says `started` before every step (its memory and CPU watch starts then). */
  protected override announcesStart (): boolean {
    return true
  }

  /** The permissions `module` asks for, all granted by the operator; SandboxGrantRefusedError otherwise. */
  permissionsOf (module: ModuleSpec): SandboxPermission[] {
    const asked = module.permissions ?? []
    // a confined module (network-supplied code) is granted by its CID only, never by a name a caller chose
    const allowed = new Set([...(this.grants[module.cid] ?? []), ...(module.confined === true ? [] : this.grants[module.key] ?? [])])
    const refused = asked.filter(p => !allowed.has(p))
    if (refused.length > 0) {
      throw new SandboxGrantRefusedError(`module ${module.key} asks for ${refused.join(', ')}, which the operator did not grant it (services.exec.poolInit.sandbox.grants)`, { module: module.key, refused })
    }
    return [...new Set(asked)].filter(p => Object.hasOwn(FLAGS, p)).sort()
  }

  override async run (module: ModuleSpec, call: ModuleCall, options: ModuleCallOptions = {}): Promise<ModuleResult> {
    const permissions = this.permissionsOf(module)
    const res = await super.run(module, call, options)
    // what the module could do beyond the sandbox's defaults goes in its receipt
    return permissions.length > 0 ? { ...res, permissions } : res
  }

  protected override async prepare (): Promise<{ python: string, containment: Containment }> {
    this.setup ??= probeContainment(this.wantedContainment).then((containment) => {
      this.containment = containment
      if (containment.mode !== 'pid-namespace') this.log.warn({ containment: containment.mode, reason: containment.reason }, 'sandboxed JS steps are contained by process group only: a granted child process that calls setsid() can outlive its step')
      return { python: this.python, containment }
    })
    return await this.setup
  }

  protected override spawn (setup: { python: string, containment: Containment }, module: ModuleSpec | undefined, memMb: number, network: RunnerNetwork): PyProcess {
    if (module == null) throw new TypeError('a sandboxed runner serves one module')
    const tmpDir = newRunnerDir(this.tmpRoot, 'js')
    const argv = [
      setup.python, '--permission',
      `--allow-fs-read=${module.dir}`, `--allow-fs-read=${tmpDir}`, `--allow-fs-write=${tmpDir}`,
      ...CODE_DIRS.map(d => `--allow-fs-read=${d}`),
      ...this.fsFlags,
      ...this.permissionsOf(module).map(p => FLAGS[p]),
      `--max-old-space-size=${memMb}`,
      RUNNER
    ]
    return new PyProcess({ python: setup.python, argv, prefix: runnerPrefix(setup.containment, network), memMb, cwd: module.dir, logger: this.log, moduleKey: module.key, maxMessageBytes: this.maxMessageBytes, tmpDir, env: { NODE_OPTIONS: '' } })
  }

  protected override keyOf (module: ModuleSpec, call: ModuleCall): string {
    return `${super.keyOf(module, call)}|${this.permissionsOf(module).join(',')}`
  }

  /** A runner whose module may start processes is not reused: what they left dies with it. */
  protected override reusableAfter (module: ModuleSpec): boolean {
    return !this.permissionsOf(module).includes('child-process')
  }

  protected override isolationOf (network: RunnerNetwork): Isolation {
    return network === 'none' ? 'sandbox-no-net' : 'sandbox'
  }

  protected override watch (p: PyProcess, limits: EffectiveLimits, what: string, kill: (err: Error) => void): () => void {
    // the runner's CPU clock (a /proc read per thread) only when the step has a CPU limit
    const cpu0 = limits.cpu_ms != null ? p.cpuMs() : undefined
    const maxRss = limits.mem_mb + RUNNER_BASELINE_MB
    const timer = setInterval(() => {
      const cpu = p.cpuMs()
      if (limits.cpu_ms != null && cpu0 != null && cpu != null && cpu - cpu0 > limits.cpu_ms) { kill(cpuExceeded(limits.cpu_ms, cpu - cpu0, what)); return }
      const rss = residentMb(p.pid)
      if (rss != null && rss > maxRss) kill(memExceeded(limits.mem_mb, rss - RUNNER_BASELINE_MB, what, 'resident memory'))
    }, WATCH_MS)
    return () => { clearInterval(timer) }
  }

  protected override exitError (p: PyProcess, _signal: NodeJS.Signals | null, _started: StepStart, limits: EffectiveLimits, what: string): { error: Error } | undefined {
    if (/heap out of memory|Reached heap limit/i.test(p.stderr)) return { error: memExceeded(limits.mem_mb, undefined, what, 'JS heap') }
    return undefined
  }
}
