/**
 * One `python3 runner.py` child process (or, with `argv`, any runner that
 * speaks the same protocol: the sandboxed Node runner, src/exec/sandbox). It serves one step at a time over
 * a private socket on fd 3 (JSON lines), so whatever a module prints to
 * stdout cannot corrupt the protocol: stdout/stderr are logged, stdin is
 * /dev/null. A process serves one (module, memory limit) pair and is
 * reused between steps of that module.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { readLines } from './lines.js'
import type { Duplex } from 'node:stream'
import { join } from 'node:path'
import { constants as osConstants } from 'node:os'
import type { Logger } from 'pino'
import { packageRoot } from '../../core/paths.js'
import { STDERR_TAIL_BYTES } from '../constants.js'
import { ModuleLoadError } from '../errors.js'
import { removeDir } from '../tmp.js'

export type RunnerMessage = Record<string, any> & { t: string }

/** How a runner process ended. */
export interface ExitInfo { code: number | null, signal: NodeJS.Signals | null }

/** Where the runner script lives (tsc does not copy .py files, so it is found from the package root). */
export function runnerPath (): string {
  return join(packageRoot(), 'src', 'exec', 'python', 'runner.py')
}

export interface PyProcessInit {
  python: string
  memMb: number
  cwd: string
  logger: Logger
  moduleKey: string
  /** largest protocol message (a step's output) @default MAX_MESSAGE_BYTES */
  maxMessageBytes?: number
  /** argv before the interpreter's: the PID-namespace wrapper (src/exec/containment.ts) or nothing @default [] */
  prefix?: string[]
  /** the runner's own argv (after `prefix`) @default [python, '-u', runner.py, memMb] */
  argv?: string[]
  /** the step temp folder of this runner (removed with it) */
  tmpDir?: string
  /** environment over the node's own */
  env?: Record<string, string>
}

/** Longest line of a module's own stdout/stderr kept in the log. */
export const LOG_LINE_BYTES = 4096
/** Largest runner message (one JSON line: a step's output) before the process is killed. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024
/** After the runner exits, how long its pipes may still deliver data before they are destroyed. */
const STDIO_DRAIN_MS = 500

/** The only child of `pid` (the process `unshare --fork` started), if there is one. */
function childOf (pid: number): number | undefined {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').map(Number).filter(n => n > 0)
    return kids.length === 1 ? kids[0] : undefined
  } catch {
    return undefined
  }
}

/** Resident memory (MiB) of a process, from /proc; undefined when it cannot be read. */
export function residentMb (pid: number | undefined): number | undefined {
  if (pid == null) return undefined
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m == null ? undefined : Number(m[1]) / 1024
  } catch {
    return undefined
  }
}

export class PyProcess {
  readonly proc: ChildProcess
  private readonly channel: Duplex
  private stderrTail = ''
  private listener?: (m: RunnerMessage) => void
  /** the current step's exit handlers (see `onExit`); one reaction on `exited` serves them all */
  private readonly exitListeners = new Set<(info: ExitInfo) => void>()
  private exitSeen?: ExitInfo
  readonly exited: Promise<ExitInfo>
  readonly ready: Promise<RunnerMessage>
  exitInfo?: { code: number | null, signal: NodeJS.Signals | null }
  busy = false
  /** when the pool last released it (its clock's time; 0 until then) */
  lastUsed = 0
  /** bytes of the protocol message that was over the limit (the process was killed for it) */
  overflow?: number
  /** pid of the runner itself (the spawned process until the runner said ready) */
  private runnerPid?: number

