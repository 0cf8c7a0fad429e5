/**
 * Issue 17 item 10: every control route of a full daemon answers a typed 4xx
 * — never a 500 — for deeply nested, oversized and malformed JSON bodies;
 * the bearer scheme is matched case-insensitively; POST /blocks refuses
 * documents larger than peers can fetch.
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { rawRequest } from '../helpers/http.js'
import { TestMesh } from '../helpers/mesh.js'
import { daemonServices } from '../../src/services.js'
import type { DaemonConfig } from '../../src/cli/index.js'
import type { ControlApi } from '../../src/api/control.js'
import { DEFAULT_CONTROL_BODY_LIMIT, DEFAULT_MAX_JSON_DEPTH, jsonDepth } from '../../src/api/control.js'
import { DEFAULT_MAX_BLOCK_BYTES } from '../../src/net/index.js'

const DEPTH = 100_000

function deepObject (depth: number): string {
  return '{"descriptor":'.repeat(depth) + '1' + '}'.repeat(depth)
}

function deepArray (depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth)
}

describe('control API bodies', () => {
  let mesh: TestMesh
  let api: ControlApi
  let url: string
  let token: string

  before(async () => {
    const config = { dataDir: '', listen: [], bootstrap: [], controlPort: 0, logLevel: 'warn', localSwarm: true, gossip: true, services: {} } satisfies DaemonConfig
    mesh = await TestMesh.start({ nodes: 1, controlApi: true, services: () => daemonServices(config) })
    api = mesh.nodes[0].components.api as ControlApi
    url = api.address as string
    token = api.token
  })
  after(async () => { await mesh.stop() })

  /** node:http, not fetch: fetch refuses a body on GET, and the point is to send one to every route */
  async function send (method: string, path: string, body: string | undefined, auth = `Bearer ${token}`): Promise<{ status: number, json: any }> {
    return await rawRequest(url + path, method, body, { authorization: auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) })
  }

  const pathOf = (pattern: string): string => pattern.replace(/:(\w+)/g, 'x')

  test('the daemon registers the routes of every area', () => {
    const paths = api.routes.map(r => `${r.method} ${r.path}`)
    for (const p of ['POST /caps', 'GET /caps/find', 'POST /caps/find', 'POST /blocks', 'POST /runs', 'POST /runs/:id/decide', 'GET /receipts/:runId']) assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`)
  })

  test('every route answers a typed 4xx for a 100k-deep JSON body (objects and arrays), never 500; each refusal is counted', async () => {
    const counted = async (): Promise<number> => (await mesh.nodes[0].components.metrics.rejections())['api/RequestTooDeepError'] ?? 0
    const before = await counted()
    let refused = 0
    for (const r of api.routes) {
      for (const body of [deepObject(DEPTH), deepArray(DEPTH)]) {
        const { status, json } = await send(r.method, pathOf(r.path), body)
        assert.notEqual(status, 500, `${r.method} ${r.path}: ${JSON.stringify(json).slice(0, 300)}`)
        assert.equal(status, 400, `${r.method} ${r.path}: ${JSON.stringify(json).slice(0, 300)}`)
        // a GET takes no body at all
        assert.equal(json.error?.name, r.method === 'GET' ? 'InvalidRequestError' : 'RequestTooDeepError', `${r.method} ${r.path}`)
        if (json.error?.name === 'RequestTooDeepError') refused++
      }
    }
    assert.ok(refused > 0)
    assert.equal(await counted() - before, refused)
  })

  test('every route answers a typed 4xx for a body over the size limit and for malformed JSON', async () => {
    const big = JSON.stringify({ doc: 'x'.repeat(DEFAULT_CONTROL_BODY_LIMIT) })
    for (const r of api.routes) {
      const path = pathOf(r.path)
      const large = await send(r.method, path, big)
      assert.notEqual(large.status, 500, `${r.method} ${r.path}`)
      assert.equal(large.status, r.method === 'GET' ? 400 : 413, `${r.method} ${r.path}: ${JSON.stringify(large.json).slice(0, 300)}`)
      assert.equal(large.json.error?.name, r.method === 'GET' ? 'InvalidRequestError' : 'RequestTooLargeError')
      const bad = await send(r.method, path, '{"descriptor": ')
      assert.notEqual(bad.status, 500, `${r.method} ${r.path}`)
      assert.equal(bad.status, 400, `${r.method} ${r.path}: ${JSON.stringify(bad.json).slice(0, 300)}`)
      assert.equal(bad.json.error?.name, 'InvalidRequestError')
    }
  })

  test('bodies nested up to the limit reach the handlers, which answer typed errors', async () => {
    // a descriptor nested just under the limit: the route's own validation answers, not a stack overflow
    const nested = `{"descriptor":{"name":"Deep","version":"1","io":{"input":${'{"properties":{"a":'.repeat((DEFAULT_MAX_JSON_DEPTH - 6) / 2)}{}${'}}'.repeat((DEFAULT_MAX_JSON_DEPTH - 6) / 2)},"output":{}}}}`
    assert.ok(jsonDepth(nested) <= DEFAULT_MAX_JSON_DEPTH)
    const res = await send('POST', '/caps', nested)
    assert.ok(res.status < 500, JSON.stringify(res.json).slice(0, 300))
    const tooDeep = `{"descriptor":{"name":"Deep","version":"1","io":{"input":${deepObject(DEFAULT_MAX_JSON_DEPTH)},"output":{}}}}`
    assert.equal((await send('POST', '/caps', tooDeep)).json.error?.name, 'RequestTooDeepError')
    // a deep io JSON in the find query is refused the same way
    const q = await send('GET', `/caps/find?name=S&local=1&io=${encodeURIComponent(deepObject(DEFAULT_MAX_JSON_DEPTH + 1))}`, undefined)
    assert.equal(q.status, 400, JSON.stringify(q.json).slice(0, 300))
    assert.equal(q.json.error?.name, 'RequestTooDeepError')
  })

  test('an unknown route is a typed 404', async () => {
    const res = await send('POST', '/no-such-route', '{}')
    assert.equal(res.status, 404)
    assert.equal(res.json.error?.name, 'RouteNotFoundError')
  })

  test('the bearer scheme is matched case-insensitively; a wrong or missing token is 401', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const res = await send('GET', '/health', undefined, `${scheme} ${token}`)
      assert.equal(res.status, 200, `${scheme}: ${JSON.stringify(res.json)}`)
    }
    assert.equal((await send('GET', '/health', undefined, `bearer ${token}x`)).status, 401)
    assert.equal((await send('GET', '/health', undefined, `Basic ${token}`)).status, 401)
    assert.equal((await send('GET', '/health', undefined, '')).status, 401)
  })

  test('POST /blocks refuses a document larger than peers can fetch, and stores one that fits', async () => {
    const tooBig = JSON.stringify({ doc: { text: 'x'.repeat(DEFAULT_MAX_BLOCK_BYTES + 1) } })
    assert.ok(tooBig.length < DEFAULT_CONTROL_BODY_LIMIT, 'under the body limit: the store bound answers')
    const res = await send('POST', '/blocks', tooBig)
    assert.equal(res.status, 413, JSON.stringify(res.json).slice(0, 300))
    assert.equal(res.json.error?.name, 'DocumentTooLargeError')
    const fits = await send('POST', '/blocks', JSON.stringify({ doc: { text: 'x'.repeat(DEFAULT_MAX_BLOCK_BYTES - 1024) } }))
    assert.equal(fits.status, 200, JSON.stringify(fits.json).slice(0, 300))
    assert.match(fits.json.cid, /^bafy/)
  })
})
