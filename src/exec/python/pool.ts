/**
 * Python modules: a set of `python3` runner processes keyed by (module CID,
 * memory limit). An idle process of the same key is reused; a process that
 * broke a limit, crashed or was cancelled is killed and never reused.
 * Idle processes exit after `idleMs`; at most `maxIdle` are kept.
 */
import { execFile } from 'node:child_process'
import type { Logger } from 'pino'
import { errorToData } from '../../core/errors.js'
import { silentLogger } from '../../core/logger.js'
import type { ModuleSpec } from '../../core/index.js'
import { tmpdir } from 'node:os'
import { DEFAULT_CANCEL_GRACE_MS, DEFAULT_IDLE_MS, DEFAULT_MEM_MB } from '../constants.js'
import { InvalidOutputError, ModuleCrashedError, NetworkIsolationUnavailableError, rebuildExecError } from '../errors.js'
import { Stopwatch, cpuExceeded, memExceeded, round, wallExceeded, withUsage } from '../limits.js'
import { serveAddonCall, serveQuestion } from '../requests.js'
import { clockInterval, systemClock, type Clock } from '../clock.js'
import type { EffectiveLimits, Isolation, ModuleCall, ModuleCallOptions, ModuleResult, Usage } from '../types.js'
import { probeContainment, probeNetNamespace, runnerPrefix, type Containment } from '../containment.js'
import { DEFAULT_TMP_ROOT, newRunnerDir, removeDir, stepDirPath } from '../tmp.js'
import { MAX_MESSAGE_BYTES, PyProcess, type RunnerMessage } from './process.js'

export interface PyPoolsInit {
  /** @default process.env.PL_PYTHON ?? 'python3' */
  python?: string
  /** idle processes exit after this long @default 30 s */
  idleMs?: number
  /** idle processes kept at most @default 8 */
  maxIdle?: number
  /** @default 200 ms */
  cancelGraceMs?: number
  /** largest runner message (one JSON line, e.g. a step's output); the process is killed beyond @default MAX_MESSAGE_BYTES (64 MiB) */
  maxMessageBytes?: number
  logger?: Logger
  /** timers of the wall-limit watchdog @default systemClock */
  clock?: Clock
  /** how runners are contained: 'auto' uses a PID namespace where one can be created, else the process group @default 'auto' */
  containment?: 'auto' | 'process-group'
  /**
   * `start()` also starts a spare runner (memory limit `spareMemMb`), and a
   * new one whenever a step takes it: a module's first step (and the step
   * after one that broke a limit) does not wait for an interpreter to start.
   * @default false (the daemon's executor service turns it on)
   */
  warm?: boolean
  /** memory limit of the spare runner: the node's default step limit @default DEFAULT_MEM_MB */
  spareMemMb?: number
  /** where per-step temp folders (context.tmpdir) are made @default DEFAULT_TMP_ROOT */
  tmpRoot?: string
}

/** What the runner said when a step started (Python: its CPU clock and RLIMIT_CPU). */
export interface StepStart { cpu0_ms?: number, rlimit_cpu_s?: number | null }

/** The network a runner was started with ('none': its own network namespace). */
export type RunnerNetwork = 'none' | undefined

export class PyPools {
  protected readonly idle = new Map<string, PyProcess[]>()
  protected readonly all = new Set<PyProcess>()
  protected readonly python: string
  protected setup?: Promise<{ python: string, containment: Containment }>
  protected readonly wantedContainment: 'auto' | 'process-group'
  private readonly warm: boolean
  private readonly spareMemMb: number
  /** a runner started before any step asked for it, bound to no module yet */
  private spare?: PyProcess
  private spareStarting = false
  /** what `start()` found (undefined before) */
  containment?: Containment
  private readonly idleMs: number
  private readonly maxIdle: number
  protected readonly graceMs: number
  protected readonly maxMessageBytes: number
  protected readonly log: Logger
  protected readonly clock: Clock
  private sweeper?: { clear: () => void }
  protected readonly tmpRoot: string
  private netProbe?: Promise<{ ok: boolean, reason?: string }>
  /** how processes of this pool are named in errors */
  protected label = 'Python'
  protected closed = false

