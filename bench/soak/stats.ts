/**
 * Aggregates of a soak: completed/failed counts, failures by error name,
 * latency p50/p95 per time window (by submission time) and RSS per node per
 * window.
 *
 * @example
 * const windows = latencyWindows(runs, 30_000)
 * const rss = rssWindows(samples, 30_000)
 */
import { percentile } from '../harness.js'
import type { SubmitFailure, TrackedRun } from './records.js'

export interface RssSample { t: number, node: number, rssKiB: number }

export interface LatencyWindow {
  /** window start, ms since the start of the load */
  from: number
  submitted: number
  succeeded: number
  failed: number
  p50Ms: number
  p95Ms: number
}

export interface RssWindow {
  from: number
  /** node index → max RSS in MiB in this window (absent: no sample, e.g. node down) */
  maxMiB: Record<number, number>
}

export interface Totals {
  submitted: number
  succeeded: number
  failed: number
  cancelled: number
  /** not terminal at the end (LOST) */
  unfinished: number
  submitFailures: number
  failuresByName: Record<string, number>
  submitFailuresByName: Record<string, number>
  p50Ms: number
  p95Ms: number
}

export function totals (runs: TrackedRun[], submitFailures: SubmitFailure[]): Totals {
  const failuresByName: Record<string, number> = {}
  for (const r of runs) {
    if (r.state === 'failed') {
      const name = r.error?.name ?? '(no reason)'
      failuresByName[name] = (failuresByName[name] ?? 0) + 1
    }
  }
  const submitFailuresByName: Record<string, number> = {}
  for (const s of submitFailures) submitFailuresByName[s.name] = (submitFailuresByName[s.name] ?? 0) + 1
  const lat = runs.filter(r => r.state === 'succeeded' && r.latencyMs != null).map(r => r.latencyMs!)
  return {
    submitted: runs.length,
    succeeded: runs.filter(r => r.state === 'succeeded').length,
    failed: runs.filter(r => r.state === 'failed').length,
    cancelled: runs.filter(r => r.state === 'cancelled').length,
    unfinished: runs.filter(r => r.state !== 'succeeded' && r.state !== 'failed' && r.state !== 'cancelled').length,
    submitFailures: submitFailures.length,
    failuresByName,
    submitFailuresByName,
    p50Ms: percentile(lat, 50),
    p95Ms: percentile(lat, 95)
  }
}

/** Latency of succeeded runs, grouped by the window their submission fell in. */
export function latencyWindows (runs: TrackedRun[], windowMs: number): LatencyWindow[] {
  if (!(windowMs > 0)) throw new TypeError('windowMs must be > 0')
  const last = Math.max(0, ...runs.map(r => r.submittedAt))
  const out: LatencyWindow[] = []
  for (let from = 0; from <= last; from += windowMs) {
    const inWin = runs.filter(r => r.submittedAt >= from && r.submittedAt < from + windowMs)
    const lat = inWin.filter(r => r.state === 'succeeded' && r.latencyMs != null).map(r => r.latencyMs!)
    out.push({
      from,
      submitted: inWin.length,
      succeeded: inWin.filter(r => r.state === 'succeeded').length,
      failed: inWin.filter(r => r.state === 'failed').length,
      p50Ms: percentile(lat, 50),
      p95Ms: percentile(lat, 95)
    })
  }
  return out
}

/** Max RSS per node in each window. */
export function rssWindows (samples: RssSample[], windowMs: number): RssWindow[] {
  if (!(windowMs > 0)) throw new TypeError('windowMs must be > 0')
  const out: RssWindow[] = []
  const last = Math.max(0, ...samples.map(s => s.t))
  for (let from = 0; from <= last; from += windowMs) {
    const maxMiB: Record<number, number> = {}
    for (const s of samples) {
      if (s.t < from || s.t >= from + windowMs) continue
      const mib = Math.round(s.rssKiB / 102.4) / 10
      maxMiB[s.node] = Math.max(maxMiB[s.node] ?? 0, mib)
    }
    out.push({ from, maxMiB })
  }
  return out
}
