import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encodeFrame, encodeVarint, FrameDecoder, FrameReader, END_OF_STREAM } from '../../src/net/frames.js'

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

/** A minimal event source standing in for a libp2p stream (FrameReader only listens to message/end/close). */
class FakeSource extends EventTarget {
  status = 'open'
  message (bytes: Uint8Array): void { this.dispatchEvent(Object.assign(new Event('message'), { data: bytes })) }
  end (): void { this.dispatchEvent(new Event('end')) }
}

test('FrameReader hands out frames across chunks and reports a clean end', async () => {
  const src = new FakeSource()
  const r = new FrameReader(src, 1000, 4)
  const bytes = new Uint8Array([...encodeFrame({ a: 1 }, 1000), ...encodeFrame({ b: 2 }, 1000)])
  src.message(bytes.subarray(0, 3))
  src.message(bytes.subarray(3))
  assert.deepEqual(await r.next(), { a: 1 })
  assert.deepEqual(await r.next(), { b: 2 })
  src.end()
  assert.equal(await r.next(), END_OF_STREAM)
})

test('FrameReader refuses more frames ahead than allowed with UnsolicitedFrameError, after the allowed ones', async () => {
  const src = new FakeSource()
  const r = new FrameReader(src, 1000, 1)
  src.message(new Uint8Array([...encodeFrame({ a: 1 }, 1000), ...encodeFrame({ a: 2 }, 1000), ...encodeFrame({ a: 3 }, 1000)]))
  assert.deepEqual(await r.next(), { a: 1 })
  await assert.rejects(r.next(), { name: 'UnsolicitedFrameError' })
  assert.equal(r.done, true)
})

test('FrameReader: an end inside a frame is TruncatedFrameError; a reset is StreamResetError', async () => {
  const a = new FakeSource()
  const ra = new FrameReader(a, 1000, 1)
  a.message(encodeFrame({ a: 1 }, 1000).subarray(0, 2))
  a.end()
  await assert.rejects(ra.next(), { name: 'TruncatedFrameError' })
  const b = new FakeSource()
  const rb = new FrameReader(b, 1000, 1)
  const pending = rb.next()
  b.status = 'reset'
  b.end()
  await assert.rejects(pending, { name: 'StreamResetError' })
})
