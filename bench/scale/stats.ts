/**
 * Pure helpers of the scale bench (tested in test/bench/scale-stats.test.ts):
 * /proc parsing (VmRSS as the soak reads it), Prometheus counter sums, the sizes argument and the table
 * of how each figure grows with the number of nodes.
 */
import { percentile } from '../harness.js'
import { parseVmRss } from '../soak/rss.js'

export { percentile, parseVmRss }

/**
 * utime + stime (clock ticks) of a /proc/<pid>/stat text. The command name
 * (field 2) is in parentheses and may hold spaces or ')', so fields are
 * counted after the last ')': state is field 3, utime 14, stime 15.
 */
export function parseCpuTicks (stat: string): number {
  const close = stat.lastIndexOf(')')
  if (close < 0) throw new Error('malformed /proc/<pid>/stat')
  const rest = stat.slice(close + 1).trim().split(/\s+/)
  const utime = Number(rest[11])
  const stime = Number(rest[12])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('malformed /proc/<pid>/stat')
  return utime + stime
}

/** rchar / wchar (bytes through read/write syscalls: sockets and files) of a /proc/<pid>/io text. */
export function parseIo (io: string): { rchar: number, wchar: number } {
  const r = /^rchar:\s+(\d+)$/m.exec(io)
  const w = /^wchar:\s+(\d+)$/m.exec(io)
  if (r == null || w == null) throw new Error('no rchar/wchar in /proc/<pid>/io')
  return { rchar: Number(r[1]), wchar: Number(w[1]) }
}

/** Share of one core used between two tick readings `windowMs` apart (1 = a whole core). */
export function coreShare (ticksBefore: number, ticksAfter: number, hz: number, windowMs: number): number {
  if (windowMs <= 0) throw new RangeError('window must be positive')
  return (ticksAfter - ticksBefore) / hz / (windowMs / 1000)
}

/**
 * Sum of every sample of a counter in a Prometheus text exposition, over all
 * label sets, optionally only those whose labels include `where` (k="v").
 */
export function sumCounter (text: string, name: string, where: Record<string, string> = {}): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line)
    if (m == null || m[1] !== name) continue
    const labels = m[2] ?? ''
    if (!Object.entries(where).every(([k, v]) => labels.includes(`${k}="${v}"`))) continue
    const v = Number(m[3])
    if (Number.isFinite(v)) sum += v
  }
  return sum
}

/** `--sizes 10,25,50` → [10, 25, 50] (sorted, distinct, each ≥ 2); `none` → [] (the in-process mesh only). */
export function parseSizes (arg: string | undefined, fallback: number[]): number[] {
  if (arg == null || arg === '') return fallback
  if (arg.trim() === 'none') return []
  const out = arg.split(',').map(s => Number(s.trim()))
  for (const n of out) if (!Number.isInteger(n) || n < 2) throw new RangeError(`--sizes: ${JSON.stringify(arg)} must be a comma-separated list of integers ≥ 2`)
  return [...new Set(out)].sort((a, b) => a - b)
}

/** A figure measured at one size (p95 optional: a single reading has none). */
/** What both scale runs (processes, in-process mesh) take. */
export interface ScaleRunOptions {
  n: number
  root: string
  /** idle window over which RSS, CPU and gossip are read */
  idleMs: number
  /** wait after the catalogs are full, before the idle window */
  warmMs: number
  /** find queries per kind */
  queries: number
  /** CFP→award rounds (after 5 warm-up rounds) */
  cfpRounds: number
  /** nodes started one after the other once the swarm runs, each timed until every node's catalog holds its ad */
  joins: number
  /** longest wait for every catalog to hold every node's ad, and for a new node's ad to reach every catalog */
  catalogWaitMs: number
  log: (line: string) => void
  signal: AbortSignal
  /** registers a stop action run on abort or error */
  onCleanup: (fn: () => Promise<void>) => void
}

export interface SizedFigure { n: number, p50: number, p95?: number }

/**
 * Slope of log(value) against log(N) between the smallest and largest size:
 * 0 = flat, 1 = linear in N, 2 = quadratic. NaN when it cannot be told
 * (fewer than two sizes, or a zero/negative value).
 */
export function growthExponent (points: SizedFigure[]): number {
  const pts = [...points].filter(p => Number.isFinite(p.p50)).sort((a, b) => a.n - b.n)
  if (pts.length < 2) return NaN
  const a = pts[0]
  const b = pts[pts.length - 1]
  if (a.p50 <= 0 || b.p50 <= 0 || a.n === b.n) return NaN
  return Math.log(b.p50 / a.p50) / Math.log(b.n / a.n)
}

function fmt (v: number | undefined): string {
  if (v == null || Number.isNaN(v)) return '-'
  if (Math.abs(v) >= 100) return v.toFixed(0)
  if (Math.abs(v) >= 1) return v.toFixed(2)
  if (v === 0) return '0'
  return v.toPrecision(3)
}

/**
 * Table: one row per figure, one column per size (`p50 / p95`), then the
 * ratio of the largest size to the smallest and the growth exponent.
 */
export function growthTable (figures: Record<string, { unit: string, points: SizedFigure[] }>): string {
  const sizes = [...new Set(Object.values(figures).flatMap(f => f.points.map(p => p.n)))].sort((a, b) => a - b)
  const header = ['figure', 'unit', ...sizes.map(n => `N=${n} p50/p95`), 'last/first', 'exp']
  const lines = Object.entries(figures).map(([name, f]) => {
    const cells = sizes.map(n => {
      const p = f.points.find(x => x.n === n)
      return p == null ? '' : p.p95 == null ? fmt(p.p50) : `${fmt(p.p50)} / ${fmt(p.p95)}`
    })
    const pts = [...f.points].filter(p => Number.isFinite(p.p50)).sort((a, b) => a.n - b.n)
    const ratio = pts.length >= 2 && pts[0].p50 !== 0 ? pts[pts.length - 1].p50 / pts[0].p50 : NaN
    return [name, f.unit, ...cells, Number.isNaN(ratio) ? '-' : `${fmt(ratio)}x`, fmt(growthExponent(f.points))]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map(l => l[i].length)))
  const row = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  return [row(header), row(widths.map(w => '-'.repeat(w))), ...lines.map(row), '', 'exp: slope of log(p50) against log(N) between the smallest and the largest size (0 flat, 1 linear).'].join('\n')
}
