import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as ed from '@noble/ed25519'
import { countersignReceipt, signReceipt, verifySignedReceipt, receiptSigningBytes, receiptAcceptBytes } from '../../src/receipts/signing.js'
import { fromBase64url } from '../../src/core/encoding.js'
import { publicKeyOfPeer } from '../../src/core/index.js'
import { parties, baseReceipt, accepted } from './helpers.js'

test('a provider-signed, requester-countersigned receipt verifies, and an independent ed25519 implementation agrees', async () => {
  const p = await parties()
  const signed = accepted(p)
  verifySignedReceipt(signed, { requireRequester: true })
  const okProvider = await ed.verifyAsync(fromBase64url(signed.provider_sig), receiptSigningBytes(signed.receipt), publicKeyOfPeer(p.provider.id))
  const okRequester = await ed.verifyAsync(fromBase64url(signed.requester_sig as string), receiptAcceptBytes(signed.receipt), publicKeyOfPeer(p.requester.id))
  assert.equal(okProvider, true)
  assert.equal(okRequester, true)
})

test('rejects a receipt whose content was changed after signing', async () => {
  const p = await parties()
  const signed = accepted(p)
  const mutated = { ...signed, receipt: { ...signed.receipt, usage: { ...signed.receipt.usage, cpu_ms: 1 } } }
  assert.throws(() => { verifySignedReceipt(mutated) }, (err: Error) => err.name === 'ReceiptSignatureError' && /provider/.test(err.message))
})

test('rejects a countersignature made by someone other than the requester', async () => {
  const p = await parties()
  const signed = signReceipt(p.provider, baseReceipt(p))
  const bySomeoneElse = countersignReceipt(p.requester, signed)
  const other = await parties()
  const forged = { ...bySomeoneElse, requester_sig: countersignReceipt(other.requester, signReceipt(other.provider, baseReceipt(other))).requester_sig }
  assert.throws(() => { verifySignedReceipt(forged) }, (err: Error) => err.name === 'ReceiptSignatureError' && /requester/.test(err.message))
})

test('only the provider may sign and only the requester may countersign', async () => {
  const p = await parties()
  assert.throws(() => signReceipt(p.requester, baseReceipt(p)), { name: 'ReceiptSignerMismatchError' })
  const signed = signReceipt(p.provider, baseReceipt(p))
  assert.throws(() => countersignReceipt(p.provider, signed), { name: 'ReceiptSignerMismatchError' })
})

test('a missing countersignature fails only when one is required', async () => {
  const p = await parties()
  const signed = signReceipt(p.provider, baseReceipt(p))
  verifySignedReceipt(signed)
  assert.throws(() => { verifySignedReceipt(signed, { requireRequester: true }) }, { name: 'ReceiptNotCountersignedError' })
})

test('rejects a receipt that does not match Receipt.v1', async () => {
  const p = await parties()
  assert.throws(() => signReceipt(p.provider, { ...baseReceipt(p), status: 'maybe' as any }), { name: 'ReceiptMalformedError' })
  assert.throws(() => signReceipt(p.provider, { ...baseReceipt(p), input: 'bafyNOTACID' }), { name: 'ReceiptMalformedError' })
  assert.throws(() => { verifySignedReceipt({ receipt: baseReceipt(p) }) }, { name: 'ReceiptMalformedError' })
})
