/**
 * The JSON depth guard beyond request bodies, on a real node serving the
 * gateway on loopback: WebSocket messages of `/ws` and frames of `/attach`
 * (real ws clients), and the signed envelope of an `Authorization:
 * PL-Envelope` header (real HTTP). Deeply nested JSON is refused with
 * RequestTooDeepError before it is parsed, oversized input is refused
 * cleanly (close 1009, 431), each counted under its area; the connection or
 * the server keeps serving.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { rawRequest } from '../helpers/http.js'
import type { TestMesh } from '../helpers/mesh.js'
import { DEFAULT_MAX_JSON_DEPTH } from '../../src/core/json-guard.js'
import { toBase64url } from '../../src/core/encoding.js'
import { gw, startMesh } from './helpers.js'

const BODY_LIMIT = 64 * 1024
let mesh: TestMesh
let base: string
let key: string

before(async () => {
  mesh = await startMesh(1, () => ({ bodyLimit: BODY_LIMIT, rateLimit: { burst: 10_000, perSecond: 10_000 } }))
  base = gw(mesh.nodes[0]).address as string
  key = (await gw(mesh.nodes[0]).keys.create({ name: 'root', scopes: ['admin'] })).key
})

after(async () => {
  await mesh?.stop()
})

const deepArray = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth)
const deepObject = (depth: number): string => '{"op":'.repeat(depth) + '1' + '}'.repeat(depth)

async function counted (name: string): Promise<number> {
  return (await mesh.nodes[0].components.metrics.rejections())[name] ?? 0
}

/** A WebSocket client that keeps every message and its close code. */
class Socket {
  readonly messages: any[] = []
  private wake?: () => void
  readonly closed: Promise<number>

  private constructor (readonly ws: WebSocket) {
    ws.on('message', (data) => { this.messages.push(JSON.parse(data.toString())); this.wake?.() })
    this.closed = new Promise((resolve) => { ws.on('close', (code) => { resolve(code); this.wake?.() }) })
    ws.on('error', () => {})
  }

  static async open (path: string): Promise<Socket> {
    const ws = new WebSocket(base.replace('http', 'ws') + path, { headers: { authorization: `Bearer ${key}` } })
    const s = new Socket(ws)
    await new Promise<void>((resolve, reject) => { ws.once('open', () => { resolve() }); ws.once('error', reject) })
    return s
  }

