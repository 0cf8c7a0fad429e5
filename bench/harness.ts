/**
 * Benchmark harness. Two shapes of benchmark:
 * - a **pair**: `baseline` and `subject`, each `run()` does a fixed batch and
 *   returns how many operations it did. After a warm-up, each round runs one
 *   batch of each back to back (which goes first alternates from round to
 *   round), so both see the same machine state; the table shows ops/s
 *   p50/p95 for each and the ratio subject/baseline as the **median of the
 *   per-round ratios**: a load spike that hits one round moves that round's
 *   ratio only, not a whole side's median. Short batches and many rounds
 *   make the measurement fairer on a shared machine.
 * - **figures**: `run()` measures itself and returns named figures (p50/p95
 *   with a unit), each with the raw baseline it measured in the same run.
 *
 * Before a pair's warm-up, the process's V8 young generation is run through
 * once with short-lived garbage (`warmHeap`), both sides alike; set
 * `PL_BENCH_COLD_HEAP=1` to measure without it.
 */
import { getHeapSpaceStatistics } from 'node:v8'

export interface Runner { name: string, run: () => Promise<number> }

export interface PairBench {
  name: string
  baseline: Runner
  subject: Runner
  rounds?: number
  /** unmeasured rounds of each side first (the JIT's optimised code, caches) @default 1 */
  warmup?: number
  /**
   * Also report ops per second of process CPU time (user + system), a second
   * row: for work done synchronously on the main thread, where CPU time is
   * what the operation costs and other processes taking the CPUs do not count.
   */
  cpuTime?: boolean
  setup?: () => Promise<void>
  teardown?: () => Promise<void>
}

export interface Figure { unit: string, p50: number, p95: number, baseline?: { name: string, p50: number, p95: number } }

export interface FiguresBench { name: string, run: () => Promise<{ figures: Record<string, Figure | number> }> }

export type Bench = PairBench | FiguresBench

export interface Row {
  bench: string
  figure: string
  unit: string
  p50: number
  p95: number
  baseline?: string
  baselineP50?: number
  baselineP95?: number
  /** pairs: median of the per-round ratios subject/baseline; figures: subject p50 / baseline p50 (for ops/s: >1 is faster than the baseline; for latencies: >1 is slower) */
  ratio?: number
}

/**
 * The pair figures from per-round ops/s (`base[i]` and `subj[i]` measured in
 * the same round): p50 and 5th-percentile-worst throughput of each side, and
 * the median of the per-round ratios subject/baseline.
 */
export function pairSummary (base: number[], subj: number[]): { p50: number, p95: number, baselineP50: number, baselineP95: number, ratio: number } {
  if (base.length !== subj.length) throw new RangeError(`rounds differ: ${base.length} baseline, ${subj.length} subject`)
  const ratios = subj.map((s, i) => s / base[i])
  return { p50: percentile(subj, 50), p95: percentile(subj, 5), baselineP50: percentile(base, 50), baselineP95: percentile(base, 5), ratio: median(ratios) }
}

/** The middle value (mean of the two middle ones for an even count); NaN when empty. */
export function median (values: number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function percentile (values: number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))
  return sorted[idx]
}

/** Summarizes latency samples (ms) as a Figure. */
export function latencyFigure (samples: number[], baseline?: { name: string, samples: number[] }): Figure {
  return {
    unit: 'ms',
    p50: percentile(samples, 50),
    p95: percentile(samples, 95),
    ...(baseline != null ? { baseline: { name: baseline.name, p50: percentile(baseline.samples, 50), p95: percentile(baseline.samples, 95) } } : {})
  }
}

/**
 * Allocates short-lived garbage, four times V8's young generation as it is
 * now and at least 64 MiB, so that a pair is not measured while the young
 * generation's pages are touched for the first time: after V8 grows it (it
 * does during the first benches of a process), a subject that allocates pays
 * a page fault every few KB until each page has been used once, ~10 % of an
 * envelope verification for its first ~6 000 (docs/PERFORMANCE.md "Envelope
 * verify: garbage per envelope"), while a native baseline that allocates
 * nothing never does. A node that has run for a minute is past it. ~0.1–0.3 s.
 * Does nothing with `PL_BENCH_COLD_HEAP=1`.
 */
