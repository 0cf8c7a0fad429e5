import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encodeFrame, encodeVarint, FrameDecoder } from '../../src/net/frames.js'

test('frames split across chunks decode in order', () => {
  const bytes = new Uint8Array([...encodeFrame({ a: 1 }, 1000), ...encodeFrame({ b: 'x'.repeat(300) }, 1000)])
  const d = new FrameDecoder(1000)
  const out: unknown[] = []
  for (let i = 0; i < bytes.length; i += 7) {
    d.push(bytes.subarray(i, i + 7))
    for (let f = d.next(); f != null; f = d.next()) out.push(f.value)
  }
  d.end()
  assert.deepEqual(out, [{ a: 1 }, { b: 'x'.repeat(300) }])
})

test('a declared length over the limit is refused before the payload arrives', () => {
  const d = new FrameDecoder(100)
  assert.throws(() => { d.push(encodeVarint(10_000)) }, { name: 'FrameTooLargeError' })
})

test('encoding a frame over the limit is refused', () => {
  assert.throws(() => encodeFrame({ s: 'x'.repeat(200) }, 100), { name: 'FrameTooLargeError' })
})

test('an over-long varint is malformed', () => {
  const d = new FrameDecoder(100)
  assert.throws(() => { d.push(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])) }, { name: 'MalformedFrameError' })
})

test('a payload that is not dag-cbor is malformed', () => {
  const d = new FrameDecoder(100)
  d.push(new Uint8Array([3, 0xff, 0xff, 0xff]))
  assert.throws(() => d.next(), { name: 'MalformedFrameError' })
})

test('a stream that ends mid-frame is truncated', () => {
  const d = new FrameDecoder(100)
  d.push(encodeFrame({ a: 'hello' }, 100).subarray(0, 4))
  assert.equal(d.next(), undefined)
  assert.throws(() => { d.end() }, { name: 'TruncatedFrameError' })
})
