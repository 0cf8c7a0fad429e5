/**
 * Framed RPC over reused streams: a requester keeps a few idle streams per
 * peer and protocol and sends its next call on one of them; a responder
 * serves calls on a stream one at a time until the requester closes it.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { TestMesh, waitFor } from '../helpers/mesh.js'
import { defineProtocol, expectOk, Rpc, type RpcResponse } from '../../src/net/rpc.js'
import { FakeClock } from '../../src/core/clock.js'
import { encodeFrame, encodeVarint, FrameReader, END_OF_STREAM } from '../../src/net/frames.js'
import { PlError } from '../../src/core/errors.js'
import type { Stream } from '@libp2p/interface'

let mesh: TestMesh
const echo = defineProtocol<{ n: number }, { n: number }>({
  id: '/pl/test-reuse-echo/1.0.0',
  handler: async (req) => {
    if (typeof req?.n !== 'number') throw new PlError('n must be a number')
    return { status: 'OK', body: { n: req.n } }
  }
})

/** Holds each call until the test releases it (or the call's signal aborts). */
let release = Promise.withResolvers<void>()
let reached = 0
const held = defineProtocol<{ n: number }, { n: number }>({
  id: '/pl/test-reuse-held/1.0.0',
  timeouts: { dialMs: 5000, firstByteMs: 60_000, totalMs: 60_000 },
  handler: async (req, ctx) => {
    reached++
    await new Promise<void>((resolve) => {
      ctx.signal.addEventListener('abort', () => { resolve() }, { once: true })
      void release.promise.then(resolve)
    })
    return { status: 'OK', body: { n: req.n } }
  }
})

/**
 * A hand-written responder on a long-lived stream, for what a well-behaved
 * node never sends: `{n: -1}` resets the stream mid-call; `{n: -2}` answers
 * and then sends a second final frame; `{n: -3}` announces a frame over any
 * limit; `{n: -4}` answers garbage; `{n: -5}` answers and sends one more frame
 * when the test calls `sendLate`. Anything else is echoed.
 */
const rawId = '/pl/test-reuse-raw/1.0.0'
const raw = defineProtocol<{ n: number }, { n: number }>({ id: rawId, maxResponseBytes: 1024 })
let sendLate: (() => void) | undefined

function rawResponder (stream: Stream): void {
  const reader = new FrameReader(stream, 1024, 16)
  void (async () => {
    try {
      for (;;) {
        const req = await reader.next() as { n: number } | typeof END_OF_STREAM
        if (req === END_OF_STREAM) { await stream.close(); return }
        const ok = encodeFrame({ status: 'OK', body: { n: req.n } }, 1024)
        if (req.n === -1) { stream.abort(new Error('responder crashed')); return }
        if (req.n === -2) { stream.send(new Uint8Array([...ok, ...ok])); continue }
        if (req.n === -3) { stream.send(encodeVarint(10_000_000)); continue }
        if (req.n === -4) { stream.send(new Uint8Array([3, 0xff, 0xfe, 0xfd])); continue }
        stream.send(ok)
        if (req.n === -5) sendLate = () => { stream.send(ok) }
      }
    } catch {
      stream.abort(new Error('responder failed'))
    }
  })()
}

before(async () => {
  mesh = await TestMesh.start({ nodes: 2 })
  await mesh.connected(1)
  await mesh.nodes[1].components.rpc.handle(echo)
  await mesh.nodes[1].components.rpc.handle(held)
  await mesh.nodes[1].libp2p.handle(rawId, (stream) => { rawResponder(stream) })
})

after(async () => { release.resolve(); await mesh.stop() })

/** Streams of `protocol` open on the requester's connections to node 1. */
function openStreams (protocol: string): number {
  return mesh.nodes[0].libp2p.getConnections(mesh.nodes[1].libp2p.peerId).flatMap(c => c.streams).filter(s => s.protocol === protocol && s.status === 'open').length
}

async function rejections (node: number): Promise<Record<string, number>> {
  return await mesh.nodes[node].components.metrics.rejections()
}

test('sequential calls travel on one reused stream', async () => {
  const rpc = mesh.nodes[0].components.rpc
  for (let n = 0; n < 20; n++) assert.deepEqual(expectOk(await rpc.request(mesh.nodes[1].peerId, echo, { n }), echo.id), { n })
  assert.equal(openStreams(echo.id), 1)
  assert.equal(rpc.idleStreams >= 1, true)
})

test('more concurrent calls than the responder takes streams wait for a free one, all get their own answer, and only a bounded number of streams stays open', async () => {
  const rpc = mesh.nodes[0].components.rpc
  const answers = await Promise.all(Array.from({ length: 40 }, async (_, n) => expectOk(await rpc.request(mesh.nodes[1].peerId, echo, { n }), echo.id)))
  assert.deepEqual(answers, Array.from({ length: 40 }, (_, n) => ({ n })))
  // 32 inbound streams per connection → at most 8 idle ones kept; the rest were closed after their call
  await waitFor(() => openStreams(echo.id) <= 8, 20_000, 'surplus streams closed')
  assert.deepEqual(expectOk(await rpc.request(mesh.nodes[1].peerId, echo, { n: 41 }), echo.id), { n: 41 })
})