  /** Message number `index` (from 0), waiting for it. */
  async message (index: number): Promise<any> {
    while (this.messages.length <= index) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed; got ${JSON.stringify(this.messages)}`)
      await new Promise<void>((resolve) => { this.wake = resolve })
    }
    return this.messages[index]
  }
}

test('/ws: a message nested past the limit is refused with RequestTooDeepError, counted, and the socket keeps serving', async () => {
  const before = await counted('gateway/RequestTooDeepError')
  const s = await Socket.open('/ws')
  try {
    s.ws.send(deepArray(20_000))
    assert.deepEqual(await s.message(0), { type: 'error', error: { name: 'RequestTooDeepError', message: `WebSocket message nests deeper than ${DEFAULT_MAX_JSON_DEPTH} levels`, details: { max: DEFAULT_MAX_JSON_DEPTH } } })
    s.ws.send(deepObject(5_000))
    assert.equal((await s.message(1)).error.name, 'RequestTooDeepError')
    // at the limit it is parsed (and refused for what it says, not for its depth)
    s.ws.send(JSON.stringify({ op: 'unsubscribe', run: 'r1', id: 7, deep: JSON.parse(deepArray(DEFAULT_MAX_JSON_DEPTH - 1)) }))
    assert.deepEqual(await s.message(2), { type: 'unsubscribed', run: 'r1', id: 7 })
    assert.equal(await counted('gateway/RequestTooDeepError') - before, 2)
  } finally {
    s.ws.terminate()
  }
})

test('/ws: a message over the size limit closes the socket with 1009, counted; the gateway keeps serving', async () => {
  const before = await counted('gateway/WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
  const s = await Socket.open('/ws')
  s.ws.send(JSON.stringify({ op: 'subscribe', run: 'x'.repeat(BODY_LIMIT + 1) }))
  assert.equal(await s.closed, 1009)
  assert.equal(await counted('gateway/WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') - before, 1)
  const again = await Socket.open('/ws')
  try {
    again.ws.send(JSON.stringify({ op: 'unsubscribe', run: 'r2' }))
    assert.deepEqual(await again.message(0), { type: 'unsubscribed', run: 'r2' })
  } finally {
    again.ws.terminate()
  }
})

test('/attach: a frame nested past the limit is refused with RequestTooDeepError, counted under attached; an oversized one closes with 1009', async () => {
  const before = await counted('attached/RequestTooDeepError')
  const s = await Socket.open('/attach')
  try {
    s.ws.send(deepArray(20_000))
    const refused = await s.message(0)
    assert.equal(refused.type, 'error')
    assert.equal(refused.error.name, 'RequestTooDeepError')
    assert.equal(refused.error.message, `attach frame nests deeper than ${DEFAULT_MAX_JSON_DEPTH} levels`)
    s.ws.send(JSON.stringify({ op: 'ping', id: 1 }))
    assert.deepEqual(await s.message(1), { type: 'pong', id: 1 })
    assert.equal(await counted('attached/RequestTooDeepError') - before, 1)
  } finally {
    s.ws.terminate()
  }
  const big = await counted('attached/WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
  const s2 = await Socket.open('/attach')
  s2.ws.send(JSON.stringify({ op: 'ping', pad: 'x'.repeat(BODY_LIMIT + 1) }))
  assert.equal(await s2.closed, 1009)
  assert.equal(await counted('attached/WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') - big, 1)
})

test('Authorization: PL-Envelope: an envelope nested past the limit is 400 RequestTooDeepError, an oversized header 431 HeaderTooLargeError, both counted', async () => {
  const deep = await counted('gateway/RequestTooDeepError')
  // 4000 levels fit in a header (16 KiB); the verifier would otherwise walk them
  const envelope = `{"v":1,"type":"GatewayRequest.v1","body":{"method":"GET","path":"/runs","body":${deepArray(4_000)}}}`
  const header = `PL-Envelope ${toBase64url(new TextEncoder().encode(envelope))}`
  const res = await rawRequest(base + '/runs', 'GET', undefined, { authorization: header })
  assert.equal(res.status, 400, JSON.stringify(res.json))
  assert.deepEqual(res.json, { error: { name: 'RequestTooDeepError', message: `the PL-Envelope authorization nests deeper than ${DEFAULT_MAX_JSON_DEPTH} levels`, details: { max: DEFAULT_MAX_JSON_DEPTH } } })
  assert.equal(await counted('gateway/RequestTooDeepError') - deep, 1)
  // a shallow one that is not an envelope is refused as before (401), not as too deep
  const shallow = await rawRequest(base + '/runs', 'GET', undefined, { authorization: `PL-Envelope ${toBase64url(new TextEncoder().encode('{"v":1}'))}` })
  assert.equal(shallow.status, 401)
  assert.equal(shallow.json.error.name, 'UnknownAgentError')

  const large = await counted('gateway/HeaderTooLargeError')
  const huge = await rawRequest(base + '/runs', 'GET', undefined, { authorization: `PL-Envelope ${'A'.repeat(20 * 1024)}` })
  assert.equal(huge.status, 431)
  assert.equal(huge.json.error.name, 'HeaderTooLargeError')
  assert.equal(await counted('gateway/HeaderTooLargeError') - large, 1)
  const ok = await rawRequest(base + '/runs', 'GET', undefined, { authorization: `Bearer ${key}` })
  assert.equal(ok.status, 200, 'the gateway keeps serving')
})
