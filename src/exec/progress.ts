/**
 * Renders executor events for a terminal: on a TTY one line per step,
 * updated in place; otherwise one plain line per event. Used by `pl run`
 * for in-process runs and for runs polled from a daemon.
 */
import type { ExecEvent } from './types.js'

interface Line { key: string, text: string }

export class ProgressRenderer {
  private readonly lines: Line[] = []
  private drawn = 0

  constructor (private readonly out: NodeJS.WritableStream & { isTTY?: boolean }, private readonly tty = out.isTTY === true) {}

  event (ev: ExecEvent): void {
    const text = describe(ev)
    if (text == null) return
    if (!this.tty) {
      this.out.write(`${new Date().toISOString().slice(11, 23)} ${text}\n`)
      return
    }
    const key = 'key' in ev ? ev.key : `run:${ev.type}`
    const line = this.lines.find(l => l.key === key)
    if (line != null) line.text = text
    else this.lines.push({ key, text })
    this.redraw()
  }

  private redraw (): void {
    const cols = Math.max(20, (this.out as { columns?: number }).columns ?? 100)
    let s = this.drawn > 0 ? `\x1b[${this.drawn}A` : ''
    for (const l of this.lines) s += `\x1b[2K${l.text.slice(0, cols - 1)}\n`
    this.drawn = this.lines.length
    this.out.write(s)
  }
}

function describe (ev: ExecEvent): string | undefined {
  switch (ev.type) {
    case 'pl:step:started': return `${ev.key}: running${ev.attempt > 1 ? ` (attempt ${ev.attempt})` : ''}`
    case 'pl:step:progress': return `${ev.key}: ${ev.total != null ? `${ev.n}/${ev.total}` : String(ev.n)}${ev.message != null ? ` ${ev.message}` : ''}`
    case 'pl:step:finished': return `${ev.key}: done${ev.replayed ? ' (from the journal)' : ev.usage != null ? ` in ${Math.round(ev.usage.wall_ms)} ms, cpu ${Math.round(ev.usage.cpu_ms)} ms, mem ${Math.round(ev.usage.mem_peak_mb)} MiB` : ''}`
    case 'pl:step:failed': return `${ev.key}: failed (${ev.error.name}: ${ev.error.message})${ev.willRetry ? ', retrying' : ''}`
    case 'pl:step:skipped': return `${ev.key}: skipped (${ev.reason})`
    case 'pl:run:waiting-human': return `${ev.key}: waiting for a decision: ${ev.question}${ev.choices.length > 0 ? ` [${ev.choices.join('|')}]` : ''}`
    case 'pl:run:finished': return 'run: succeeded'
    case 'pl:run:failed': return `run: failed (${ev.error.name})`
  }
}
