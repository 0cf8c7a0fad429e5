import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { encodePlainCbor, withPlainCbor, withPlainCborForms } from '../../src/core/canonical-cbor.js'
import { encodeCanonical, stripUndefined, cidOf } from '../../src/core/encoding.js'
import { ENVELOPE_DOMAIN } from '../../src/core/envelope.js'

// a small deterministic PRNG so a failure can be replayed from its seed
function rng (seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32 }
}

const TEXTS = ['', 'a', 'sig', 'é', 'ü', '日本', '😀', 'x'.repeat(23), 'y'.repeat(24), 'z'.repeat(255), 'w'.repeat(256), 'v'.repeat(70_000), 'ab\u0000c', 'Zz', 'aa', 'b']
const NUMBERS = [0, -0, 1, -1, 23, 24, -24, -25, 255, 256, 65535, 65536, -65537, 2 ** 32 - 1, 2 ** 32, -(2 ** 32) - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 53, -(2 ** 60), 1.5, -0.25, 1e300, 5e-324, 0.1]

function value (r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 3 ? 6 : 9))
  switch (k) {
    case 0: return null
    case 1: return r() < 0.5
    case 2: return NUMBERS[Math.floor(r() * NUMBERS.length)]
    case 3: return Math.floor((r() - 0.5) * 2 ** Math.floor(r() * 50))
    case 4: return TEXTS[Math.floor(r() * TEXTS.length)]
    case 5: return new Uint8Array(Math.floor(r() * 40)).map(() => Math.floor(r() * 256))
    case 6: return Array.from({ length: Math.floor(r() * 5) }, () => value(r, depth + 1))
    default: {
      const o: Record<string, unknown> = {}
      const n = Math.floor(r() * 7)
      for (let i = 0; i < n; i++) o[r() < 0.8 ? TEXTS[Math.floor(r() * 11)] + String(Math.floor(r() * 3)) : TEXTS[Math.floor(r() * TEXTS.length)]] = r() < 0.1 ? undefined : value(r, depth + 1)
      return o
    }
  }
}


/** Both forms copied out of the encoder's scratch memory (undefined when the value is not plain). */
function formsOf (value: unknown, omit: string, prefix: Uint8Array): { full: Uint8Array, without: Uint8Array } | undefined {
  return withPlainCborForms(value, omit, prefix, (full, without) => ({ full: full.slice(), without: without.slice() }))
}

test('the direct encoder gives the bytes of @ipld/dag-cbor for plain values (2 000 random documents)', () => {
  for (let seed = 0; seed < 2_000; seed++) {
    const v = value(rng(seed), 0)
    const direct = encodePlainCbor(v)
    assert.ok(direct != null, `seed ${seed}: a plain value was refused`)
    // dag-cbor answers a Buffer for large values: compare the bytes
    assert.deepEqual(direct, new Uint8Array(dagCbor.encode(stripUndefined(v))), `seed ${seed}`)
    assert.equal(Object.getPrototypeOf(direct), Uint8Array.prototype)
  }
})

test('the direct encoder puts a prefix in front of the same bytes', () => {
  const doc = { v: 1, type: 'Decline.v1', body: { a: [1, 'x'] } }
  assert.deepEqual(encodePlainCbor(doc, ENVELOPE_DOMAIN), new Uint8Array([...ENVELOPE_DOMAIN, ...dagCbor.encode(doc)]))
})

test('values that are not plain are left to dag-cbor, which keeps its behaviour', () => {
  const cid = cidOf({ a: 1 })
  for (const v of [{ c: cid }, new Map([['a', 1]]), { m: new Map() }, [1, undefined], { n: NaN }, { n: Infinity }, { s: 'a\ud800b'.repeat(2) }, { b: 10n }, new (class X { a = 1 })(), { u: new Uint16Array(2) }, { f: () => 1 }]) {
    assert.equal(encodePlainCbor(v), undefined, String(v))
  }
  assert.deepEqual(encodeCanonical({ c: cid }), dagCbor.encode({ c: cid }))
  assert.ok(CID.asCID(dagCbor.decode<{ c: unknown }>(encodeCanonical({ c: cid })).c) != null)
  assert.deepEqual(encodeCanonical({ m: new Map([['a', 1]]) }), dagCbor.encode({ m: {} })) // stripUndefined's copy, as before
  assert.throws(() => encodeCanonical([1, undefined]), { name: 'InvalidEncodingError' })
  assert.throws(() => encodeCanonical({ n: NaN }), { name: 'InvalidEncodingError' })
})

test('an object with a null prototype and a Buffer are plain', () => {
  const o = Object.assign(Object.create(null), { b: Buffer.from([1, 2]), a: 'x' })
  assert.deepEqual(encodePlainCbor(o), dagCbor.encode({ a: 'x', b: new Uint8Array([1, 2]) }))
})

test('a getter that encodes re-enters safely', () => {
  const inner = { x: 1 }
  const o = { get a () { return encodeCanonical(inner) }, b: 2 }
  assert.deepEqual(encodeCanonical(o), dagCbor.encode({ a: dagCbor.encode(inner), b: 2 }))
})