export function warmHeap (): void {
  if (process.env.PL_BENCH_COLD_HEAP === '1') return
  const young = getHeapSpaceStatistics().find(s => s.space_name === 'new_space')?.space_size ?? 0
  // each object: ~100 bytes (a 3-member object, a 2-element array, a short string)
  const objects = Math.max(64 * 2 ** 20, 4 * young) / 100
  let last: unknown
  for (let i = 0; i < objects; i++) last = { a: i, b: [i, i], c: 'x' + String(i) }
  if (last == null) throw new Error('unreachable')
}

/** One round of a runner: ops per second of wall time and of process CPU time. */
async function measure (r: Runner): Promise<{ wall: number, cpu: number }> {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const ops = await r.run()
  const ms = performance.now() - t0
  const c = process.cpuUsage(c0)
  return { wall: ops / (ms / 1000), cpu: ops / Math.max(1e-6, (c.user + c.system) / 1e6) }
}

export async function runBench (b: Bench, log: (line: string) => void = () => {}): Promise<Row[]> {
  if ('run' in b) {
    const { figures } = await b.run()
    return Object.entries(figures).map(([figure, f]) => {
      if (typeof f === 'number') return { bench: b.name, figure, unit: '', p50: f, p95: f }
      const row: Row = { bench: b.name, figure, unit: f.unit, p50: f.p50, p95: f.p95 }
      if (f.baseline != null) {
        row.baseline = f.baseline.name
        row.baselineP50 = f.baseline.p50
        row.baselineP95 = f.baseline.p95
        row.ratio = f.p50 / f.baseline.p50
      }
      return row
    })
  }
  await b.setup?.()
  try {
    warmHeap()
    for (let i = 0; i < (b.warmup ?? 1); i++) { await b.baseline.run(); await b.subject.run() }
    const base: Array<{ wall: number, cpu: number }> = []
    const subj: Array<{ wall: number, cpu: number }> = []
    const rounds = b.rounds ?? 5
    for (let i = 0; i < rounds; i++) {
      // which side goes first alternates: neither always runs right after the other's garbage
      if (i % 2 === 0) {
        base.push(await measure(b.baseline))
        subj.push(await measure(b.subject))
      } else {
        subj.push(await measure(b.subject))
        base.push(await measure(b.baseline))
      }
      if (rounds <= 10 || (i + 1) % 10 === 0 || i + 1 === rounds) log(`  ${b.name} round ${i + 1}/${rounds}`)
    }
    const row = (figure: string, unit: string, key: 'wall' | 'cpu'): Row => {
      const s = pairSummary(base.map(x => x[key]), subj.map(x => x[key]))
      return { bench: b.name, figure, unit, p50: s.p50, p95: s.p95, baseline: b.baseline.name, baselineP50: s.baselineP50, baselineP95: s.baselineP95, ratio: s.ratio }
    }
    const rows = [row(b.subject.name, 'ops/s', 'wall')]
    if (b.cpuTime === true) rows.push(row(`${b.subject.name}, CPU time`, 'ops/cpu-s', 'cpu'))
    return rows
  } finally {
    await b.teardown?.()
  }
}

function fmt (n: number | undefined): string {
  if (n == null || Number.isNaN(n)) return '-'
  if (Math.abs(n) >= 100) return n.toFixed(0)
  if (Math.abs(n) >= 1) return n.toFixed(2)
  return n.toPrecision(3)
}

export function formatTable (rows: Row[]): string {
  const header = ['bench', 'figure', 'unit', 'p50', 'p95*', 'baseline', 'base p50', 'ratio']
  const lines = rows.map(r => [r.bench, r.figure, r.unit, fmt(r.p50), fmt(r.p95), r.baseline ?? '-', fmt(r.baselineP50), r.ratio != null ? fmt(r.ratio) + 'x' : '-'])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map(l => l[i].length)))
  const row = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ')
  return [row(header), row(widths.map(w => '-'.repeat(w))), ...lines.map(row), '', '* p95 of a latency; for ops/s the 95th-percentile-worst round (5th percentile of throughput). Pair ratios: median of the per-round ratios.'].join('\n')
}
