/**
 * Where a soak's latency goes: p50/p95 per plan, and a phase breakdown of
 * its remote steps read from the requester's own records (pure functions of
 * `GET /runs/:id` step times and `GET /runs/:id/explanations`):
 *
 * - queue: the step's `running` record (`started`) → its negotiation began
 *   (`explanation.started`): an executor slot, the remote runner's slot;
 * - negotiation: → the winning award (`attempts[last].at`): discovery, calls,
 *   bids, and any failed award before it;
 * - execution: → the negotiation ended (`explanation.ended`): award, the
 *   provider's run, the result and its receipt checked and countersigned;
 * - receipt: → the step ended (`ended`): the receipt and the explanation
 *   stored, the step's output and record journaled;
 *
 * and per run: start (submission `created` → its first step started) and
 * finish (its last step ended → the run `ended`). Each group is also given
 * for the slowest runs (latency ≥ the overall p95), to show what the tail is
 * made of.
 *
 * @example
 * const b = breakdown(runs, explanationsByRun)
 * process.stdout.write(formatBreakdown(b) + '\n')
 */
import { percentile } from '../harness.js'
import type { StepView, TrackedRun } from './records.js'

/** What the breakdown reads of a StepExplanation (`GET /runs/:id/explanations` → `{steps}`). */
export interface ExplanationView {
  step: string
  started: number
  ended?: number
  outcome?: string
  attempts: Array<{ at: number, outcome: string }>
}

export const STEP_PHASES = ['queue', 'negotiation', 'execution', 'receipt'] as const
export const RUN_PHASES = ['start', 'finish'] as const
export type StepPhase = typeof STEP_PHASES[number]
export type RunPhase = typeof RUN_PHASES[number]

export interface PlanLatency {
  plan: string
  submitted: number
  succeeded: number
  failed: number
  p50Ms: number
  p95Ms: number
}

/** p50/p95 of one phase over a group (`n` measurements). */
export interface PhaseStat { n: number, p50Ms: number, p95Ms: number }

export interface PhaseGroup {
  /** a plan's name, or `tail` (succeeded runs of any plan with latency ≥ the overall p95) */
  group: string
  runs: number
  steps: Record<StepPhase, PhaseStat>
  run: Record<RunPhase, PhaseStat>
}

export interface Breakdown {
  plans: PlanLatency[]
  phases: PhaseGroup[]
  /** succeeded runs with a view and explanations (the ones the phases come from) */
  explained: number
}

const nonNegative = (n: number): number => Math.max(0, n)
const isNum = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n)

/** The phases of one remote step that succeeded; undefined when a time is missing (a local step has no explanation). */
export function stepPhases (step: StepView, exp: ExplanationView | undefined): Record<StepPhase, number> | undefined {
  if (exp == null || exp.outcome !== 'ok' || !isNum(step.started) || !isNum(step.ended) || !isNum(exp.ended)) return undefined
  const won = [...exp.attempts].reverse().find(a => a.outcome === 'ok')
  if (won == null || !isNum(won.at)) return undefined
  return {
    queue: nonNegative(exp.started - step.started),
    negotiation: nonNegative(won.at - exp.started),
    execution: nonNegative(exp.ended - won.at),
    receipt: nonNegative(step.ended - exp.ended)
  }
}

/** The run-level phases of a succeeded run (from its steps' times); undefined without them. */
export function runPhases (run: TrackedRun): Record<RunPhase, number> | undefined {
  const v = run.view
  if (v == null || !isNum(v.run.created) || !isNum(v.run.ended)) return undefined
  const started = v.steps.map(s => s.started).filter(isNum)
  const ended = v.steps.map(s => s.ended).filter(isNum)
  if (started.length === 0 || ended.length === 0) return undefined
  return { start: nonNegative(Math.min(...started) - v.run.created), finish: nonNegative(v.run.ended - Math.max(...ended)) }
}

function stat (values: number[]): PhaseStat {
  return { n: values.length, p50Ms: percentile(values, 50), p95Ms: percentile(values, 95) }
}

