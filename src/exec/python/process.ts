/**
 * One `python3 runner.py` child process. It serves one step at a time over
 * a private socket on fd 3 (JSON lines), so whatever a module prints to
 * stdout cannot corrupt the protocol: stdout/stderr are logged, stdin is
 * /dev/null. A process serves one (module, memory limit) pair and is
 * reused between steps of that module.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { Duplex } from 'node:stream'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { packageRoot } from '../../core/paths.js'
import { STDERR_TAIL_BYTES } from '../constants.js'
import { ModuleLoadError } from '../errors.js'

export type RunnerMessage = Record<string, any> & { t: string }

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
}

export class PyProcess {
  readonly proc: ChildProcess
  private readonly channel: Duplex
  private stderrTail = ''
  private listener?: (m: RunnerMessage) => void
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  readonly ready: Promise<RunnerMessage>
  exitInfo?: { code: number | null, signal: NodeJS.Signals | null }
  busy = false
  lastUsed = Date.now()

  constructor (readonly init: PyProcessInit) {
    this.proc = spawn(init.python, ['-u', runnerPath(), String(init.memMb)], {
      cwd: init.cwd,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' }
    })
    this.channel = this.proc.stdio[3] as Duplex
    const log = init.logger.child({ module: init.moduleKey, pid: this.proc.pid })
    createInterface({ input: this.proc.stdout! }).on('line', (line) => { log.info({ stream: 'stdout' }, line.slice(0, 4096)) })
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-STDERR_TAIL_BYTES)
    })
    createInterface({ input: this.proc.stderr! }).on('line', (line) => { log.debug({ stream: 'stderr' }, line.slice(0, 4096)) })
    this.channel.on('error', () => {})
    const rl = createInterface({ input: this.channel })
    let onReady: (m: RunnerMessage) => void = () => {}
    let onFail: (e: Error) => void = () => {}
    this.ready = new Promise<RunnerMessage>((resolve, reject) => { onReady = resolve; onFail = reject })
    this.ready.catch(() => {})
    rl.on('line', (line) => {
      let m: RunnerMessage
      try {
        m = JSON.parse(line)
      } catch {
        log.warn({ line: line.slice(0, 200) }, 'python runner sent a line that is not JSON')
        return
      }
      if (m.t === 'ready') onReady(m)
      else this.listener?.(m)
    })
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.exitInfo = { code, signal }
        onFail(new ModuleLoadError(`the python runner exited before it was ready (${signal ?? `code ${String(code)}`}): ${this.stderrTail.trim().slice(-500)}`, { python: init.python }))
        resolve({ code, signal })
      })
    })
    this.proc.once('error', (err: NodeJS.ErrnoException) => {
      this.exitInfo = { code: null, signal: null }
      onFail(new ModuleLoadError(err.code === 'ENOENT' ? `cannot run Python modules: '${init.python}' was not found (set PL_PYTHON or ExecutorInit.python)` : `cannot start ${init.python}: ${err.message}`, { python: init.python }))
    })
  }

  get alive (): boolean {
    return this.exitInfo == null
  }

  get stderr (): string {
    return this.stderrTail
  }

  /** Receives every message of the current step. */
  onMessage (fn: ((m: RunnerMessage) => void) | undefined): void {
    this.listener = fn
  }

  send (m: RunnerMessage): void {
    if (!this.alive) return
    this.channel.write(JSON.stringify(m) + '\n')
  }

  signal (sig: NodeJS.Signals): void {
    if (this.alive) this.proc.kill(sig)
  }

  async kill (): Promise<void> {
    if (this.alive) this.proc.kill('SIGKILL')
    await this.exited
  }

  /** Asks the runner to exit; kills it if it does not within a second. */
  async close (): Promise<void> {
    if (!this.alive) return
    this.send({ t: 'exit' })
    this.channel.end()
    const t = setTimeout(() => { this.proc.kill('SIGKILL') }, 1000)
    await this.exited
    clearTimeout(t)
  }
}
