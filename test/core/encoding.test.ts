import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cidStringOf, encodeCanonical, decodeCanonical, verifyBytes, encodeJson, decodeJson, fromBase64url } from '../../src/core/encoding.js'

test('the CID of a document does not depend on key order', () => {
  assert.equal(cidStringOf({ a: 1, b: [1, 2], c: { y: 1, x: 2 } }), cidStringOf({ c: { x: 2, y: 1 }, b: [1, 2], a: 1 }))
})

test('undefined members are dropped before encoding', () => {
  assert.equal(cidStringOf({ a: 1, b: undefined }), cidStringOf({ a: 1 }))
})

test('dag-cbor and dag-json round-trip a document', () => {
  const doc = { n: 1, s: 'x', l: [true, null], o: { f: 1.5 } }
  assert.deepEqual(decodeCanonical(encodeCanonical(doc)), doc)
  assert.deepEqual(decodeJson(encodeJson(doc)), doc)
})

test('verifyBytes rejects bytes that do not hash to the CID', () => {
  const bytes = encodeCanonical({ a: 1 })
  verifyBytes(cidStringOf({ a: 1 }), bytes)
  assert.throws(() => verifyBytes(cidStringOf({ a: 2 }), bytes), { name: 'CidMismatchError' })
})

test('garbage bytes give InvalidEncodingError', () => {
  assert.throws(() => decodeCanonical(new Uint8Array([0xff, 0x00, 0x13])), { name: 'InvalidEncodingError' })
  assert.throws(() => decodeJson('{"a":'), { name: 'InvalidEncodingError' })
  assert.throws(() => encodeCanonical({ x: NaN }), { name: 'InvalidEncodingError' })
  assert.throws(() => fromBase64url('a+b/'), { name: 'InvalidEncodingError' })
})

test('cidStringOfBytes gives the same text as multiformats for dag-cbor and raw, any length', async () => {
  const { cidStringOfBytes, cidOfBytes, RAW, encodeCanonical } = await import('../../src/core/encoding.js')
  const { randomBytes } = await import('node:crypto')
  for (let n = 0; n < 300; n++) {
    const bytes = randomBytes(n)
    assert.equal(cidStringOfBytes(bytes), cidOfBytes(bytes).toString())
    assert.equal(cidStringOfBytes(bytes, RAW), cidOfBytes(bytes, RAW).toString())
  }
  const doc = encodeCanonical({ hello: 'world', n: [1, 2, 3] })
  assert.equal(cidStringOfBytes(doc), cidOfBytes(doc).toString())
})

test('cidStringOfBytes is the content address multiformats + @ipld/dag-cbor give on their own (sha2-256 hasher, known vector)', async () => {
  const { cidStringOfBytes, encodeCanonical } = await import('../../src/core/encoding.js')
  const { sha256 } = await import('multiformats/hashes/sha2')
  const dagCbor = await import('@ipld/dag-cbor')
  const { CID } = await import('multiformats/cid')
  // the well-known CID of the dag-cbor document {"hello":"world"}
  assert.equal(cidStringOfBytes(encodeCanonical({ hello: 'world' })), 'bafyreidykglsfhoixmivffc5uwhcgshx4j465xwqntbmu43nb2dzqwfvae')
  for (let i = 0; i < 200; i++) {
    const doc = { run: 'run-1', step: `s${i}`, started: i, ended: i + 1.5, usage: { cpu_ms: i }, bytes: new Uint8Array(i % 40).fill(i & 255), text: 'é€'.repeat(i % 7) }
    const bytes = dagCbor.encode(doc)
    assert.equal(cidStringOfBytes(encodeCanonical(doc)), CID.createV1(dagCbor.code, await sha256.digest(bytes)).toString())
  }
})
