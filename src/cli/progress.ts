/**
 * Progress of long CLI operations on stderr. On a terminal: finished steps as
 * lines, plus one spinner line with the current step(s) and the elapsed time,
 * redrawn in place. Elsewhere (pipes, logs, tests): one plain line per event,
 * no escape codes, no timer.
 *
 * @example
 * const p = new CliProgress(process.stderr)
 * p.event(ev, { executor: '12D3KooW…' })   // for each executor event
 * p.done()
 * await spin(process.stderr, 'finding providers', async () => await find())
 */
import type { ExecEvent } from '../exec/types.js'

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
const TICK_MS = 100

type Out = NodeJS.WritableStream & { isTTY?: boolean, columns?: number }

function seconds (ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

function shortPeer (peer: string): string {
  return peer.length > 16 ? `${peer.slice(0, 8)}…${peer.slice(-6)}` : peer
}

/** Where a step ran, for a progress line: "on <peer>" for another node, nothing for this one. */
export function whereLine (executor: string | undefined, self: string | undefined): string {
  if (executor == null || executor === '' || executor === 'local' || executor === self) return ''
  return ` on ${shortPeer(executor)}`
}

export interface StepWhere {
  /** the peer that ran the step (remote steps) */
  executor?: string
  /** this node's peer id: steps it ran itself are not labelled */
  self?: string
}

function describe (ev: ExecEvent, where: StepWhere = {}): string | undefined {
  switch (ev.type) {
    case 'pl:step:started': return `${ev.key}: running${ev.attempt > 1 ? ` (attempt ${ev.attempt})` : ''}`
    case 'pl:step:progress': return `${ev.key}: ${ev.total != null ? `${ev.n}/${ev.total}` : String(ev.n)}${ev.message != null ? ` ${ev.message}` : ''}`
    case 'pl:step:finished': return `${ev.key}: done${ev.replayed ? ' (from the journal)' : ev.usage != null ? ` in ${Math.round(ev.usage.wall_ms)} ms` : ''}${whereLine(where.executor, where.self)}`
    case 'pl:step:failed': return `${ev.key}: failed (${ev.error.name}: ${ev.error.message})${ev.willRetry ? ', retrying' : ''}${whereLine(where.executor, where.self)}`
    case 'pl:step:skipped': return `${ev.key}: skipped (${ev.reason})`
    case 'pl:run:waiting-human': return `${ev.key}: waiting for a decision: ${ev.question}${ev.choices.length > 0 ? ` [${ev.choices.join('|')}]` : ''}`
    case 'pl:run:finished': return 'run: succeeded'
    case 'pl:run:failed': return `run: failed (${ev.error.name})`
  }
}

export class CliProgress {
  // elapsed wall time shown to a person (no node, no component clock): Date.now on purpose
  private readonly started = Date.now()
  private readonly running = new Map<string, string>()
  private timer?: NodeJS.Timeout
  private frame = 0
  private spinnerShown = false
  private finished = 0

  constructor (private readonly out: Out, private readonly tty = out.isTTY === true && process.env.TERM !== 'dumb') {}

  event (ev: ExecEvent, where: StepWhere = {}): void {
    const text = describe(ev, where)
    if (text == null) return
    if (!this.tty) {
      this.out.write(`${new Date().toISOString().slice(11, 23)} ${text}\n`)
      return
    }
    if (ev.type === 'pl:step:started' || ev.type === 'pl:step:progress') {
      this.running.set(ev.key, text)
      this.timer ??= setInterval(() => { this.draw() }, TICK_MS)
      this.timer.unref()
      this.draw()
      return
    }
    if ('key' in ev) this.running.delete(ev.key)
    if (ev.type === 'pl:step:finished') this.finished++
    this.clearSpinner()
    this.out.write(`${text}  (${seconds(Date.now() - this.started)})\n`)
    this.draw()
  }

  private clearSpinner (): void {
    if (this.spinnerShown) this.out.write('\r\x1b[2K')
    this.spinnerShown = false
  }

  private draw (): void {
    if (this.running.size === 0) { this.clearSpinner(); return }
    const cols = Math.max(20, this.out.columns ?? 100)
    const current = [...this.running.values()].join(' · ')
    const line = `${FRAMES[this.frame++ % FRAMES.length]} ${seconds(Date.now() - this.started)}  ${this.finished} done  ${current}`
    this.out.write(`\r\x1b[2K${line.slice(0, cols - 1)}`)
    this.spinnerShown = true
  }

  /** Stops the spinner (call once the operation ended). */
  done (): void {
    clearInterval(this.timer)
    this.timer = undefined
    if (this.tty) this.clearSpinner()
  }
}

/**
 * Runs `fn` with a spinner and the elapsed time on a terminal; elsewhere
 * prints `label…` once. Clears its line and timer however `fn` ends.
 */
export async function spin<T> (out: Out, label: string, fn: () => Promise<T>, tty = out.isTTY === true && process.env.TERM !== 'dumb'): Promise<T> {
  if (!tty) {
    out.write(`${label}…\n`)
    return await fn()
  }
  // elapsed wall time shown to a person: Date.now on purpose
  const started = Date.now()
  let frame = 0
  const draw = (): void => { out.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${label}… ${seconds(Date.now() - started)}`) }
  draw()
  const timer = setInterval(draw, TICK_MS)
  timer.unref()
  try {
    return await fn()
  } finally {
    clearInterval(timer)
    out.write('\r\x1b[2K')
  }
}
