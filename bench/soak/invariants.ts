/**
 * The invariants a soak or chaos run must end with. Each checker is a pure
 * function of what the harness recorded, so it can be (and is, in
 * test/soak) fed fabricated bad records to prove it really fails.
 *
 * - every submitted run completed or failed with a reason (nothing LOST)
 * - no step has two accepted receipts (countersigned by the requester, status ok)
 * - no step completed before a requester restart was run again after it
 * - every stored receipt verifies (see verify.ts)
 *
 * @example
 * const results = [checkNoLostRuns(runs), checkOneAcceptedReceiptPerStep(receipts)]
 * process.exitCode = results.some(r => r.verdict === 'FAIL') ? 1 : 0
 */
import { cidStringOf } from '../../src/core/encoding.js'
import { TERMINAL_STATES, type RestartSnapshot, type RunReceipts, type TrackedRun } from './records.js'

export type Verdict = 'PASS' | 'FAIL' | 'SKIP'

export interface InvariantResult {
  name: string
  verdict: Verdict
  /** how many items were checked (runs, steps, receipts) */
  checked: number
  /** one line per violation (or, for SKIP, why nothing was checked) */
  problems: string[]
}

function result (name: string, checked: number, problems: string[], skipWhy?: string): InvariantResult {
  if (problems.length > 0) return { name, verdict: 'FAIL', checked, problems }
  if (checked === 0 && skipWhy != null) return { name, verdict: 'SKIP', checked, problems: [skipWhy] }
  return { name, verdict: 'PASS', checked, problems: [] }
}

export const NO_LOST_RUNS = 'every submitted run completed or failed with a reason'
export const ONE_ACCEPTED_RECEIPT = 'no step has two accepted receipts'
export const NO_REEXECUTION = 'no completed step re-executed after a requester restart'
export const RECEIPTS_VERIFY = 'all stored receipts verify'

/** A run is LOST when, at the end, it is not terminal, failed without a name and message, or its requester forgot it. */
export function lostReason (run: TrackedRun): string | undefined {
  if (run.forgotten === true) return 'the requester no longer knows this run (404 after it was accepted)'
  if (!TERMINAL_STATES.has(run.state)) return `still '${run.state}' at the end of the grace period`
  if (run.state === 'failed' && (run.error?.name == null || run.error.name === '' || run.error.message == null || run.error.message === '')) return 'failed without a reason (no error name/message)'
  return undefined
}

export function checkNoLostRuns (runs: TrackedRun[]): InvariantResult {
  const problems: string[] = []
  for (const r of runs) {
    const why = lostReason(r)
    if (why != null) problems.push(`LOST run ${r.runId} (node ${r.node}, plan ${r.plan}, submitted +${(r.submittedAt / 1000).toFixed(1)}s): ${why}`)
  }
  return result(NO_LOST_RUNS, runs.length, problems, 'no run was submitted')
}

/**
 * Accepted = countersigned by the requester with status 'ok'. Two accepted
 * receipts for one (run, step) with different contents means a step was paid
 * for twice. The same receipt stored twice is one receipt.
 */
export function checkOneAcceptedReceiptPerStep (receipts: RunReceipts): InvariantResult {
  const problems: string[] = []
  let checked = 0
  for (const [runId, list] of Object.entries(receipts)) {
    const byStep = new Map<string, Set<string>>()
    for (const s of list) {
      if (s?.requester_sig == null || s.receipt?.status !== 'ok') continue
      checked++
      const key = `${s.receipt.run}\u0000${s.receipt.step}`
      const set = byStep.get(key) ?? new Set<string>()
      set.add(cidStringOf(s.receipt))
      byStep.set(key, set)
    }
    for (const [key, cids] of byStep) {
      if (cids.size > 1) problems.push(`run ${runId} step ${key.split('\u0000')[1]}: ${cids.size} accepted receipts (${[...cids].join(', ')})`)
    }
  }
  return result(ONE_ACCEPTED_RECEIPT, checked, problems, 'no accepted receipt was stored')
}

/**
 * For every step that had succeeded when its requester was restarted, the
 * final view must show the same step still succeeded, with the same number of
 * attempts, the same receipt and the same executor; and no second accepted
 * receipt for it may exist.
 */
export function checkNoReexecutionAfterRestart (snapshots: RestartSnapshot[], runs: TrackedRun[], receipts: RunReceipts): InvariantResult {
  const problems: string[] = []
  let checked = 0
  const byId = new Map(runs.map(r => [r.runId, r]))
  for (const snap of snapshots) {
    for (const before of snap.runs) {
      const final = byId.get(before.runId)?.view
      for (const step of before.steps) {
        if (step.state !== 'succeeded') continue
        checked++
        const where = `run ${before.runId} step ${step.key} (restart of node ${snap.node} at +${(snap.at / 1000).toFixed(1)}s)`
        const after = final?.steps.find(s => s.key === step.key)
        if (after == null) { problems.push(`${where}: missing from the final view`); continue }
        if (after.state !== 'succeeded') problems.push(`${where}: was succeeded, now '${after.state}'`)
        if (after.attempts !== step.attempts) problems.push(`${where}: attempts ${step.attempts} before, ${after.attempts} after`)
        if (step.receipt != null && after.receipt !== step.receipt) problems.push(`${where}: receipt ${step.receipt} before, ${String(after.receipt)} after`)
        if (step.executor != null && after.executor !== step.executor) problems.push(`${where}: executed by ${step.executor} before, ${String(after.executor)} after`)
        const accepted = new Set((receipts[before.runId] ?? [])
          .filter(s => s?.requester_sig != null && s.receipt?.status === 'ok' && s.receipt.step === step.key)
          .map(s => cidStringOf(s.receipt)))
        if (accepted.size > 1) problems.push(`${where}: ${accepted.size} accepted receipts after the restart`)
      }
    }
  }
  return result(NO_REEXECUTION, checked, problems, snapshots.length === 0 ? 'no requester restart happened' : 'no step had completed when the requester was restarted')
}

export interface ReceiptCheck {
  runId: string
  /** receipts checked for this run */
  receipts: number
  problems: string[]
}

export function checkReceiptsVerify (checks: ReceiptCheck[]): InvariantResult {
  const problems = checks.flatMap(c => c.problems.map(p => `run ${c.runId}: ${p}`))
  const checked = checks.reduce((n, c) => n + c.receipts, 0)
  return result(RECEIPTS_VERIFY, checked, problems, 'no receipt was stored')
}

export function anyFailed (results: InvariantResult[]): boolean {
  return results.some(r => r.verdict === 'FAIL')
}

/** `PASS  every submitted run ... (120 checked)` plus indented problems (at most `maxProblems` each). */
export function formatInvariants (results: InvariantResult[], maxProblems = 20): string {
  const lines: string[] = []
  for (const r of results) {
    lines.push(`${r.verdict.padEnd(4)}  ${r.name} (${r.checked} checked)`)
    for (const p of r.problems.slice(0, maxProblems)) lines.push(`        ${p}`)
    if (r.problems.length > maxProblems) lines.push(`        … and ${r.problems.length - maxProblems} more`)
  }
  return lines.join('\n')
}
