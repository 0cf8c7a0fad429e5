import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cidStringOf } from '../../src/core/encoding.js'
import { signReceipt } from '../../src/receipts/signing.js'
import { verifyReceiptAgainst, type ReceiptExpectation } from '../../src/receipts/verify.js'
import { parties, baseReceipt, type Parties } from './helpers.js'

function expectation (p: Parties, over: Partial<ReceiptExpectation> = {}): ReceiptExpectation {
  const r = baseReceipt(p)
  return {
    award: { id: r.award, body: { run: r.run, step: r.step, provider: p.provider.id, prev: [] } },
    requester: p.requester.id,
    capability: 'Split',
    input: r.input,
    output: r.output,
    limits: r.limits,
    policies: ['pol-a'],
    ...over
  }
}

test('accepts a receipt that matches the award, input, output, limits and policies', async () => {
  const p = await parties()
  verifyReceiptAgainst(signReceipt(p.provider, baseReceipt(p)), expectation(p))
})

test('rejects a receipt with a wrong input CID', async () => {
  const p = await parties()
  const signed = signReceipt(p.provider, baseReceipt(p, { input: cidStringOf({ something: 'else' }) }))
  assert.throws(() => { verifyReceiptAgainst(signed, expectation(p)) }, { name: 'ReceiptInputMismatchError' })
})

test('rejects a receipt whose output CID is not the output received', async () => {
  const p = await parties()
  const signed = signReceipt(p.provider, baseReceipt(p, { output: cidStringOf({ other: 'output' }) }))
  assert.throws(() => { verifyReceiptAgainst(signed, expectation(p)) }, { name: 'ReceiptOutputMismatchError' })
})

test('rejects a receipt with usage above the awarded limits, naming the limit', async () => {
  const p = await parties()
  const signed = signReceipt(p.provider, baseReceipt(p, { usage: { cpu_ms: 10, wall_ms: 9000, mem_peak_mb: 20 } }))
  assert.throws(() => { verifyReceiptAgainst(signed, expectation(p)) }, (err: any) => err.name === 'ReceiptUsageExceededError' && err.details.limit === 'wall_ms' && err.details.measured === 9000)
  const mem = signReceipt(p.provider, baseReceipt(p, { usage: { cpu_ms: 10, wall_ms: 10, mem_peak_mb: 300 } }))
  assert.throws(() => { verifyReceiptAgainst(mem, expectation(p)) }, (err: any) => err.name === 'ReceiptUsageExceededError' && err.details.limit === 'mem_mb')
})

test('rejects a receipt that names another award', async () => {
  const p = await parties()
  const signed = signReceipt(p.provider, baseReceipt(p, { award: cidStringOf({ another: 'award' }) }))
  assert.throws(() => { verifyReceiptAgainst(signed, expectation(p)) }, (err: any) => err.name === 'ReceiptAwardMismatchError' && err.details.field === 'award')
})

test('rejects a receipt signed by a provider other than the awarded one', async () => {
  const p = await parties()
  const q = await parties()
  const signed = signReceipt(q.provider, baseReceipt({ provider: q.provider, requester: p.requester }))
  assert.throws(() => { verifyReceiptAgainst(signed, expectation(p)) }, (err: any) => err.name === 'ReceiptAwardMismatchError' && err.details.field === 'provider')
})

test('rejects a receipt whose prev differs from the award', async () => {
  const p = await parties()
  const signed = signReceipt(p.provider, baseReceipt(p, { prev: [cidStringOf({ upstream: 1 })] }))
  assert.throws(() => { verifyReceiptAgainst(signed, expectation(p)) }, (err: any) => err.name === 'ReceiptAwardMismatchError' && err.details.field === 'prev')
})

test('rejects a receipt that omits a required policy', async () => {
  const p = await parties()
  const signed = signReceipt(p.provider, baseReceipt(p, { policies: [] }))
  assert.throws(() => { verifyReceiptAgainst(signed, expectation(p)) }, (err: any) => err.name === 'ReceiptPolicyMissingError' && err.details.missing[0] === 'pol-a')
})

test('rejects a receipt with a forged provider signature before looking at its content', async () => {
  const p = await parties()
  const signed = signReceipt(p.provider, baseReceipt(p))
  const forged = { ...signed, provider_sig: signed.provider_sig.slice(0, 85) + (signed.provider_sig.endsWith('A') ? 'Q' : 'A') }
  assert.throws(() => { verifyReceiptAgainst(forged, expectation(p)) }, { name: 'ReceiptSignatureError' })
})

test('refuses a receipt whose status is error when the result is ok', async () => {
  const p = await parties()
  const signed = signReceipt(p.provider, baseReceipt(p, { status: 'error' }))
  assert.throws(() => { verifyReceiptAgainst(signed, expectation(p)) }, (err: any) => err.name === 'ReceiptStatusMismatchError' && err.details.actual === 'error')
})

test('refuses a receipt whose limits differ from the award limits', async () => {
  const p = await parties()
  const larger = signReceipt(p.provider, baseReceipt(p, { limits: { cpu_ms: 1000, wall_ms: 99_999_999, mem_mb: 128 } }))
  assert.throws(() => { verifyReceiptAgainst(larger, expectation(p)) }, (err: any) => err.name === 'ReceiptLimitsMismatchError' && err.details.limit === 'wall_ms')
  const missing = signReceipt(p.provider, baseReceipt(p, { limits: { wall_ms: 5000, mem_mb: 128 } }))
  assert.throws(() => { verifyReceiptAgainst(missing, expectation(p)) }, (err: any) => err.name === 'ReceiptLimitsMismatchError' && err.details.limit === 'cpu_ms')
})

test('refuses a receipt that started after it ended', async () => {
  const p = await parties()
  const signed = signReceipt(p.provider, baseReceipt(p, { started: 5000, ended: 1000 }))
  assert.throws(() => { verifyReceiptAgainst(signed, expectation(p)) }, (err: any) => err.name === 'ReceiptTimesInvalidError' && err.details.started === 5000)
})

test('rejects a receipt that drops, adds or changes the agent the award names (on_behalf_of)', async () => {
  const p = await parties()
  const agent = (await parties()).provider.id
  const r = baseReceipt(p)
  const awarded = expectation(p, { award: { id: r.award, body: { run: r.run, step: r.step, provider: p.provider.id, prev: [], on_behalf_of: agent } } })
  verifyReceiptAgainst(signReceipt(p.provider, baseReceipt(p, { on_behalf_of: agent })), awarded)
  assert.throws(() => { verifyReceiptAgainst(signReceipt(p.provider, baseReceipt(p)), awarded) }, { name: 'ReceiptAwardMismatchError', message: /on_behalf_of/ })
  assert.throws(() => { verifyReceiptAgainst(signReceipt(p.provider, baseReceipt(p, { on_behalf_of: p.requester.id })), awarded) }, { name: 'ReceiptAwardMismatchError' })
  assert.throws(() => { verifyReceiptAgainst(signReceipt(p.provider, baseReceipt(p, { on_behalf_of: agent })), expectation(p)) }, { name: 'ReceiptAwardMismatchError' })
})
