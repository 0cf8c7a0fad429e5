/**
 * Plan constraints and io schemas on real nodes: constraints reach modules
 * (`context.constraints`, JS and Python), the requester checks the output
 * before countersigning (a violation is typed, the receipt recorded as
 * rejected, the step fails over to a backup bid), providers check inputs
 * against the input schema, requesters check outputs against the output schema.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { moduleSpecOf } from '../../src/core/index.js'
import { packageRoot } from '../../src/core/paths.js'
import { receipts, verifySignedReceipt, type SignedReceipt } from '../../src/receipts/index.js'
import { trust } from '../../src/trust/index.js'
import { startOffersMesh, writeModule, step, dagOf, ctxOf, runId, type OffersMesh } from '../negotiation/helpers.js'

let m: OffersMesh

const sectionIn = { type: 'object', required: ['section'], properties: { section: { type: 'object', required: ['heading', 'text'], properties: { heading: { type: 'string' }, text: { type: 'string' } } } } }
const summaryOut = { type: 'object', required: ['summary'], properties: { summary: { type: 'string' } } }
const text = Array.from({ length: 12 }, (_, i) => `Sentence number ${i + 1} tells the reader about peers that negotiate work and sign receipts for what they did.`).join(' ')

before(async () => {
  m = await startOffersMesh({
    name: 'pl-trust-constraints-',
    nodes: 3,
    requester: { replyWindowMs: 4000 },
    requesterServices: { receipts: receipts(), trust: trust() },
    providerServices: () => ({ trust: trust() })
  })
  // node 1 (cheaper) ignores the plan's length; node 2 runs the example Summarize module (Python), which honours it
  const ignoring = await writeModule(m.dir, 'verbose', 'return { summary: inputData.section.text, seen: context.constraints }')
  const honouring = await moduleSpecOf('summarize', join(packageRoot(), 'examples', 'capabilities', 'summarize', 'module'))
  m.offers.add(1, m.nodes[1], { name: 'Summarize', price: 1, io: { input: sectionIn, output: summaryOut } } as any, ignoring)
  m.offers.add(2, m.nodes[2], { name: 'Summarize', price: 2, io: { input: sectionIn, output: summaryOut } } as any, honouring)
  // a capability whose cheaper provider returns output that breaks the output schema
  const wrong = await writeModule(m.dir, 'wrong', 'return { summary: 42 }')
  const right = await writeModule(m.dir, 'right', "return { summary: 'fine' }")
  m.offers.add(1, m.nodes[1], { name: 'Typed', price: 1, io: { input: {}, output: summaryOut } } as any, wrong)
  m.offers.add(2, m.nodes[2], { name: 'Typed', price: 2, io: { input: {}, output: summaryOut } } as any, right)
  const echo = await writeModule(m.dir, 'echo', 'return { summary: JSON.stringify(context.constraints) }')
  m.offers.add(1, m.nodes[1], { name: 'Echo', price: 1, io: { input: {}, output: {} } } as any, echo)
})

after(async () => {
  await m?.close()
})

test('<30w: the provider that ignores the constraint is rejected with ConstraintViolationError, its receipt kept as rejected, and the backup delivers ≤ 30 words', async () => {
  const dag = dagOf([step('summarize', 'Summarize')], { select: [{ attr: 'price', weight: 1 }], constraints: { length: '<30w' } })
  const id = runId()
  const res = await m.runner().run(dag.steps.summarize, { section: { heading: 'H', text } }, ctxOf(dag, id, 'summarize'))
  assert.equal(res.executor, m.nodes[2].peerId)
  const words = String((res.output as any).summary).split(/\s+/).filter(Boolean).length
  assert.ok(words > 0 && words <= 30, `${words} words`)
  verifySignedReceipt(res.receipt, { requireRequester: true })
  const exp = await m.requester().explanation(id, 'summarize')
  assert.deepEqual(exp.attempts.map(a => [a.provider, a.outcome, a.error?.name]), [[m.nodes[1].peerId, 'rejected', 'ConstraintViolationError'], [m.nodes[2].peerId, 'ok', undefined]])
  assert.match(exp.attempts[0].error?.message ?? '', /length <30w: the output has \d+ words, at most 30 allowed/)
  const rejected = await m.requester().receipts.rejectedFor(id)
  assert.equal(rejected.length, 1)
  assert.equal(rejected[0].reason.name, 'ConstraintViolationError')
  assert.equal(rejected[0].signed.receipt.provider, m.nodes[1].peerId)
  assert.equal(rejected[0].signed.requester_sig, undefined, 'a rejected receipt is not countersigned')
  verifySignedReceipt(rejected[0].signed)
  const counted = await m.nodes[0].components.metrics.rejections()
  assert.ok((counted['negotiation/ConstraintViolationError'] ?? 0) >= 1)
})

test('constraints reach the module as context.constraints; x- extensions pass through with a warning in the explanation', async () => {
  const dag = dagOf([step('e', 'Echo')], { constraints: { length: '<400w', 'x-tone': 'formal' } })
  const id = runId()
  const res = await m.runner().run(dag.steps.e, {}, ctxOf(dag, id, 'e'))
  assert.deepEqual(JSON.parse((res.output as any).summary), { length: '<400w', 'x-tone': 'formal' })
  const exp = await m.requester().explanation(id, 'e')
  assert.deepEqual(exp.warnings, ['constraint x-tone is an extension: passed to modules, not checked'])
})

test('an output that fails the capability\'s output schema is rejected (OutputSchemaError) and the backup delivers', async () => {
  const dag = dagOf([step('t', 'Typed')], { select: [{ attr: 'price', weight: 1 }] })
  const id = runId()
  const res = await m.runner().run(dag.steps.t, {}, ctxOf(dag, id, 't'))
  assert.deepEqual(res.output, { summary: 'fine' })
  const exp = await m.requester().explanation(id, 't')
  assert.equal(exp.attempts[0].outcome, 'rejected')
  assert.equal(exp.attempts[0].error?.name, 'OutputSchemaError')
  assert.match(exp.attempts[0].error?.message ?? '', /\/summary must be string/)
})

test('an input that fails the capability\'s input schema is refused by the provider before running (InputSchemaError), counted there', async () => {
  const dag = dagOf([step('summarize', 'Summarize')], { select: [{ attr: 'price', weight: 1 }] })
  const before = (await m.nodes[1].components.metrics.rejections())['negotiation/InputSchemaError'] ?? 0
  await assert.rejects(m.runner().run(dag.steps.summarize, { section: { heading: 1 } }, ctxOf(dag, runId(), 'summarize')), (err: any) => {
    assert.equal(err.name, 'RemoteStepFailedError')
    assert.equal(err.details.remote.name, 'InputSchemaError')
    assert.match(err.message, /section must have required property 'text'|\/section\/heading must be string/)
    return true
  })
  const after = (await m.nodes[1].components.metrics.rejections())['negotiation/InputSchemaError'] ?? 0
  assert.equal(after, before + 1)
  // the provider keeps serving
  const ok = await m.runner().run(dag.steps.summarize, { section: { heading: 'h', text: 'Short text.' } }, ctxOf(dag, runId(), 'summarize'))
  assert.equal(typeof (ok.output as any).summary, 'string')
  assert.ok((ok.receipt as SignedReceipt).requester_sig != null)
})
