import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { TestMesh } from '../helpers/mesh.js'
import { defineProtocol, expectOk, type RpcResponse } from '../../src/net/rpc.js'
import { encodeVarint, FrameDecoder } from '../../src/net/frames.js'
import { PlError } from '../../src/core/errors.js'
import type { Stream } from '@libp2p/interface'

let mesh: TestMesh
const echo = defineProtocol<{ n: number }, { n: number }>({
  id: '/pl/test-echo/1.0.0',
  maxRequestBytes: 1024,
  timeouts: { firstByteMs: 2000, totalMs: 3000, dialMs: 2000 },
  handler: async (req) => {
    if (typeof req?.n !== 'number') throw new PlError('n must be a number')
    return { status: 'OK', body: { n: req.n } }
  }
})
const slow = defineProtocol({
  id: '/pl/test-slow/1.0.0',
  timeouts: { firstByteMs: 300, totalMs: 5000, dialMs: 2000 },
  handler: async (_req, ctx) => {
    await new Promise((resolve) => { const t = setTimeout(resolve, 2000); ctx.signal.addEventListener('abort', () => { clearTimeout(t); resolve(undefined) }) })
    return { status: 'OK', body: {} }
  }
})

before(async () => {
  mesh = await TestMesh.start({ nodes: 2 })
  await mesh.connected(1)
  await mesh.nodes[1].components.rpc.handle(echo)
  await mesh.nodes[1].components.rpc.handle(slow)
})

after(async () => { await mesh.stop() })

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

test('no first byte within the limit gives RpcTimeoutError', async () => {
  await assert.rejects(mesh.nodes[0].components.rpc.request(mesh.nodes[1].peerId, slow, {}), (err: Error) => err.name === 'RpcTimeoutError' && /first-byte/.test(err.message))
})

test('a caller abort gives RpcAbortedError', async () => {
  const ac = new AbortController()
  setTimeout(() => { ac.abort() }, 50)
  await assert.rejects(mesh.nodes[0].components.rpc.request(mesh.nodes[1].peerId, slow, {}, { signal: ac.signal, timeouts: { firstByteMs: 5000 } }), { name: 'RpcAbortedError' })
})

test('a request to a protocol the peer does not serve fails with RpcDialError', async () => {
  const other = defineProtocol({ id: '/pl/nope/1.0.0' })
  await assert.rejects(mesh.nodes[0].components.rpc.request(mesh.nodes[1].peerId, other, {}), { name: 'RpcDialError' })
})

test('the node keeps serving after all of the above', async () => {
  const res = await mesh.nodes[0].components.rpc.request(mesh.nodes[1].peerId, echo, { n: 7 })
  assert.deepEqual(expectOk(res, echo.id), { n: 7 })
})
