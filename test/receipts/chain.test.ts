import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cidStringOf, decodeJson, encodeJson } from '../../src/core/encoding.js'
import { receiptCid } from '../../src/receipts/signing.js'
import { verifyChain, exportReceipts, verifyExport, receiptRoot, verifyInnerReceipts } from '../../src/receipts/chain.js'
import { parties, accepted, diamond } from './helpers.js'

test('a diamond of receipts verifies offline; its root lists the one sink', async () => {
  const p = await parties()
  const chain = diamond(p)
  const result = verifyChain(chain)
  assert.equal(result.receipts, 4)
  assert.equal(result.run, 'run-1')
  assert.deepEqual(result.sinks, [receiptCid(chain[3].receipt)])
  assert.equal(result.root, cidStringOf({ v: 1, kind: 'pl/receipt-root', run: 'run-1', sinks: result.sinks }))
})

test('the root does not depend on the order of the receipts', async () => {
  const p = await parties()
  const chain = diamond(p)
  assert.equal(receiptRoot([...chain].reverse()).cid, receiptRoot(chain).cid)
})

test('rejects a chain in which one receipt was mutated', async () => {
  const p = await parties()
  const chain = diamond(p)
  chain[1] = { ...chain[1], receipt: { ...chain[1].receipt, status: 'error' } }
  assert.throws(() => verifyChain(chain), { name: 'ReceiptSignatureError' })
})

test('rejects a chain missing a receipt that another one names in prev', async () => {
  const p = await parties()
  const chain = diamond(p)
  assert.throws(() => verifyChain([chain[0], chain[1], chain[3]]), (err: any) => err.name === 'ReceiptPrevMissingError' && err.details.prev === receiptCid(chain[2].receipt))
})

test('rejects two accepted receipts for one step', async () => {
  const p = await parties()
  const chain = diamond(p)
  const again = accepted(p, { step: 'b', prev: chain[1].receipt.prev, ended: chain[1].receipt.ended + 1 })
  assert.throws(() => verifyChain([...chain, again]), { name: 'DuplicateStepReceiptError' })
})

test('rejects receipts that are not countersigned', async () => {
  const p = await parties()
  const chain = diamond(p)
  const { requester_sig: _drop, ...providerOnly } = chain[0]
  assert.throws(() => verifyChain([providerOnly, ...chain.slice(1)]), { name: 'ReceiptNotCountersignedError' })
})

test('rejects a chain that mixes runs, and an empty chain', async () => {
  const p = await parties()
  assert.throws(() => verifyChain([...diamond(p, 'run-1'), accepted(p, { run: 'run-2', step: 'x' })]), { name: 'ReceiptChainRunError' })
  assert.throws(() => verifyChain([]), { name: 'ReceiptChainRunError' })
})

test('an export survives a dag-json round trip and verifies; a wrong root is refused', async () => {
  const p = await parties()
  const doc = exportReceipts(diamond(p))
  const back = decodeJson(encodeJson(doc))
  assert.equal(verifyExport(back).root, doc.root)
  assert.throws(() => verifyExport({ ...doc, root: cidStringOf({ not: 'the root' }) }), { name: 'ReceiptExportError' })
  assert.throws(() => verifyExport({ run: 'x' }), { name: 'ReceiptExportError' })
  assert.throws(() => verifyExport({ ...doc, run: 'run-9' }), { name: 'ReceiptExportError' })
})

test('rejects a chain that mixes requesters under one run id', async () => {
  const p = await parties()
  const q = await parties()
  const chain = diamond(p)
  const foreign = accepted(q, { step: 'x' })
  assert.throws(() => verifyChain([...chain, foreign]), (err: any) => err.name === 'ReceiptChainRequesterError' && err.details.actual === q.requester.id)
})

test('rejects a chain whose requester is not the one expected', async () => {
  const p = await parties()
  const q = await parties()
  assert.equal(verifyChain(diamond(p), { requester: p.requester.id }).receipts, 4)
  assert.throws(() => verifyChain(diamond(p), { requester: q.requester.id }), { name: 'ReceiptChainRequesterError' })
})