  constructor (init: PyPoolsInit = {}) {
    this.python = init.python ?? process.env.PL_PYTHON ?? 'python3'
    this.idleMs = init.idleMs ?? DEFAULT_IDLE_MS
    this.maxIdle = init.maxIdle ?? 8
    this.graceMs = init.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS
    this.maxMessageBytes = init.maxMessageBytes ?? MAX_MESSAGE_BYTES
    this.log = init.logger ?? silentLogger()
    this.clock = init.clock ?? systemClock
    this.wantedContainment = init.containment ?? 'auto'
    this.warm = init.warm ?? false
    this.spareMemMb = init.spareMemMb ?? DEFAULT_MEM_MB
    this.tmpRoot = init.tmpRoot ?? DEFAULT_TMP_ROOT
  }

  /** A new runner for `module` (undefined: the spare, bound to no module yet). */
  protected spawn (setup: { python: string, containment: Containment }, module: ModuleSpec | undefined, memMb: number, network: RunnerNetwork): PyProcess {
    return new PyProcess({ python: setup.python, prefix: runnerPrefix(setup.containment, network), memMb, cwd: module?.dir ?? tmpdir(), logger: this.log, moduleKey: module?.key ?? '(spare)', maxMessageBytes: this.maxMessageBytes, tmpDir: newRunnerDir(this.tmpRoot, 'py') })
  }

  /** Idle runners are reused per key: module, memory limit, network. */
  protected keyOf (module: ModuleSpec, call: ModuleCall): string {
    return `${module.cid}|${call.limits.mem_mb}|${call.sandbox?.network ?? ''}`
  }

  /** Whether a runner that finished a step cleanly may serve another. */
  protected reusableAfter (_module: ModuleSpec): boolean {
    return true
  }

  /** What ran the step, for receipts. */
  protected isolationOf (network: RunnerNetwork): Isolation {
    return network === 'none' ? 'process-no-net' : 'process'
  }

  /**
   * Whether the runner says `started` before a step (its CPU clock at the
   * start, for a CPU limit); when it does not, the wall clock starts when the
   * step is sent (the runner is idle and ready: only the message's transit is
   * counted too). The Python runner says it only for steps with `cpu_ms`.
   */
  protected announcesStart (limits: EffectiveLimits): boolean {
    return limits.cpu_ms != null
  }

  /** Watches a running step beyond the wall clock (the sandbox: CPU and memory); returns what stops the watch. */
  protected watch (_p: PyProcess, _limits: EffectiveLimits, _what: string, _kill: (err: Error) => void): (() => void) | undefined {
    return undefined
  }

  /** The error of a runner that died during a step, when its runtime can tell the cause (Python: RLIMIT_CPU, MemoryError). */
  protected exitError (p: PyProcess, signal: NodeJS.Signals | null, started: StepStart, limits: EffectiveLimits, what: string): { error: Error, cpu_ms?: number } | undefined {
    if (signal === 'SIGXCPU' && limits.cpu_ms != null) {
      const measured = started.rlimit_cpu_s != null ? started.rlimit_cpu_s * 1000 - (started.cpu0_ms ?? 0) : limits.cpu_ms
      return { error: cpuExceeded(limits.cpu_ms, measured, `${what} (killed by RLIMIT_CPU)`), cpu_ms: Math.round(measured) }
    }
    if (/MemoryError/.test(p.stderr)) return { error: memExceeded(limits.mem_mb, undefined, what, 'address-space') }
    return undefined
  }

  /** Fails when the step must run without network and this node cannot make it so. */
  private async assertNetwork (network: RunnerNetwork, containment: Containment): Promise<void> {
    if (network !== 'none') return
    if (containment.mode !== 'pid-namespace') throw new NetworkIsolationUnavailableError(`a step under network: none needs a network namespace, but runners here are contained by process group (${containment.reason ?? 'no PID namespace'})`, { reason: containment.reason })
    this.netProbe ??= probeNetNamespace()
    const net = await this.netProbe
    if (!net.ok) throw new NetworkIsolationUnavailableError(`a step under network: none cannot run here: ${net.reason ?? 'no network namespace'}`, { reason: net.reason })
  }

  /**
   * Resolves the interpreter (once: version-manager shims cost ~200 ms per
   * spawn, seconds under load) and finds out how runners can be contained.
   * Called by the first step if not before; idempotent.
   */
  async start (): Promise<Containment> {
    const { containment } = await this.prepare()
    this.refillSpare()
    return containment
  }

  /** Resolves once `start()` is done and the spare runner (if any) is ready to take a step. */
  async warmed (): Promise<void> {
    await this.start()
    for (let i = 0; i < 3 && this.spareStarting; i++) await this.setup
    await this.spare?.ready.catch(() => {})
  }