/** Latency per plan (succeeded runs), with each plan's submitted and failed counts. */
export function planLatency (runs: TrackedRun[]): PlanLatency[] {
  const plans = [...new Set(runs.map(r => r.plan))].sort()
  return plans.map((plan) => {
    const mine = runs.filter(r => r.plan === plan)
    const lat = mine.filter(r => r.state === 'succeeded' && isNum(r.latencyMs)).map(r => r.latencyMs as number)
    return { plan, submitted: mine.length, succeeded: mine.filter(r => r.state === 'succeeded').length, failed: mine.filter(r => r.state === 'failed').length, p50Ms: percentile(lat, 50), p95Ms: percentile(lat, 95) }
  })
}

function group (name: string, runs: TrackedRun[], explanations: Record<string, ExplanationView[]>): PhaseGroup {
  const steps: Record<StepPhase, number[]> = { queue: [], negotiation: [], execution: [], receipt: [] }
  const run: Record<RunPhase, number[]> = { start: [], finish: [] }
  for (const r of runs) {
    const byKey = new Map((explanations[r.runId] ?? []).map(e => [e.step, e]))
    for (const s of r.view?.steps ?? []) {
      const p = stepPhases(s, byKey.get(s.key))
      if (p != null) for (const k of STEP_PHASES) steps[k].push(p[k])
    }
    const rp = runPhases(r)
    if (rp != null) for (const k of RUN_PHASES) run[k].push(rp[k])
  }
  return {
    group: name,
    runs: runs.length,
    steps: { queue: stat(steps.queue), negotiation: stat(steps.negotiation), execution: stat(steps.execution), receipt: stat(steps.receipt) },
    run: { start: stat(run.start), finish: stat(run.finish) }
  }
}

/**
 * Per-plan latency and the phase breakdown of succeeded runs whose
 * explanations are known (`explanations`: run id → its steps' explanations).
 */
export function breakdown (runs: TrackedRun[], explanations: Record<string, ExplanationView[]>): Breakdown {
  const explained = runs.filter(r => r.state === 'succeeded' && r.view != null && explanations[r.runId] != null)
  const plans = [...new Set(explained.map(r => r.plan))].sort()
  const lat = runs.filter(r => r.state === 'succeeded' && isNum(r.latencyMs)).map(r => r.latencyMs as number)
  const p95 = percentile(lat, 95)
  const tail = Number.isNaN(p95) ? [] : explained.filter(r => isNum(r.latencyMs) && r.latencyMs >= p95)
  return {
    plans: planLatency(runs),
    phases: [...plans.map(p => group(p, explained.filter(r => r.plan === p), explanations)), ...(tail.length > 0 ? [group('tail', tail, explanations)] : [])],
    explained: explained.length
  }
}

function ms (n: number): string {
  return Number.isNaN(n) ? '-' : n.toFixed(0)
}

/** The breakdown as text: a line per plan, then a line per group with p50/p95 of each phase. */
export function formatBreakdown (b: Breakdown): string {
  const out: string[] = ['latency by plan:']
  for (const p of b.plans) out.push(`  ${p.plan}: ${p.succeeded}/${p.submitted} ok, ${p.failed} failed, p50 ${ms(p.p50Ms)} ms, p95 ${ms(p.p95Ms)} ms`)
  out.push(`phases of remote steps and runs, p50/p95 ms (${b.explained} succeeded runs with explanations):`)
  const cols = [...STEP_PHASES, ...RUN_PHASES]
  out.push(`  ${'group'.padEnd(10)} ${'runs'.padStart(5)} ${'steps'.padStart(6)}  ${cols.map(c => c.padStart(13)).join(' ')}`)
  for (const g of b.phases) {
    const cells = [...STEP_PHASES.map(k => g.steps[k]), ...RUN_PHASES.map(k => g.run[k])].map(s => `${ms(s.p50Ms)}/${ms(s.p95Ms)}`.padStart(13))
    out.push(`  ${g.group.padEnd(10)} ${String(g.runs).padStart(5)} ${String(g.steps.queue.n).padStart(6)}  ${cells.join(' ')}`)
  }
  return out.join('\n')
}
