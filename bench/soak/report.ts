/**
 * The report of a soak or chaos run: one JSON-able object, and its text form.
 *
 * @example
 * process.stdout.write(formatReport(report) + '\n')
 */
import { formatInvariants, type InvariantResult } from './invariants.js'
import type { AppliedFault } from './faults.js'
import type { LatencyWindow, RssWindow, Totals } from './stats.js'
import { formatBreakdown, type Breakdown } from './breakdown.js'
import { formatFault } from './schedule.js'

export interface SoakReport {
  mode: 'soak' | 'chaos'
  nodes: number
  requesters: number[]
  minutes: number
  rate: number
  seed: number
  plans: string[]
  root: string
  /** whether the root folder was kept (on failure, or with --keep) */
  kept: boolean
  machine: { cpus: number, cpu?: string, memGiB: number, node: string }
  started: string
  /** load phase, settle phase (ms) */
  loadMs: number
  settleMs: number
  warmup: Array<{ plan: string, node: number, state: string, attempts: number, error?: string }>
  totals: Totals
  skippedTicks: number
  windowMs: number
  latency: LatencyWindow[]
  /** latency per plan and the phases of remote steps and runs (bench/soak/breakdown.ts); absent when the run was aborted */
  breakdown?: Breakdown
  rss: RssWindow[]
  faults: AppliedFault[]
  invariants: InvariantResult[]
  /** things the harness itself could not do (a relaunch that failed, a route missing) */
  notes: string[]
  aborted: boolean
  passed: boolean
}

function ms (n: number): string {
  return Number.isNaN(n) ? '-' : n >= 100 ? n.toFixed(0) : n.toFixed(1)
}

function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i])).join('  ')
  return [line(header), line(widths.map(w => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

function win (from: number, windowMs: number): string {
  return `${(from / 1000).toFixed(0)}-${((from + windowMs) / 1000).toFixed(0)}s`
}

export function formatReport (r: SoakReport): string {
  const t = r.totals
  const out: string[] = []
  out.push(`pl ${r.mode}: ${r.nodes} nodes (requesters ${r.requesters.join(',')}), ${r.minutes} min at ${r.rate} runs/s, seed ${r.seed}, plans ${r.plans.join(',')}`)
  out.push(`machine: ${r.machine.cpus} × ${r.machine.cpu ?? '?'}, ${r.machine.memGiB} GiB, node ${r.machine.node}; started ${r.started}`)
  if (r.warmup.length > 0) out.push(`warm-up: ${r.warmup.map(w => `${w.plan}@node${w.node} ${w.state} after ${w.attempts} attempt(s)${w.error != null ? ` (${w.error})` : ''}`).join('; ')}`)
  out.push('')
  out.push(`runs: ${t.submitted} submitted, ${t.succeeded} succeeded, ${t.failed} failed, ${t.cancelled} cancelled, ${t.unfinished} LOST; ${t.submitFailures} submissions refused${r.skippedTicks > 0 ? `, ${r.skippedTicks} ticks skipped (no requester up)` : ''}`)
  out.push(`latency of succeeded runs: p50 ${ms(t.p50Ms)} ms, p95 ${ms(t.p95Ms)} ms`)
  const names = Object.entries(t.failuresByName).sort((a, b) => b[1] - a[1])
  if (names.length > 0) out.push('failures by error name:\n' + names.map(([n, c]) => `  ${String(c).padStart(5)}  ${n}`).join('\n'))
  const sub = Object.entries(t.submitFailuresByName).sort((a, b) => b[1] - a[1])
  if (sub.length > 0) out.push('refused submissions by error name:\n' + sub.map(([n, c]) => `  ${String(c).padStart(5)}  ${n}`).join('\n'))
  out.push('')
  out.push(`latency by submission window (${r.windowMs / 1000} s):`)
  out.push(table(['window', 'submitted', 'ok', 'failed', 'p50 ms', 'p95 ms'], r.latency.map(w => [win(w.from, r.windowMs), String(w.submitted), String(w.succeeded), String(w.failed), ms(w.p50Ms), ms(w.p95Ms)])))
  if (r.breakdown != null) {
    out.push('')
    out.push(formatBreakdown(r.breakdown))
  }
  out.push('')
  const nodes = Array.from({ length: r.nodes }, (_, i) => i)
  out.push('RSS per node, max MiB per window:')
  out.push(table(['window', ...nodes.map(i => `node${i}`)], r.rss.map(w => [win(w.from, r.windowMs), ...nodes.map(i => w.maxMiB[i] != null ? w.maxMiB[i].toFixed(0) : '-')])))
  if (r.mode === 'chaos') {
    out.push('')
    out.push(`faults (seed ${r.seed}):`)
    for (const f of r.faults) {
      const status = f.error != null ? `  [${f.error}]` : f.appliedAt != null ? `  [hit +${(f.appliedAt / 1000).toFixed(1)}s${f.recoveredAt != null ? `, up +${(f.recoveredAt / 1000).toFixed(1)}s` : ''}]` : ''
      out.push(`  ${formatFault(f)}${status}`)
    }
  }
  if (r.notes.length > 0) {
    out.push('')
    out.push('notes:')
    for (const n of r.notes) out.push(`  ${n}`)
  }
  out.push('')
  out.push('invariants:')
  out.push(formatInvariants(r.invariants))
  out.push('')
  out.push(`${r.passed ? 'PASS' : 'FAIL'}${r.aborted ? ' (aborted)' : ''}${r.kept ? `; data dirs and logs kept in ${r.root}` : ''}`)
  return out.join('\n')
}
