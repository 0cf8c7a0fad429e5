/**
 * The soak's latency breakdown (bench/soak/breakdown.ts) on fabricated
 * step records and explanations: per-plan latency, the phases of a remote
 * step, the run-level phases, and the tail group.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { breakdown, formatBreakdown, planLatency, runPhases, stepPhases, type ExplanationView } from '../../bench/soak/breakdown.js'
import type { TrackedRun } from '../../bench/soak/records.js'
import { run, step } from './records.js'

/** An explanation of a step that negotiated from `started`, won at `at`, ended at `ended`. */
function exp (key: string, started: number, at: number, ended: number, over: Partial<ExplanationView> = {}): ExplanationView {
  return { step: key, started, ended, outcome: 'ok', attempts: [{ at, outcome: 'ok' }], ...over }
}

/** A succeeded run created at `created`, ended at `ended`, with one remote step `a` (started 1010, ended 1090). */
function oneStep (id: string, plan: string, latencyMs: number, t0 = 1000): TrackedRun {
  return run({
    runId: id,
    plan,
    latencyMs,
    view: { run: { id, state: 'succeeded', created: t0, ended: t0 + latencyMs }, steps: [step({ key: 'a', started: t0 + 10, ended: t0 + latencyMs - 5 })] }
  })
}

test('the phases of a remote step: queue, negotiation, execution, receipt', () => {
  const p = stepPhases(step({ started: 1_000, ended: 1_200 }), exp('a', 1_030, 1_080, 1_180))
  assert.deepEqual(p, { queue: 30, negotiation: 50, execution: 100, receipt: 20 })
})

test('after a failover the negotiation phase runs to the winning award', () => {
  const e = exp('a', 1_000, 0, 1_500, { attempts: [{ at: 1_100, outcome: 'failed' }, { at: 1_400, outcome: 'ok' }] })
  assert.deepEqual(stepPhases(step({ started: 1_000, ended: 1_510 }), e), { queue: 0, negotiation: 400, execution: 100, receipt: 10 })
})

test('no phases for a step without an explanation, a failed negotiation, or missing times', () => {
  assert.equal(stepPhases(step({ started: 1, ended: 2 }), undefined), undefined)
  assert.equal(stepPhases(step({ started: 1, ended: 2 }), exp('a', 1, 1, 2, { outcome: 'failed' })), undefined)
  assert.equal(stepPhases(step({ ended: 2 }), exp('a', 1, 1, 2)), undefined)
  assert.equal(stepPhases(step({ started: 1, ended: 2 }), exp('a', 1, 1, 2, { ended: undefined })), undefined)
  assert.equal(stepPhases(step({ started: 1, ended: 2 }), exp('a', 1, 1, 2, { attempts: [{ at: 1, outcome: 'failed' }] })), undefined)
})

test('clock differences never make a phase negative', () => {
  assert.deepEqual(stepPhases(step({ started: 1_050, ended: 1_100 }), exp('a', 1_000, 1_010, 1_120)), { queue: 0, negotiation: 10, execution: 110, receipt: 0 })
})

test('run phases: submission to the first step, the last step to the run\'s end', () => {
  const r = run({ view: { run: { id: 'r', state: 'succeeded', created: 1_000, ended: 2_000 }, steps: [step({ key: 'a', started: 1_020, ended: 1_500 }), step({ key: 'b', started: 1_510, ended: 1_990 })] } })
  assert.deepEqual(runPhases(r), { start: 20, finish: 10 })
  assert.equal(runPhases(run()), undefined)
})

test('latency per plan counts each plan\'s runs and failures', () => {
  const plans = planLatency([
    run({ plan: 'sections', latencyMs: 40 }), run({ plan: 'sections', latencyMs: 60 }),
    run({ plan: 'summarize', latencyMs: 300 }), run({ plan: 'summarize', state: 'failed', latencyMs: undefined, error: { name: 'X', message: 'y' } })
  ])
  assert.deepEqual(plans, [
    { plan: 'sections', submitted: 2, succeeded: 2, failed: 0, p50Ms: 40, p95Ms: 60 },
    { plan: 'summarize', submitted: 2, succeeded: 1, failed: 1, p50Ms: 300, p95Ms: 300 }
  ])
})

test('breakdown groups by plan, adds the tail (latency ≥ p95), and leaves out runs without explanations', () => {
  const runs = [
    ...Array.from({ length: 18 }, (_, i) => oneStep(`s${i}`, 'sections', 100)),
    oneStep('slow1', 'summarize', 2_000),
    oneStep('slow2', 'summarize', 2_000),
    oneStep('unexplained', 'sections', 100)
  ]
  const explanations: Record<string, ExplanationView[]> = {}
  for (const r of runs) if (r.runId !== 'unexplained') explanations[r.runId] = [exp('a', 1_020, 1_050, r.runId.startsWith('slow') ? 2_900 : 1_080)]
  const b = breakdown(runs, explanations)
  assert.equal(b.explained, 20)
  assert.deepEqual(b.phases.map(g => [g.group, g.runs, g.steps.queue.n]), [['sections', 18, 18], ['summarize', 2, 2], ['tail', 2, 2]])
  const tail = b.phases[2]
  assert.deepEqual([tail.steps.queue.p50Ms, tail.steps.negotiation.p50Ms, tail.steps.execution.p50Ms, tail.steps.receipt.p50Ms], [10, 30, 1_850, 95])
  assert.deepEqual([tail.run.start.p50Ms, tail.run.finish.p50Ms], [10, 5])
  const text = formatBreakdown(b)
  assert.match(text, /sections: 19\/19 ok, 0 failed, p50 100 ms, p95 100 ms/)
  assert.match(text, /tail\s+2\s+2\s+10\/10\s+30\/30\s+1850\/1850\s+95\/95\s+10\/10\s+5\/5/)
})

test('no succeeded run: empty groups, no tail, and the text still prints', () => {
  const b = breakdown([run({ state: 'failed', latencyMs: undefined })], {})
  assert.deepEqual(b.phases, [])
  assert.equal(b.explained, 0)
  assert.match(formatBreakdown(b), /0 succeeded runs with explanations/)
})
