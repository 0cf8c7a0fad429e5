/**
 * Benchmark harness. Two shapes of benchmark:
 * - a **pair**: `baseline` and `subject`, each `run()` does a fixed batch and
 *   returns how many operations it did. Rounds alternate baseline/subject
 *   after a warm-up, so both see the same machine state; the table shows
 *   ops/s p50/p95 for each and the ratio subject/baseline.
 * - **figures**: `run()` measures itself and returns named figures (p50/p95
 *   with a unit), each with the raw baseline it measured in the same run.
 */
export interface Runner { name: string, run: () => Promise<number> }

export interface PairBench { name: string, baseline: Runner, subject: Runner, rounds?: number, setup?: () => Promise<void>, teardown?: () => Promise<void> }

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
  /** subject p50 / baseline p50 (for ops/s: >1 is faster than the baseline; for latencies: >1 is slower) */
  ratio?: number
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

async function opsPerSec (r: Runner): Promise<number> {
  const t0 = performance.now()
  const ops = await r.run()
  const ms = performance.now() - t0
  return ops / (ms / 1000)
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
    await b.baseline.run(); await b.subject.run() // warm-up
    const base: number[] = []
    const subj: number[] = []
    const rounds = b.rounds ?? 5
    for (let i = 0; i < rounds; i++) {
      base.push(await opsPerSec(b.baseline))
      subj.push(await opsPerSec(b.subject))
      log(`  ${b.name} round ${i + 1}/${rounds}`)
    }
    const p50 = percentile(subj, 50)
    const bp50 = percentile(base, 50)
    return [{ bench: b.name, figure: b.subject.name, unit: 'ops/s', p50, p95: percentile(subj, 5), baseline: b.baseline.name, baselineP50: bp50, baselineP95: percentile(base, 5), ratio: p50 / bp50 }]
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
  return [row(header), row(widths.map(w => '-'.repeat(w))), ...lines.map(row), '', '* p95 of a latency; for ops/s the 95th-percentile-worst round (5th percentile of throughput).'].join('\n')
}