  /** Starts a spare runner if `warm` and none is there or starting. */
  private refillSpare (): void {
    if (!this.warm || this.closed || this.spare != null || this.spareStarting || this.setup == null) return
    this.spareStarting = true
    this.setup.then(({ python, containment }) => {
      this.spareStarting = false
      if (this.closed || this.spare != null) return
      const p = this.spawn({ python, containment }, undefined, this.spareMemMb, undefined)
      this.all.add(p)
      this.spare = p
      const drop = (): void => { if (this.spare === p) this.spare = undefined }
      p.ready.catch(() => { drop(); this.discard(p) })
      void p.exited.then(drop)
    }, () => { this.spareStarting = false })
  }

  /** The spare runner, if it fits `memMb`; a new spare is started in its place. */
  private takeSpare (memMb: number): PyProcess | undefined {
    const p = this.spare
    if (p == null || !p.alive || memMb !== this.spareMemMb) return undefined
    this.spare = undefined
    this.refillSpare()
    return p
  }

  /** Processes running a step now. */
  get busy (): number {
    return [...this.all].filter(p => p.busy).length
  }

  /** Live runner processes (busy and idle). */
  get size (): number {
    return this.all.size
  }

  private take (key: string): PyProcess | undefined {
    const list = this.idle.get(key)
    while (list != null && list.length > 0) {
      const p = list.pop() as PyProcess
      if (p.alive) return p
      this.all.delete(p)
    }
    return undefined
  }

  private release (key: string, p: PyProcess): void {
    if (this.closed || !p.alive) { this.discard(p); return }
    p.busy = false
    p.lastUsed = this.clock.now()
    const list = this.idle.get(key) ?? []
    list.push(p)
    this.idle.set(key, list)
    this.trim()
    if (this.sweeper == null) {
      this.sweeper = clockInterval(this.clock, () => { this.trim(this.clock.now() - this.idleMs) }, Math.max(100, Math.min(this.idleMs, 5000)))
    }
  }

  /** Closes idle processes unused since `olderThan`, and the oldest beyond `maxIdle`. */
  private trim (olderThan = -Infinity): void {
    // after each step: nothing to do unless over maxIdle (the sweeper passes olderThan)
    if (olderThan === -Infinity) {
      let n = 0
      for (const list of this.idle.values()) n += list.length
      if (n <= this.maxIdle) return
    }
    const idle = [...this.idle.entries()].flatMap(([k, l]) => l.map(p => ({ k, p }))).sort((a, b) => a.p.lastUsed - b.p.lastUsed)
    let excess = idle.length - this.maxIdle
    for (const { k, p } of idle) {
      if (excess > 0 || p.lastUsed < olderThan) {
        excess--
        const l = this.idle.get(k) as PyProcess[]
        l.splice(l.indexOf(p), 1)
        if (l.length === 0) this.idle.delete(k)
        this.all.delete(p)
        void p.close()
      }
    }
    if (this.all.size === 0 && this.sweeper != null) {
      this.sweeper.clear()
      this.sweeper = undefined
    }
  }

  protected discard (p: PyProcess): void {
    this.all.delete(p)
    void p.kill()
  }

  /**
   * Starts a runner for `module` ahead of its first step (create-infra) and
   * keeps it idle under the key a step with `call`'s limits will look for.
   * Returns false when one is idle already.
   */
  async prewarm (module: ModuleSpec, call: Pick<ModuleCall, 'limits' | 'sandbox'>): Promise<boolean> {
    if (this.closed) throw new ModuleCrashedError('the Python process pool is closed')
    const key = this.keyOf(module, call as ModuleCall)
    if ((this.idle.get(key)?.length ?? 0) > 0) return false
    const network: RunnerNetwork = call.sandbox?.network === 'none' ? 'none' : undefined
    await this.assertNetwork(network, (await this.prepare()).containment)
    this.release(key, await this.spawnReady(module, call.limits.mem_mb, network))
    return true
  }

  /** A new runner for `module`, once it is ready (discarded when it fails to start). */
  private async spawnReady (module: ModuleSpec, memMb: number, network: RunnerNetwork): Promise<PyProcess> {
    const proc = this.spawn(await this.prepare(), module, memMb, network)
    this.all.add(proc)
    try {
      await proc.ready
    } catch (err) {
      this.discard(proc)
      throw err
    }
    return proc
  }