/**
 * A composite step: the outer run's requester R awards step `brief` to B, which
 * runs the plan as inner run `inner-1` (B requests its steps from C) and names
 * those receipts in `inner`.
 */
async function compositeTree (): Promise<{ outer: ReturnType<typeof accepted>, innerChain: ReturnType<typeof diamond>, all: ReturnType<typeof diamond>, b: Awaited<ReturnType<typeof parties>> }> {
  const outerParties = await parties() // provider B, requester R
  const innerParties = { provider: (await parties()).provider, requester: outerParties.provider } // C for B
  const innerChain = diamond(innerParties, 'inner-1')
  const outer = accepted(outerParties, { run: 'outer-1', step: 'brief', inner: { run: 'inner-1', receipts: innerChain.map(r => receiptCid(r.receipt)).sort() } })
  return { outer, innerChain, all: [outer, ...innerChain], b: outerParties }
}

test('a composite receipt and its inner run verify as one tree; the root is the outer run\'s', async () => {
  const { outer, innerChain, all } = await compositeTree()
  const result = verifyChain(all)
  assert.equal(result.run, 'outer-1')
  assert.equal(result.receipts, 5)
  assert.equal(result.inner, 4)
  assert.deepEqual(result.sinks, [receiptCid(outer.receipt)], 'the inner receipts are pinned through the outer one, not listed')
  assert.equal(receiptRoot(all).cid, receiptRoot([outer]).cid)
  assert.equal(verifyExport(decodeJson(encodeJson(exportReceipts(all)))).inner, 4)
  assert.deepEqual(verifyInnerReceipts(outer, innerChain).length, 4)
})

test('a composite tree missing an inner receipt, or holding one of another run or requester, is refused', async () => {
  const { outer, innerChain, all, b } = await compositeTree()
  assert.throws(() => verifyChain(all.filter(r => r.receipt.step !== 'd')), (err: any) => err.name === 'ReceiptInnerMissingError' && err.details.inner === receiptCid(innerChain[3].receipt))
  // an inner receipt countersigned by someone other than the composite's provider
  const stranger = await parties()
  const foreign = diamond(stranger, 'inner-1')
  const outer2 = accepted(b, { run: 'outer-1', step: 'brief', inner: { run: 'inner-1', receipts: foreign.map(r => receiptCid(r.receipt)).sort() } })
  assert.throws(() => verifyChain([outer2, ...foreign]), (err: any) => err.name === 'ReceiptInnerMismatchError' && err.details.field === 'requester')
  // an inner receipt of another run
  const other = diamond({ provider: stranger.provider, requester: b.provider }, 'inner-2')
  const outer3 = accepted(b, { run: 'outer-1', step: 'brief', inner: { run: 'inner-1', receipts: other.map(r => receiptCid(r.receipt)).sort() } })
  assert.throws(() => verifyChain([outer3, ...other]), (err: any) => err.name === 'ReceiptInnerMismatchError' && err.details.field === 'run')
  // a tampered inner receipt
  const tampered = [outer, { ...innerChain[0], receipt: { ...innerChain[0].receipt, output: cidStringOf({ forged: true }) } }, ...innerChain.slice(1)]
  assert.throws(() => verifyChain(tampered), { name: 'ReceiptSignatureError' })
  // a Result carrying receipts its receipt does not name, or inner receipts with no inner run named
  assert.throws(() => verifyInnerReceipts(outer, [...innerChain, accepted(b, { run: 'x', step: 'extra' })]), { name: 'ReceiptChainRunError' })
  assert.throws(() => verifyInnerReceipts(accepted(b, { run: 'outer-1', step: 'plain' }), innerChain), { name: 'ReceiptInnerMismatchError' })
  assert.throws(() => verifyInnerReceipts(outer, 'not a list'), { name: 'ReceiptInnerMismatchError' })
})
