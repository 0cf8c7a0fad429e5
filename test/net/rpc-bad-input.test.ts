import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { TestMesh } from '../helpers/mesh.js'
import { defineProtocol, expectOk, Rpc, type RpcResponse } from '../../src/net/rpc.js'
import { FakeClock } from '../../src/core/clock.js'
import { setImmediate } from 'node:timers/promises'
import { encodeVarint, FrameDecoder } from '../../src/net/frames.js'
import { PlError } from '../../src/core/errors.js'
import type { Stream } from '@libp2p/interface'

let mesh: TestMesh
const echo = defineProtocol<{ n: number }, { n: number }>({
  id: '/pl/test-echo/1.0.0',
  maxRequestBytes: 1024,
  handler: async (req) => {
    if (typeof req?.n !== 'number') throw new PlError('n must be a number')
    return { status: 'OK', body: { n: req.n } }
  }
})
/** Tells the test that the slow handler got its request, then holds the answer until the test releases it (or the node stops). */
let slowReached = Promise.withResolvers<void>()
let slowRelease = Promise.withResolvers<void>()
const slow = defineProtocol({
  id: '/pl/test-slow/1.0.0',
  timeouts: { firstByteMs: 300, totalMs: 5000, dialMs: 5000 },
  handler: async (_req, ctx) => {
    slowReached.resolve()
    await new Promise<void>((resolve) => {
      ctx.signal.addEventListener('abort', () => { resolve() }, { once: true })
      void slowRelease.promise.then(resolve)
    })
    return { status: 'OK', body: {} }
  }
})

/** A fresh reached/release pair for the next slow call; releases the previous handler. */
function nextSlowCall (): void {
  slowRelease.resolve()
  slowReached = Promise.withResolvers<void>()
  slowRelease = Promise.withResolvers<void>()
}

before(async () => {
  mesh = await TestMesh.start({ nodes: 2 })
  await mesh.connected(1)
  await mesh.nodes[1].components.rpc.handle(echo)
  await mesh.nodes[1].components.rpc.handle(slow)
})

after(async () => { slowRelease.resolve(); await mesh.stop() })

async function rawCall (bytes: Uint8Array): Promise<RpcResponse> {
  const stream: Stream = await mesh.nodes[0].libp2p.dialProtocol(mesh.nodes[1].libp2p.peerId, echo.id)
  stream.send(bytes)
  await stream.close()
  const d = new FrameDecoder(1 << 20)
  for await (const chunk of stream) {
    d.push(chunk)
    const f = d.next()
    if (f != null) return f.value as RpcResponse
  }
  throw new Error('no response')
}

test('garbage bytes get a REJECTED status naming the framing error, and are counted', async () => {
  const res = await rawCall(new Uint8Array([3, 0xff, 0xfe, 0xfd]))
  assert.equal(res.status, 'REJECTED')
  assert.equal(res.error?.name, 'MalformedFrameError')
  const counts = await mesh.nodes[1].components.metrics.rejections()
  assert.ok((counts['rpc/MalformedFrameError'] ?? 0) >= 1)
})

test('a frame over the request limit is refused without reading it', async () => {
  const res = await rawCall(new Uint8Array([...encodeVarint(50_000), 1, 2, 3]))
  assert.equal(res.status, 'REJECTED')
  assert.equal(res.error?.name, 'FrameTooLargeError')
})

test('a truncated frame is refused', async () => {
  const res = await rawCall(new Uint8Array([...encodeVarint(40), 0xa1, 0x61]))
  assert.equal(res.status, 'REJECTED')
  assert.equal(res.error?.name, 'TruncatedFrameError')
})

test('a handler that refuses the request answers REJECTED with its error', async () => {
  const res = await mesh.nodes[0].components.rpc.request(mesh.nodes[1].peerId, echo, { n: 'x' as any })
  assert.equal(res.status, 'REJECTED')
  assert.throws(() => expectOk(res, echo.id), { name: 'RpcStatusError' })
})

// fake-time tests wait on events only; the node:test timeout turns a regression (a timer not on the clock) into a failure instead of a hang
const HANG_GUARD = { timeout: 120_000 }

test('no first byte within the limit gives RpcTimeoutError naming the phase, on the requester\'s clock', HANG_GUARD, async () => {
  nextSlowCall()
  const clock = new FakeClock()
  const rpc = new Rpc({ libp2p: mesh.nodes[0].libp2p, clock })
  try {
    const call = rpc.request(mesh.nodes[1].peerId, slow, {})
    let settled = false
    void call.then(() => { settled = true }, () => { settled = true })
    await slowReached.promise
    await clock.whenPending(2) // the total timeout and the first-byte timer
    clock.advance(slow.timeouts.firstByteMs - 1)
    await setImmediate()
    assert.equal(settled, false, 'still waiting 1 ms before the limit')
    clock.advance(1)
    await assert.rejects(call, (err: Error) => err.name === 'RpcTimeoutError' && /first-byte limit: 300 ms/.test(err.message))
    assert.equal(clock.pending, 0, 'every timer of the call is cleared')
  } finally {
    await rpc.stop()
  }
})

test('the total limit ends a call whose answer never comes, even when the first-byte limit is longer', HANG_GUARD, async () => {
  nextSlowCall()
  const clock = new FakeClock()
  const rpc = new Rpc({ libp2p: mesh.nodes[0].libp2p, clock })
  try {
    const call = rpc.request(mesh.nodes[1].peerId, slow, {}, { timeouts: { firstByteMs: 60_000, totalMs: 1000 } })
    await slowReached.promise
    await clock.whenPending(2)
    clock.advance(1000)
    await assert.rejects(call, (err: Error) => err.name === 'RpcTimeoutError' && /total limit: 1000 ms/.test(err.message))
    assert.equal(clock.pending, 0)
  } finally {
    await rpc.stop()
  }
})

test('a caller abort gives RpcAbortedError', HANG_GUARD, async () => {
  nextSlowCall()
  const ac = new AbortController()
  const call = mesh.nodes[0].components.rpc.request(mesh.nodes[1].peerId, slow, {}, { signal: ac.signal, timeouts: { firstByteMs: 60_000 } })
  await slowReached.promise
  ac.abort()
  await assert.rejects(call, { name: 'RpcAbortedError' })
})

test('a request to a protocol the peer does not serve fails with RpcDialError', async () => {
  const other = defineProtocol({ id: '/pl/nope/1.0.0' })
  await assert.rejects(mesh.nodes[0].components.rpc.request(mesh.nodes[1].peerId, other, {}), { name: 'RpcDialError' })
})

test('the node keeps serving after all of the above', async () => {
  const res = await mesh.nodes[0].components.rpc.request(mesh.nodes[1].peerId, echo, { n: 7 })
  assert.deepEqual(expectOk(res, echo.id), { n: 7 })
})