  /** Closes the idle runners of `module` (remove-infra); returns how many. */
  dropIdle (module: ModuleSpec): number {
    let n = 0
    for (const [k, list] of this.idle) {
      if (!k.startsWith(`${module.cid}|`)) continue
      for (const p of list) { this.all.delete(p); void p.close(); n++ }
      this.idle.delete(k)
    }
    return n
  }

  async run (module: ModuleSpec, call: ModuleCall, options: ModuleCallOptions = {}): Promise<ModuleResult> {
    if (this.closed) throw new ModuleCrashedError('the Python process pool is closed')
    options.signal?.throwIfAborted()
    const limits = call.limits
    const network: RunnerNetwork = call.sandbox?.network === 'none' ? 'none' : undefined
    const key = this.keyOf(module, call)
    await this.assertNetwork(network, (await this.prepare()).containment)
    let proc = this.take(key) ?? (network == null ? this.takeSpare(limits.mem_mb) : undefined)
    if (proc != null) {
      try {
        await proc.ready
      } catch (err) {
        this.discard(proc)
        throw err
      }
    } else {
      proc = await this.spawnReady(module, limits.mem_mb, network)
    }
    proc.busy = true
    let reusable = false
    let stepDir: string | undefined
    let stepDirMade: boolean | undefined
    try {
      // the runner makes the step's folder when the module first reads context.tmpdir, and says so in its result
      stepDir = proc.init.tmpDir == null ? undefined : stepDirPath(proc.init.tmpDir)
      const out = await this.step(proc, module, call, options, stepDir)
      stepDirMade = out.tmpdirMade
      reusable = out.reusable && this.reusableAfter(module)
      if (out.error != null) throw out.error
      return { ...out.result as ModuleResult, isolation: this.isolationOf(network) }
    } finally {
      proc.onMessage(undefined)
      // a runner that did not report (killed, crashed) may have made it
      if (stepDirMade !== false) await removeDir(stepDir)
      if (reusable) this.release(key, proc)
      else this.discard(proc)
    }
  }

  /**
   * The real interpreter behind `python`: version-manager shims (pyenv,
   * asdf) are scripts that add ~200 ms to every spawn.
   */
  protected async prepare (): Promise<{ python: string, containment: Containment }> {
    this.setup ??= (async () => {
      const [python, containment] = await Promise.all([
        new Promise<string>((resolve) => {
          execFile(this.python, ['-c', 'import sys; print(sys.executable)'], { timeout: 10_000 }, (err, stdout) => {
            const exe = stdout?.trim()
            resolve(err == null && exe != null && exe !== '' ? exe : this.python)
          })
        }),
        probeContainment(this.wantedContainment)
      ])
      this.containment = containment
      if (containment.mode === 'pid-namespace') this.log.info({ containment: containment.mode, python }, 'python steps run in their own PID namespace')
      else this.log.warn({ containment: containment.mode, reason: containment.reason, python }, 'python steps are contained by process group only: a subprocess that calls setsid() can outlive its step')
      return { python, containment }
    })()
    return await this.setup
  }

