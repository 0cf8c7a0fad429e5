import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cidStringOf, decodeJson, encodeJson } from '../../src/core/encoding.js'
import { receiptCid } from '../../src/receipts/signing.js'
import { verifyChain, exportReceipts, verifyExport, receiptRoot } from '../../src/receipts/chain.js'
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