test('a timeout of one call does not touch the calls in flight on other streams', async () => {
  release = Promise.withResolvers<void>()
  reached = 0
  const rpc = mesh.nodes[0].components.rpc
  const clock = new FakeClock()
  const timed = new Rpc({ libp2p: mesh.nodes[0].libp2p, clock })
  try {
    const others = [1, 2, 3].map(async (n) => await rpc.request(mesh.nodes[1].peerId, held, { n }))
    const doomed = timed.request(mesh.nodes[1].peerId, held, { n: 0 }, { timeouts: { totalMs: 1000 } })
    await waitFor(() => reached === 4, 20_000, 'all four calls reached the handler')
    await clock.whenPending(2)
    clock.advance(1000)
    await assert.rejects(doomed, { name: 'RpcTimeoutError' })
    // a plain echo works meanwhile, and the held calls still complete once released
    assert.deepEqual(expectOk(await rpc.request(mesh.nodes[1].peerId, echo, { n: 9 }), echo.id), { n: 9 })
    release.resolve()
    const res = await Promise.all(others)
    assert.deepEqual(res.map(r => expectOk(r, held.id)), [{ n: 1 }, { n: 2 }, { n: 3 }])
  } finally {
    await timed.stop()
  }
})

test('a responder resetting its stream mid-call fails only that call, with a typed error', async () => {
  const rpc = mesh.nodes[0].components.rpc
  assert.deepEqual(expectOk(await rpc.request(mesh.nodes[1].peerId, raw, { n: 1 }), rawId), { n: 1 }) // leaves a pooled stream
  const [crashed, fine] = await Promise.allSettled([
    rpc.request(mesh.nodes[1].peerId, raw, { n: -1 }),
    rpc.request(mesh.nodes[1].peerId, raw, { n: 2 })
  ])
  assert.equal(crashed.status, 'rejected')
  assert.equal((crashed).reason.name, 'RpcStreamError')
  assert.equal(fine.status, 'fulfilled')
  assert.deepEqual(expectOk((fine as PromiseFulfilledResult<RpcResponse<{ n: number }>>).value, rawId), { n: 2 })
  assert.deepEqual(expectOk(await rpc.request(mesh.nodes[1].peerId, raw, { n: 3 }), rawId), { n: 3 })
})

test('a second final frame answers the call, is counted as unsolicited, and the stream is dropped', async () => {
  const rpc = mesh.nodes[0].components.rpc
  const before = (await rejections(0))['rpc/UnsolicitedFrameError'] ?? 0
  assert.deepEqual(expectOk(await rpc.request(mesh.nodes[1].peerId, raw, { n: -2 }), rawId), { n: -2 })
  const counts = await rejections(0)
  assert.equal(counts['rpc/UnsolicitedFrameError'], before + 1)
  assert.deepEqual(expectOk(await rpc.request(mesh.nodes[1].peerId, raw, { n: 4 }), rawId), { n: 4 })
})

test('a frame arriving on an idle pooled stream is counted and the stream leaves the pool', async () => {
  const rpc = mesh.nodes[0].components.rpc
  sendLate = undefined
  const before = (await rejections(0))['rpc/UnsolicitedFrameError'] ?? 0
  assert.deepEqual(expectOk(await rpc.request(mesh.nodes[1].peerId, raw, { n: -5 }), rawId), { n: -5 })
  await waitFor(() => sendLate != null, 10_000, 'responder ready to send late')
  ;(sendLate as (() => void) | undefined)?.()
  await waitFor(async () => ((await rejections(0))['rpc/UnsolicitedFrameError'] ?? 0) === before + 1, 10_000, 'unsolicited frame counted')
  assert.deepEqual(expectOk(await rpc.request(mesh.nodes[1].peerId, raw, { n: 5 }), rawId), { n: 5 })
})

test('an oversized or garbage answer fails the call with the framing error, counted', async () => {
  const rpc = mesh.nodes[0].components.rpc
  await assert.rejects(rpc.request(mesh.nodes[1].peerId, raw, { n: -3 }), { name: 'FrameTooLargeError' })
  await assert.rejects(rpc.request(mesh.nodes[1].peerId, raw, { n: -4 }), { name: 'MalformedFrameError' })
  const counts = await rejections(0)
  assert.ok((counts['rpc/FrameTooLargeError'] ?? 0) >= 1)
  assert.ok((counts['rpc/MalformedFrameError'] ?? 0) >= 1)
  assert.deepEqual(expectOk(await rpc.request(mesh.nodes[1].peerId, raw, { n: 6 }), rawId), { n: 6 })
})

test('a responder closes a stream idle past its limit; the requester drops it and the next call opens a new one', async () => {
  const clock = new FakeClock()
  const server = new Rpc({ libp2p: mesh.nodes[1].libp2p, clock }, { idleMs: 5000 })
  const idleEcho = defineProtocol<{ n: number }, { n: number }>({ id: '/pl/test-reuse-idle/1.0.0', handler: async (req) => ({ status: 'OK', body: req }) })
  await server.handle(idleEcho)
  try {
    const rpc = mesh.nodes[0].components.rpc
    assert.deepEqual(expectOk(await rpc.request(mesh.nodes[1].peerId, idleEcho, { n: 1 }), idleEcho.id), { n: 1 })
    assert.equal(openStreams(idleEcho.id), 1)
    await clock.whenPending(1) // the idle timer of the served stream
    clock.advance(5000)
    await waitFor(() => openStreams(idleEcho.id) === 0, 10_000, 'idle stream closed')
    assert.deepEqual(expectOk(await rpc.request(mesh.nodes[1].peerId, idleEcho, { n: 2 }), idleEcho.id), { n: 2 })
  } finally {
    await server.stop()
  }
})
