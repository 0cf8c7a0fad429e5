import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cidStringOf } from '../../src/core/encoding.js'
import { receiptCid } from '../../src/receipts/index.js'
import { verifyRunReceipts } from '../../bench/soak/verify.js'
import { accepted, chain, parties, step } from './records.js'

test('a run whose receipts are a valid chain has no problems', async () => {
  const p = await parties()
  const rs = chain(p)
  const steps = [step({ key: 'a', receipt: receiptCid(rs[0].receipt) }), step({ key: 'b', receipt: receiptCid(rs[1].receipt) })]
  assert.deepEqual(await verifyRunReceipts('run-1', rs, steps), [])
})

test('a tampered receipt is reported with the signature error', async () => {
  const p = await parties()
  const [a, b] = chain(p)
  const tampered = { ...b, receipt: { ...b.receipt, output: cidStringOf({ forged: true }) } }
  const problems = await verifyRunReceipts('run-1', [a, tampered])
  assert.equal(problems.length, 1)
  assert.match(problems[0], /^receipt #1 does not verify: ReceiptSignatureError: the provider signature does not verify/)
})

test('a dangling prev link, a receipt of another run and a step receipt missing from the store are each reported', async () => {
  const p = await parties()
  const [, b] = chain(p)
  const stray = accepted(p, { run: 'run-9', step: 'z' })
  const problems = await verifyRunReceipts('run-1', [b, stray], [step({ key: 'c', receipt: cidStringOf({ nowhere: 1 }) })], { chain: false })
  assert.equal(problems.length, 3, problems.join('\n'))
  assert.match(problems[0], /receipt of step b: prev link .* does not resolve/)
  assert.match(problems[1], /receipt of step z names run run-9/)
  assert.match(problems[2], /step c reports receipt .* not among the stored receipts/)
})

test('the receipts area chain check runs too: two accepted receipts for one step fail verifyChain', async () => {
  const p = await parties()
  const one = accepted(p, { run: 'run-1', step: 's' })
  const two = accepted(p, { run: 'run-1', step: 's', ended: 1_700_000_000_070 })
  const problems = await verifyRunReceipts('run-1', [one, two])
  assert.equal(problems.length, 1, problems.join('\n'))
  assert.match(problems[0], /^verifyChain: DuplicateStepReceiptError/)
})