  private async step (p: PyProcess, module: ModuleSpec, call: ModuleCall, options: ModuleCallOptions, tmpdir: string | undefined): Promise<{ result?: ModuleResult, error?: Error, reusable: boolean, tmpdirMade?: boolean }> {
    const limits = call.limits
    const what = `module ${module.key}`
    return await new Promise((resolve, reject) => {
      let settled = false
      let breach: Error | undefined
      let started: StepStart = {}
      let graceTimer: NodeJS.Timeout | undefined
      let unwatch: (() => void) | undefined
      let offExit: (() => void) | undefined
      const t0 = performance.now()
      const stopwatch = new Stopwatch(limits.wall_ms, (elapsed) => {
        breach = wallExceeded(limits.wall_ms, elapsed, what)
        p.signal('SIGKILL')
      }, () => p.cpuMs(), this.clock)
      const killedUsage = (): Usage => ({ cpu_ms: 0, wall_ms: Math.round(stopwatch.elapsed() || performance.now() - t0), mem_peak_mb: 0 })
      const finish = (fn: () => void): void => {
        if (settled) return
        settled = true
        stopwatch.clear()
        unwatch?.()
        offExit?.()
        clearTimeout(graceTimer)
        options.signal?.removeEventListener('abort', onAbort)
        fn()
      }
      const onAbort = (): void => {
        p.signal('SIGUSR1')
        graceTimer = setTimeout(() => {
          breach = options.signal?.reason as Error
          p.signal('SIGKILL')
        }, this.graceMs)
      }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      if (options.signal?.aborted === true) {
        // aborted while the process was starting: never send the step
        finish(() => { resolve({ error: options.signal?.reason as Error, reusable: true }) })
        return
      }
      const reply = async (id: number, fn: () => Promise<unknown>): Promise<void> => {
        try {
          p.send({ t: 'reply', id, ok: true, value: await fn() ?? null })
        } catch (err) {
          const error = errorToData(err)
          delete error.stack
          p.send({ t: 'reply', id, ok: false, error })
        }
      }
      const onStarted = (): void => {
        stopwatch.start()
        unwatch = this.watch(p, limits, what, (err) => {
          if (breach != null || settled) return
          breach = err
          p.signal('SIGKILL')
        })
      }
      p.onMessage((m: RunnerMessage) => {
        switch (m.t) {
          case 'started':
            started = { cpu0_ms: m.cpu0_ms, rlimit_cpu_s: m.rlimit_cpu_s }
            onStarted()
            break
          case 'progress':
            options.onProgress?.(Number(m.n), m.total == null ? undefined : Number(m.total), m.message == null ? undefined : String(m.message))
            break
          case 'log': {
            const level = ['debug', 'info', 'warn', 'error'].includes(m.level) ? m.level as 'info' : 'info'
            options.log?.[level]({ module: module.key, data: m.data }, String(m.msg))
            break
          }
          case 'call':
            void reply(m.id, async () => await serveAddonCall(options, what, m.kind, String(m.name), m.data))
            break
          case 'ask':
            void reply(m.id, async () => await serveQuestion(options, what, m.question, stopwatch, () => !settled && breach == null))
            break
          case 'result': {
            const u = m.usage ?? {}
            const usage: Usage = { cpu_ms: round(u.cpu_ms ?? 0), wall_ms: round(u.wall_ms ?? 0), mem_peak_mb: round(u.mem_peak_mb ?? 0) }
            const tmpdirMade = typeof m.tmpdir === 'boolean' ? m.tmpdir : undefined
            finish(() => {
              if (m.ok === true) {
                if (options.signal?.aborted === true) { reject(options.signal.reason); return }
                resolve({ result: { output: m.output, usage }, reusable: true, tmpdirMade })
              } else {
                // a process after MemoryError or exit() is not trusted again
                resolve({ error: withUsage(rebuildExecError(m.error), usage), reusable: m.fatal !== true, tmpdirMade })
              }
            })
            break
          }
        }
      })
      // removed when the step ends: the process outlives the step (it is reused) and must not hold its closures
      offExit = p.onExit(({ code, signal }) => {
        finish(() => {
          const usage = killedUsage()
          if (breach != null) { reject(withUsage(breach, usage)); return }
          if (p.overflow != null) {
            reject(withUsage(new InvalidOutputError(`${what} sent a message of ${p.overflow} bytes (its output), over the limit of ${this.maxMessageBytes} bytes; its process was killed`, { module: module.key, limit: 'max_message_bytes', limit_value: this.maxMessageBytes, measured: p.overflow }), usage))
            return
          }
          const known = this.exitError(p, signal, started, limits, what)
          if (known != null) { reject(withUsage(known.error, known.cpu_ms != null ? { ...usage, cpu_ms: known.cpu_ms } : usage)); return }
          reject(withUsage(new ModuleCrashedError(`${what}: its ${this.label} process ended during the step (${signal ?? `exit code ${String(code)}`})${p.stderr.trim() !== '' ? `; stderr: ${p.stderr.trim().slice(-500)}` : ''}`, { module: module.key, code, signal }), usage))
        })
      })
      p.send({
        t: 'run',
        module: { cid: module.cid, entry: module.entry, key: module.key, className: module.className ?? null },
        ctor: { name: call.name ?? module.key, settings: call.settings ?? {}, parameters: call.parameters ?? {}, globalSettings: call.globalSettings ?? {}, globalParameters: call.globalParameters ?? {} },
        parameters: call.parameters ?? {},
        inputData: call.inputData ?? {},
        cwd: module.dir,
        limits: { cpu_ms: limits.cpu_ms ?? null },
        step: call.step ?? { runId: '', key: module.key, attempt: 1 },
        tmpdir: tmpdir ?? null
      })
      if (!this.announcesStart(limits)) onStarted()
    })
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.sweeper?.clear()
    this.sweeper = undefined
    const all = [...this.all]
    this.all.clear()
    this.idle.clear()
    await Promise.allSettled(all.map(async p => { await (p.busy ? p.kill() : p.close()) }))
  }
}
