import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cidStringOf } from '../../src/core/encoding.js'
import { anyFailed, checkNoLostRuns, checkNoReexecutionAfterRestart, checkOneAcceptedReceiptPerStep, checkReceiptsVerify, formatInvariants } from '../../bench/soak/invariants.js'
import { accepted, parties, run, signed, step } from './records.js'

test('no-lost-runs passes when every run ended, failures carrying a reason', () => {
  const r = checkNoLostRuns([run(), run({ runId: 'run-2', state: 'failed', error: { name: 'NoBidsError', message: 'no provider bid' } }), run({ runId: 'run-3', state: 'cancelled' })])
  assert.equal(r.verdict, 'PASS')
  assert.equal(r.checked, 3)
})

test('no-lost-runs FAILS on a run still running at the end', () => {
  const r = checkNoLostRuns([run(), run({ runId: 'run-lost', state: 'running' })])
  assert.equal(r.verdict, 'FAIL')
  assert.equal(r.problems.length, 1)
  assert.match(r.problems[0], /^LOST run run-lost .*still 'running'/)
})

test('no-lost-runs FAILS on a run never seen by a poll, on a failure without a reason, and on a run its requester forgot', () => {
  const r = checkNoLostRuns([
    run({ runId: 'never-polled', state: 'unknown' }),
    run({ runId: 'no-reason', state: 'failed' }),
    run({ runId: 'empty-reason', state: 'failed', error: { name: '', message: '' } }),
    run({ runId: 'forgotten', forgotten: true })
  ])
  assert.equal(r.verdict, 'FAIL')
  assert.deepEqual(r.problems.map(p => p.split(' ')[2]), ['never-polled', 'no-reason', 'empty-reason', 'forgotten'])
  assert.match(r.problems[3], /no longer knows this run/)
})

test('no-lost-runs is SKIP (not PASS) when nothing was submitted', () => {
  assert.equal(checkNoLostRuns([]).verdict, 'SKIP')
})

test('one-accepted-receipt FAILS when a step has two different countersigned receipts', async () => {
  const p = await parties()
  const first = accepted(p, { step: 'Summarize[0]' })
  const second = accepted(p, { step: 'Summarize[0]', ended: 1_700_000_000_099 })
  const other = accepted(p, { step: 'Summarize[1]' })
  const r = checkOneAcceptedReceiptPerStep({ 'run-1': [first, other, second] })
  assert.equal(r.verdict, 'FAIL')
  assert.equal(r.problems.length, 1)
  assert.match(r.problems[0], /run run-1 step Summarize\[0\]: 2 accepted receipts/)
})

test('one-accepted-receipt passes for the same receipt stored twice, an unsigned or failed attempt next to the accepted one, and equal step keys in different runs', async () => {
  const p = await parties()
  const ok = accepted(p, { step: 'x' })
  const r = checkOneAcceptedReceiptPerStep({
    'run-1': [ok, ok, signed(p, { step: 'x', ended: 1_700_000_000_077 }), accepted(p, { step: 'x', status: 'error', output: '' })],
    'run-2': [accepted(p, { run: 'run-2', step: 'x' })]
  })
  assert.equal(r.verdict, 'PASS', r.problems.join('\n'))
  assert.equal(r.checked, 3)
})

test('no-reexecution FAILS when a step completed before the restart has more attempts, another receipt or another executor after it', () => {
  const before = [step({ key: 'a' }), step({ key: 'b' }), step({ key: 'c' }), step({ key: 'running', state: 'running' })]
  const snapshots = [{ node: 0, at: 5000, runs: [{ runId: 'run-1', steps: before }] }]
  const final = run({
    view: {
      run: { id: 'run-1', state: 'succeeded' },
      steps: [step({ key: 'a', attempts: 2 }), step({ key: 'b', receipt: 'bafyother' }), step({ key: 'c', executor: 'peerB' }), step({ key: 'running', attempts: 3 })]
    }
  })
  const r = checkNoReexecutionAfterRestart(snapshots, [final], {})
  assert.equal(r.verdict, 'FAIL')
  assert.equal(r.checked, 3, 'only steps that had succeeded before the restart are checked')
  assert.equal(r.problems.length, 3)
  assert.match(r.problems[0], /step a .*attempts 1 before, 2 after/)
  assert.match(r.problems[1], /step b .*receipt bafyreceipt before, bafyother after/)
  assert.match(r.problems[2], /step c .*executed by peerA before, peerB after/)
})

test('no-reexecution FAILS when the step vanished or a second accepted receipt for it appeared', async () => {
  const p = await parties()
  const snapshots = [{ node: 0, at: 5000, runs: [{ runId: 'run-1', steps: [step({ key: 'a', receipt: undefined }), step({ key: 'gone' })] }] }]
  const final = run({ view: { run: { id: 'run-1', state: 'succeeded' }, steps: [step({ key: 'a', receipt: undefined })] } })
  const receipts = { 'run-1': [accepted(p, { step: 'a' }), accepted(p, { step: 'a', ended: 1_700_000_000_090 })] }
  const r = checkNoReexecutionAfterRestart(snapshots, [final], receipts)
  assert.equal(r.verdict, 'FAIL')
  assert.ok(r.problems.some(x => /step gone .*missing from the final view/.test(x)))
  assert.ok(r.problems.some(x => /step a .*2 accepted receipts after the restart/.test(x)))
})

test('no-reexecution passes when completed steps are untouched, and is SKIP without a restart', () => {
  const snapshots = [{ node: 0, at: 5000, runs: [{ runId: 'run-1', steps: [step()] }] }]
  const final = run({ view: { run: { id: 'run-1', state: 'succeeded' }, steps: [step()] } })
  assert.equal(checkNoReexecutionAfterRestart(snapshots, [final], {}).verdict, 'PASS')
  assert.equal(checkNoReexecutionAfterRestart([], [final], {}).verdict, 'SKIP')
})

test('receipts-verify FAILS when any run has a problem, and the summary marks it', () => {
  const ok = checkReceiptsVerify([{ runId: 'r1', receipts: 2, problems: [] }])
  const bad = checkReceiptsVerify([{ runId: 'r1', receipts: 2, problems: [] }, { runId: 'r2', receipts: 1, problems: ['receipt #0 does not verify: ReceiptSignatureError: …'] }])
  assert.equal(ok.verdict, 'PASS')
  assert.equal(bad.verdict, 'FAIL')
  assert.equal(bad.checked, 3)
  assert.equal(anyFailed([ok]), false)
  assert.equal(anyFailed([ok, bad]), true)
  const text = formatInvariants([ok, bad])
  assert.match(text, /^PASS {2}all stored receipts verify \(2 checked\)$/m)
  assert.match(text, /^FAIL {2}all stored receipts verify \(3 checked\)\n {8}run r2: receipt #0/m)
  void cidStringOf
})