  constructor (readonly init: PyProcessInit) {
    const prefix = init.prefix ?? []
    const argv = [...prefix, ...(init.argv ?? [init.python, '-u', runnerPath(), String(init.memMb)])]
    this.proc = spawn(argv[0], argv.slice(1), {
      cwd: init.cwd,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      // its own process group: a kill reaches the subprocesses a module started too
      detached: true,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', ...init.env }
    })
    this.channel = this.proc.stdio[3] as Duplex
    const log = init.logger.child({ module: init.moduleKey, pid: this.proc.pid })
    // a module's own stdout/stderr are logs: lines are cut at LOG_LINE_BYTES, never buffered without bound
    readLines(this.proc.stdout!, { maxBytes: LOG_LINE_BYTES, onLine: (line) => { log.info({ stream: 'stdout' }, line) } })
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-STDERR_TAIL_BYTES)
    })
    readLines(this.proc.stderr!, { maxBytes: LOG_LINE_BYTES, onLine: (line) => { log.debug({ stream: 'stderr' }, line) } })
    this.channel.on('error', () => {})
    let onReady: (m: RunnerMessage) => void = () => {}
    let onFail: (e: Error) => void = () => {}
    this.ready = new Promise<RunnerMessage>((resolve, reject) => { onReady = resolve; onFail = reject })
    this.ready.catch(() => {})
    // the protocol channel carries step outputs: a message over the cap kills the process (the step fails typed)
    readLines(this.channel, {
      maxBytes: init.maxMessageBytes ?? MAX_MESSAGE_BYTES,
      onOverflow: (bytes) => {
        this.overflow = bytes
        log.warn({ bytes, max: init.maxMessageBytes ?? MAX_MESSAGE_BYTES }, 'python runner message over the size limit: killing the process')
        this.killGroup()
      },
      onLine: (line, truncated) => { if (!truncated) this.onChannelLine(line, log, onReady) }
    })
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        // the namespace's init reports the runner's death by a signal as 128 + its number
        if (prefix.length > 0 && code != null && code > 128) {
          const num = code - 128
          const name = Object.entries(osConstants.signals).find(([, n]) => n === num)?.[0] as NodeJS.Signals | undefined
          if (name != null) { signal = name; code = null }
        }
        this.exitInfo = { code, signal }
        // what the module left running dies with the runner and lets go of the pipes
        this.killGroup()
        void removeDir(init.tmpDir)
        setTimeout(() => { this.destroyStdio() }, STDIO_DRAIN_MS).unref()
        onFail(new ModuleLoadError(`the module runner (${init.python}) exited before it was ready (${signal ?? `code ${String(code)}`}): ${this.stderrTail.trim().slice(-500)}`, { python: init.python }))
        resolve({ code, signal })
      })
    })
    void this.exited.then((info) => {
      this.exitSeen = info
      for (const fn of [...this.exitListeners]) fn(info)
      this.exitListeners.clear()
    })
    this.proc.once('error', (err: NodeJS.ErrnoException) => {
      this.exitInfo = { code: null, signal: null }
      onFail(new ModuleLoadError(err.code === 'ENOENT' ? `cannot run Python modules: '${init.python}' was not found (set PL_PYTHON or ExecutorInit.python)` : `cannot start ${init.python}: ${err.message}`, { python: init.python }))
    })
  }

  private onChannelLine (line: string, log: Logger, onReady: (m: RunnerMessage) => void): void {
    {
      let m: RunnerMessage
      try {
        m = JSON.parse(line)
      } catch {
        log.warn({ line: line.slice(0, 200) }, 'python runner sent a line that is not JSON')
        return
      }
      if (m.t === 'ready') {
        // in a PID namespace the spawned process is the wrapper; the runner tells its own pid (a sandboxed one cannot read /proc: its wrapper's child)
        if (typeof m.pid === 'number' && m.pid > 0) this.runnerPid = m.pid
        else if (this.init.prefix != null && this.init.prefix.length > 0 && this.proc.pid != null) this.runnerPid = childOf(this.proc.pid)
        onReady(m)
      }
      else this.listener?.(m)
    }
  }

  /** CPU time (ms) of the runner, all its threads; undefined off Linux or once it exited. */
  cpuMs (): number | undefined {
    const pid = this.runnerPid ?? this.proc.pid
    if (!this.alive || pid == null) return undefined
    try {
      let ns = 0
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        try {
          ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
        } catch {} // the thread ended between the two reads
      }
      return ns / 1e6
    } catch {
      return undefined
    }
  }

  /** pid of the runner itself (what /proc knows it as) */
  get pid (): number | undefined {
    return this.runnerPid ?? this.proc.pid
  }

  get alive (): boolean {
    return this.exitInfo == null
  }

  get stderr (): string {
    return this.stderrTail
  }

  /**
   * Calls `fn` once when the process exits (in the microtask where `exited`
   * resolves; at once in a microtask if it has exited already). The returned
   * function removes it: a step removes its handler when it ends, so a
   * process reused for thousands of steps does not hold every step's closures
   * (options, signal, timers) until it exits, as one `exited.then` per step
   * did (docs/PERFORMANCE.md "Soak tail, issue 16 fourth pass").
   */
  onExit (fn: (info: ExitInfo) => void): () => void {
    const seen = this.exitSeen
    if (seen != null) {
      queueMicrotask(() => { fn(seen) })
      return () => {}
    }
    this.exitListeners.add(fn)
    return () => { this.exitListeners.delete(fn) }
  }

  /** Receives every message of the current step. */
  onMessage (fn: ((m: RunnerMessage) => void) | undefined): void {
    this.listener = fn
  }

  send (m: RunnerMessage): void {
    if (!this.alive) return
    this.channel.write(JSON.stringify(m) + '\n')
  }

  /** SIGKILL goes to the whole process group (and so the namespace); other signals (SIGUSR1) to the runner only. */
  signal (sig: NodeJS.Signals): void {
    if (!this.alive) return
    if (sig === 'SIGKILL') { this.killGroup(); return }
    if (this.runnerPid == null) { this.proc.kill(sig); return }
    try { process.kill(this.runnerPid, sig) } catch {} // ESRCH: it is exiting

  }

  async kill (): Promise<void> {
    if (this.alive) this.killGroup()
    await this.exited
  }

  /** SIGKILL to the runner's process group (the runner and every subprocess of its modules). */
  private killGroup (): void {
    const pid = this.proc.pid
    if (pid == null) return
    try {
      process.kill(-pid, 'SIGKILL')
    } catch (err) {
      // ESRCH: the group is gone already
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH' && this.alive) this.proc.kill('SIGKILL')
    }
  }

  /** A subprocess that left the group may still hold the pipes; they must not keep the node alive. */
  private destroyStdio (): void {
    this.proc.stdout?.destroy()
    this.proc.stderr?.destroy()
    this.channel.destroy()
  }

  /** Asks the runner to exit; kills it if it does not within a second. */
  async close (): Promise<void> {
    if (!this.alive) return
    this.send({ t: 'exit' })
    this.channel.end()
    const t = setTimeout(() => { this.killGroup() }, 1000)
    await this.exited
    clearTimeout(t)
  }
}
