/**
 * The node's one JSON depth guard on the gateway (src/core/json-guard.ts): a
 * real node serving the gateway on loopback, with the daemon's services (the
 * registry's and the bridges' routes mounted too). Every route that takes a
 * body answers 400 RequestTooDeepError for deeply nested JSON, before any
 * handler or schema walks it, whatever the content type (plain JSON or a
 * signed envelope); each refusal is counted in the node's metrics.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { rawRequest, type RawAnswer } from '../helpers/http.js'
import type { TestMesh } from '../helpers/mesh.js'
import { DEFAULT_MAX_JSON_DEPTH, jsonDepth } from '../../src/core/json-guard.js'
import { ENVELOPE_CONTENT_TYPE, gatewayInitFromConfig } from '../../src/gateway/index.js'
import { gw, startMesh } from './helpers.js'

const DEPTH = 100_000

let mesh: TestMesh
let base: string
let key: string

before(async () => {
  // a bucket large enough for one request per route: the limit is not what is tested here
  mesh = await startMesh(1, () => ({ rateLimit: { burst: 10_000, perSecond: 10_000 } }))
  base = gw(mesh.nodes[0]).address as string
  key = (await gw(mesh.nodes[0]).keys.create({ name: 'root', scopes: ['admin'] })).key
})

after(async () => {
  await mesh?.stop()
})

const deepObject = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
const deepArray = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth)
const pathOf = (pattern: string): string => pattern.replace(/:(\w+)/g, 'x').replace(/\*$/, 'x')

/** The body as given, with the content type given (node:http). */
async function send (method: string, path: string, body: string, contentType = 'application/json', auth: boolean = true): Promise<RawAnswer> {
  return await rawRequest(base + path, method, body, { 'content-type': contentType, ...(auth ? { authorization: `Bearer ${key}` } : {}) })
}

/** The error name of a gateway answer: `{error: {name}}`, or JSON-RPC's (the MCP and A2A routes answer in their protocol's format). */
function errorName (json: any): string | undefined {
  return json?.error?.name ?? json?.error?.data?.name ?? json?.error?.data?.[0]?.reason
}

async function refusedDeep (): Promise<number> {
  return (await mesh.nodes[0].components.metrics.rejections())['gateway/RequestTooDeepError'] ?? 0
}

test('every gateway route that takes a body (its own, the registry\'s, the bridges\') refuses 100k-deep JSON with 400 RequestTooDeepError, counted', async () => {
  const routes = gw(mesh.nodes[0]).routes.filter(r => r.method === 'POST' || r.method === 'PUT')
  const urls = routes.map(r => `${r.method} ${r.url}`)
  // the gateway's own, the registry's and the bridges' routes are all in the list
  for (const want of ['POST /dsl-graph/:id/deploy', 'POST /runs/:id/decide', 'POST /blocks', 'POST /capabilities', 'POST /workflows', 'PUT /workflows/:workflow_id', 'POST /a2a', 'POST /mcp']) assert.ok(urls.includes(want), `${want} in ${urls.join(', ')}`)
  const before = await refusedDeep()
  let sent = 0
  const plain = await send('POST', '/blocks', deepArray(DEPTH))
  assert.deepEqual(plain.json, { error: { name: 'RequestTooDeepError', message: `JSON body nests deeper than ${DEFAULT_MAX_JSON_DEPTH} levels`, details: { max: DEFAULT_MAX_JSON_DEPTH } } })
  sent++
  for (const r of routes) {
    for (const body of [deepObject(DEPTH), deepArray(DEPTH)]) {
      const { status, json } = await send(r.method, pathOf(r.url), body)
      sent++
      assert.equal(status, 400, `${r.method} ${r.url}: ${JSON.stringify(json).slice(0, 300)}`)
      assert.equal(errorName(json), 'RequestTooDeepError', `${r.method} ${r.url}: ${JSON.stringify(json).slice(0, 300)}`)
    }
  }
  assert.equal(await refusedDeep() - before, sent)
})

test('the limit is exact: a body at the limit reaches the route, one level more does not', async () => {
  const atLimit = deepObject(DEFAULT_MAX_JSON_DEPTH - 1)
  assert.equal(jsonDepth(atLimit), DEFAULT_MAX_JSON_DEPTH - 1)
  const inside = `{"where":${atLimit}}`
  assert.equal(jsonDepth(inside), DEFAULT_MAX_JSON_DEPTH)
  const reached = await send('POST', '/workflows/query', inside)
  assert.ok(reached.status >= 400 && reached.status < 500, JSON.stringify(reached.json).slice(0, 300))
  assert.notEqual(reached.json.error?.name, 'RequestTooDeepError', 'the route itself answered')
  const over = await send('POST', '/workflows/query', `{"where":${deepObject(DEFAULT_MAX_JSON_DEPTH)}}`)
  assert.deepEqual([over.status, over.json.error?.name], [400, 'RequestTooDeepError'])
})

test('a signed-envelope body is guarded too, before its signature is looked at (no credentials needed to be refused)', async () => {
  const before = await refusedDeep()
  const res = await send('POST', '/dsl-graph/x/deploy', deepObject(DEPTH), ENVELOPE_CONTENT_TYPE, false)
  assert.deepEqual([res.status, res.json.error?.name], [400, 'RequestTooDeepError'], JSON.stringify(res.json).slice(0, 300))
  assert.equal(await refusedDeep() - before, 1)
  // the node is fine: a plain request still works
  const ok = await send('POST', '/workflows/query', '{}')
  assert.notEqual(ok.status, 500, JSON.stringify(ok.json).slice(0, 300))
})

test('api.maxJsonDepth is a positive integer in the config', () => {
  assert.equal(gatewayInitFromConfig({ maxJsonDepth: 16 }).maxJsonDepth, 16)
  for (const bad of [0, -1, 1.5, 'deep']) assert.throws(() => gatewayInitFromConfig({ maxJsonDepth: bad }), { name: 'GatewayConfigError' })
})