test('both forms from one pass: the whole object, and without one member behind a prefix (2 000 random objects)', () => {
  const prefix = new Uint8Array([1, 2, 3])
  for (let seed = 0; seed < 2_000; seed++) {
    const r = rng(seed)
    const o: Record<string, unknown> = {}
    // up to 30 members: the map head changes width between 23 and 24 entries
    const n = Math.floor(r() * 30)
    for (let i = 0; i < n; i++) o[TEXTS[Math.floor(r() * 11)] + String(i)] = r() < 0.1 ? undefined : value(r, 1)
    const keys = Object.keys(o)
    const omit = r() < 0.8 && keys.length > 0 ? keys[Math.floor(r() * keys.length)] : 'absent'
    const forms = formsOf(o, omit, prefix)
    assert.ok(forms != null, `seed ${seed}`)
    const { [omit]: _dropped, ...rest } = o
    assert.deepEqual(forms.full, new Uint8Array(dagCbor.encode(stripUndefined(o))), `seed ${seed}: full`)
    assert.deepEqual(forms.without, new Uint8Array([...prefix, ...dagCbor.encode(stripUndefined(rest))]), `seed ${seed}: without ${omit}`)
    assert.equal(Object.getPrototypeOf(forms.full), Uint8Array.prototype)
  }
})

test('forms of anything but a plain object of plain values are left to the caller', () => {
  const p = new Uint8Array(0)
  for (const v of [null, 1, 'x', [1], new Uint8Array(1), new Map(), { c: cidOf({ a: 1 }) }, { n: NaN }, new (class X { a = 1 })()]) {
    assert.equal(formsOf(v, 'a', p), undefined, String(v))
  }
})

test('the zero-copy forms: use sees the bytes, its errors are thrown, encodings inside it still give the right bytes', () => {
  const doc = { sig: 'x', a: [1, 'é'], b: { c: null } }
  const { sig: _sig, ...rest } = doc
  const prefix = new Uint8Array([9])
  const seen = withPlainCborForms(doc, 'sig', prefix, (full, without) => {
    // an encoding while the scratch memory is lent out goes through dag-cbor, and the views stay intact
    assert.deepEqual(encodeCanonical({ other: 1 }), dagCbor.encode({ other: 1 }))
    return [full.slice(), without.slice()]
  })
  assert.deepEqual(seen, [new Uint8Array(dagCbor.encode(doc)), new Uint8Array([9, ...dagCbor.encode(rest)])])
  assert.throws(() => withPlainCborForms(doc, 'sig', prefix, () => { throw new RangeError('from use') }), RangeError)
  assert.throws(() => withPlainCbor(doc, undefined, () => { throw new RangeError('from use') }), RangeError)
  // after a throwing use the encoder is free again
  assert.deepEqual(encodePlainCbor(doc), new Uint8Array(dagCbor.encode(doc)))
  let called = false
  assert.equal(withPlainCbor({ n: NaN }, undefined, () => { called = true }), undefined)
  assert.equal(called, false)
  assert.deepEqual(withPlainCbor(doc, prefix, b => b.slice()), new Uint8Array([9, ...dagCbor.encode(doc)]))
})

test('deep and wide nesting gives dag-cbor\'s bytes, and an encoding given up half way leaves the next one right', () => {
  // at each level: a sibling object before and after the nested one, an array of objects, a member left undefined
  let v: Record<string, unknown> = { leaf: 'x' }
  for (let i = 0; i < 40; i++) {
    v = { zz: { b: i, a: [i] }, [`k${i}`]: v, aa: [{ y: 1, x: 2 }, { q: { r: i } }], u: undefined, m: { n: i } }
  }
  const direct = encodePlainCbor(v)
  assert.ok(direct != null)
  assert.deepEqual(direct, new Uint8Array(dagCbor.encode(stripUndefined(v))))
  // an encoding given up half way (a CID deep inside is not plain: dag-cbor encodes it) leaves the next one right
  const linked = { a: { b: { c: { d: cidOf({ a: 1 }) } } }, z: 1 }
  assert.equal(encodePlainCbor(linked), undefined)
  assert.deepEqual(encodeCanonical(linked), new Uint8Array(dagCbor.encode(linked)))
  assert.deepEqual(encodePlainCbor({ b: 1, a: { d: 2, c: 3 } }), new Uint8Array(dagCbor.encode({ b: 1, a: { d: 2, c: 3 } })))
})

test('an enumerable member on Object.prototype is not a member of the objects encoded', () => {
  const doc = { b: 1, a: { c: 2 } }
  const expected = new Uint8Array(dagCbor.encode(doc));
  (Object.prototype as Record<string, unknown>).polluted = 'x'
  try {
    assert.deepEqual(encodePlainCbor(doc), expected)
    assert.deepEqual(formsOf(doc, 'b', ENVELOPE_DOMAIN)?.full, expected)
  } finally {
    delete (Object.prototype as Record<string, unknown>).polluted
  }
})
