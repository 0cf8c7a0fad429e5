/**
 * The gateway's HTTP routes against a real node (TestMesh: real libp2p,
 * LevelDB, executor, receipts): authentication and scopes, runs from a
 * stored bundle, decisions, receipts, typed errors for bad input, rate
 * limits on an injected clock, origins, agent-signed requests, and the
 * OpenAPI document linted by @redocly/cli.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { FakeClock } from '../../src/core/clock.js'
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { type TestMesh, waitFor } from '../helpers/mesh.js'
import { tempDir } from '../helpers/tmp.js'
import { packBundle } from '../../src/workflow/index.js'
import { createIdentity, signEnvelope } from '../../src/core/index.js'
import { decodeJson, encodeJson } from '../../src/core/encoding.js'
import { verifyExport } from '../../src/receipts/index.js'
import { ENVELOPE_CONTENT_TYPE } from '../../src/gateway/index.js'
import { gw, http, oneModuleWorkflow, startMesh } from './helpers.js'

let mesh: TestMesh
let base: string
let limitedBase: string
let admin: string
let reader: string
let submitter: string
const clock = new FakeClock(1_000_000)
let tmp: { dir: string, cleanup: () => Promise<void> }
let diamondCid: string

before(async () => {
  tmp = await tempDir('pl-gw-http-')
  mesh = await startMesh(2, (i) => i === 0 ? {} : { rateLimit: { burst: 3, perSecond: 1 }, clock, allowedOrigins: ['https://console.example'] })
  base = gw(mesh.nodes[0]).address as string
  limitedBase = gw(mesh.nodes[1]).address as string
  admin = (await gw(mesh.nodes[0]).keys.create({ name: 'root', scopes: 'admin' })).key
  reader = (await gw(mesh.nodes[0]).keys.create({ name: 'reader', scopes: ['read'] })).key
  submitter = (await gw(mesh.nodes[0]).keys.create({ name: 'alice', scopes: ['read', 'submit'] })).key
  const zip = await packBundle(resolve('test/fixtures/workflows/diamond-js'))
  const put = await http(base, 'POST', '/blocks', { key: submitter, raw: zip, headers: { 'content-type': 'application/zip' } })
  assert.equal(put.status, 200, JSON.stringify(put.body))
  diamondCid = put.body.cid
})

after(async () => {
  await mesh.stop()
  await tmp.cleanup()
})

test('scoped routes refuse missing credentials (401), unknown keys (401) and missing scopes (403); the Bearer scheme is case-insensitive', async () => {
  const none = await http(base, 'GET', '/runs')
  assert.equal(none.status, 401)
  assert.equal(none.body.error.name, 'MissingCredentialsError')
  const wrong = await http(base, 'GET', '/runs', { headers: { authorization: 'Bearer plk_0123456789abcdef_' + 'A'.repeat(32) } })
  assert.equal(wrong.status, 401)
  assert.equal(wrong.body.error.name, 'UnknownApiKeyError')
  const garbage = await http(base, 'GET', '/runs', { headers: { authorization: 'Bearer nonsense' } })
  assert.equal(garbage.body.error.name, 'UnknownApiKeyError')
  const basic = await http(base, 'GET', '/runs', { headers: { authorization: 'Basic dXNlcjpwYXNz' } })
  assert.equal(basic.status, 401)
  assert.equal(basic.body.error.name, 'MissingCredentialsError')
  const lower = await http(base, 'GET', '/runs', { headers: { authorization: `bearer ${reader}` } })
  assert.equal(lower.status, 200)
  assert.ok(Array.isArray(lower.body))
  const forbidden = await http(base, 'POST', '/dsl-graph/x/deploy', { key: reader, body: { dsl: 'goal: X\nplan:\n  - step: A()\n' } })
  assert.equal(forbidden.status, 403)
  assert.equal(forbidden.body.error.name, 'MissingScopeError')
  const keysAsReader = await http(base, 'GET', '/api-keys', { key: reader })
  assert.equal(keysAsReader.status, 403)
  const health = await http(base, 'GET', '/health')
  assert.deepEqual([health.status, health.body], [200, { ok: true }])
})

test('a revoked key stops working at once', async () => {
  const { key } = await gw(mesh.nodes[0]).keys.create({ name: 'temp', scopes: ['read'] })
  assert.equal((await http(base, 'GET', '/runs', { key })).status, 200)
  const revoked = await http(base, 'DELETE', '/api-keys/temp', { key: admin })
  assert.equal(revoked.status, 200)
  assert.equal(revoked.body.name, 'temp')
  assert.equal((await http(base, 'GET', '/runs', { key })).body.error.name, 'UnknownApiKeyError')
  const again = await http(base, 'DELETE', '/api-keys/temp', { key: admin })
  assert.deepEqual([again.status, again.body.error.name], [404, 'ApiKeyNotFoundError'])
})

test('deploys a workflow.json bundle stored by CID; the run, a step output and the receipts (verifiable offline) are readable', async () => {
  const dep = await http(base, 'POST', '/dsl-graph/diamond/deploy', { key: submitter, body: { bundle: diamondCid, input: { number: 5 }, wait: true } })
  assert.equal(dep.status, 200, JSON.stringify(dep.body))
  assert.equal(dep.body.run.state, 'succeeded')
  const runId = dep.body.runId as string
  const view = await http(base, 'GET', `/runs/${runId}`, { key: reader })
  assert.equal(view.status, 200)
  assert.deepEqual(view.body.output, dep.body.output)
  assert.equal(view.body.requester.principal, 'alice')
  assert.equal(view.body.requester.kind, 'api-key')
  const out = await http(base, 'GET', `/runs/${runId}/outputs/start`, { key: reader })
  assert.equal(out.status, 200, JSON.stringify(out.body))
  assert.equal(out.body.step, 'start')
  assert.ok(out.body.output != null)
  const missing = await http(base, 'GET', `/runs/${runId}/outputs/nope`, { key: reader })
  assert.deepEqual([missing.status, missing.body.error.name], [404, 'StepOutputNotFoundError'])
  const receipts = await http(base, 'GET', `/runs/${runId}/receipts`, { key: reader })
  assert.equal(receipts.status, 200)
  assert.equal(receipts.body.receipts.length, 4)
  // the export is checkable with nothing but its bytes
  const offline = verifyExport(decodeJson(encodeJson(receipts.body)))
  assert.equal(offline.root, receipts.body.root)
  const list = await http(base, 'GET', '/runs', { key: reader })
  assert.ok(list.body.some((r: { id: string }) => r.id === runId))
  const events = await http(base, 'GET', `/runs/${runId}/events?since=0`, { key: reader })
  assert.equal(events.status, 200, JSON.stringify(events.body))
  assert.ok(events.body.events.some((e: { type: string }) => e.type === 'pl:run:finished'))
})

test('a workflow.json document with a stored bundle runs with the document\'s graph', async () => {
  const doc = JSON.parse(await (await import('node:fs/promises')).readFile('test/fixtures/workflows/diamond-js/workflow.json', 'utf8'))
  doc.globalSettings.incr = 100
  const dep = await http(base, 'POST', '/dsl-graph/diamond2/deploy', { key: submitter, body: { workflow: doc, bundle: diamondCid, input: { number: 5 }, wait: true } })
  assert.equal(dep.status, 200, JSON.stringify(dep.body))
  assert.equal(dep.body.run.state, 'succeeded')
  const plain = await http(base, 'POST', '/dsl-graph/diamond3/deploy', { key: submitter, body: { bundle: diamondCid, input: { number: 5 }, wait: true } })
  assert.notDeepEqual(dep.body.output, plain.body.output)
})

test('a step waiting for a human is answered with POST /runs/:id/decide; cancel ends a waiting run', async () => {
  const dir = await oneModuleWorkflow(tmp.dir, 'ask', "const c = await context.human.ask({ question: 'Ship?', choices: ['yes', 'no'] }); return { choice: c }")
  const put = await http(base, 'POST', '/blocks', { key: submitter, raw: await packBundle(dir), headers: { 'content-type': 'application/octet-stream' } })
  const first = await http(base, 'POST', '/dsl-graph/ask/deploy', { key: submitter, body: { bundle: put.body.cid, wait: true } })
  assert.equal(first.status, 200, JSON.stringify(first.body))
  assert.equal(first.body.run.state, 'waiting-human')
  assert.deepEqual(first.body.waiting[0].choices, ['yes', 'no'])
  const bad = await http(base, 'POST', `/runs/${first.body.runId}/decide`, { key: submitter, body: { step: 'main', choice: 'maybe' } })
  assert.deepEqual([bad.status, bad.body.error.name], [400, 'InvalidDecisionError'])
  const readerDecides = await http(base, 'POST', `/runs/${first.body.runId}/decide`, { key: reader, body: { step: 'main', choice: 'yes' } })
  assert.equal(readerDecides.status, 403)
  const ok = await http(base, 'POST', `/runs/${first.body.runId}/decide`, { key: submitter, body: { step: 'main', choice: 'yes' } })
  assert.equal(ok.status, 200, JSON.stringify(ok.body))
  await waitFor(async () => (await http(base, 'GET', `/runs/${first.body.runId}`, { key: reader })).body.run.state === 'succeeded', 30_000, 'the decided run to finish')
  const out = await http(base, 'GET', `/runs/${first.body.runId}`, { key: reader })
  assert.deepEqual(out.body.output, { choice: 'yes' })
  const twice = await http(base, 'POST', `/runs/${first.body.runId}/decide`, { key: submitter, body: { step: 'main', choice: 'no' } })
  assert.deepEqual([twice.status, twice.body.error.name], [409, 'DecisionNotPendingError'])

  const second = await http(base, 'POST', '/dsl-graph/ask/deploy', { key: submitter, body: { bundle: put.body.cid, wait: true } })
  const cancelled = await http(base, 'POST', `/runs/${second.body.runId}/cancel`, { key: submitter })
  assert.equal(cancelled.status, 200)
  assert.equal(cancelled.body.state, 'cancelled')
  const again = await http(base, 'POST', `/runs/${second.body.runId}/cancel`, { key: submitter })
  assert.deepEqual([again.status, again.body.error.name], [409, 'RunNotResumableError'])
})

test('bad input gets a typed 4xx, never a 500', async () => {
  const cases: Array<[string, string, Parameters<typeof http>[3], number, string]> = [
    ['POST', '/dsl-graph/x/deploy', { key: submitter, raw: '{"dsl": ', headers: { 'content-type': 'application/json' } }, 400, 'MalformedBodyError'],
    ['POST', '/dsl-graph/x/deploy', { key: submitter, raw: '', headers: { 'content-type': 'application/json' } }, 400, 'MalformedBodyError'],
    ['POST', '/dsl-graph/x/deploy', { key: submitter, raw: 'dsl=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'MalformedBodyError'],
    ['POST', '/dsl-graph/x/deploy', { key: submitter, body: { dsl: 'goal: X\nplan:\n  - step: A()\n', surprise: 1 } }, 400, 'RequestValidationError'],
    ['POST', '/dsl-graph/x/deploy', { key: submitter, body: { dsl: 42 } }, 400, 'RequestValidationError'],
    ['POST', '/dsl-graph/x/deploy', { key: submitter, body: [1, 2] }, 400, 'RequestValidationError'],
    ['POST', '/dsl-graph/x/deploy', { key: submitter, body: { dsl: 'goal: [unclosed' } }, 400, 'DslSyntaxError'],
    ['POST', '/dsl-graph/x/deploy', { key: submitter, body: { bundle: 'not-a-cid' } }, 400, 'RequestValidationError'],
    ['POST', '/dsl-graph/x/deploy', { key: submitter, body: { bundle: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' } }, 404, 'BlockNotFoundError'],
    // no graph in the body: the id is looked up in the registry, and `x` names no registered workflow
    ['POST', '/dsl-graph/x/deploy', { key: submitter, body: {} }, 404, 'WorkflowNotFoundInRegistryError'],
    // a workflow.json without its bundle is refused before any registry lookup
    ['POST', '/dsl-graph/x/deploy', { key: submitter, body: { workflow: { name: 'x' } } }, 400, 'NoGraphError'],
    ['POST', '/dsl-graph/x/deploy', { key: submitter, body: { dsl: 'x'.repeat(5 * 1024 * 1024) } }, 413, 'BodyTooLargeError'],
    ['GET', '/blocks/not-a-cid', { key: reader }, 400, 'InvalidEncodingError'],
    ['GET', '/blocks/bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', { key: reader }, 404, 'BlockNotFoundError'],
    ['GET', '/runs/no-such-run', { key: reader }, 404, 'RunNotFoundError'],
    ['GET', '/runs/no-such-run/receipts', { key: reader }, 404, 'RunNotFoundError'],
    ['GET', '/runs/no-such-run/outputs/a', { key: reader }, 404, 'RunNotFoundError'],
    ['GET', '/runs/no-such-run/events?since=-1', { key: reader }, 400, 'RequestValidationError'],
    ['GET', '/runs/no-such-run/events?since=abc', { key: reader }, 400, 'RequestValidationError'],
    ['POST', '/runs/no-such-run/decide', { key: submitter, body: { step: 'a', choice: 'b' } }, 404, 'RunNotFoundError'],
    ['POST', '/runs/no-such-run/decide', { key: submitter, body: { step: 'a' } }, 400, 'RequestValidationError'],
    ['POST', '/runs/no-such-run/cancel', { key: submitter }, 404, 'RunNotFoundError'],
    ['POST', '/blocks', { key: submitter, body: { nodoc: 1 } }, 400, 'MalformedBodyError'],
    ['POST', '/api-keys', { key: admin, body: { name: 'bob', scopes: ['root'] } }, 400, 'RequestValidationError'],
    ['POST', '/api-keys', { key: admin, body: { name: 'bad name!', scopes: ['read'] } }, 400, 'InvalidApiKeyError'],
    ['POST', '/api-keys', { key: admin, body: { name: 'alice', scopes: ['read'] } }, 409, 'ApiKeyExistsError'],
    ['POST', '/api-keys', { key: admin, body: { name: 'agent-x', scopes: ['read'], agent: 'not-a-peer' } }, 400, 'InvalidApiKeyError'],
    ['GET', '/no/such/route', { key: reader }, 404, 'RouteNotFoundError'],
    ['DELETE', '/runs', { key: admin }, 404, 'RouteNotFoundError']
  ]
  for (const [method, path, options, status, name] of cases) {
    const res = await http(base, method, path, options)
    assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`)
    assert.equal(res.body?.error?.name, name, `${method} ${path}: ${JSON.stringify(res.body)}`)
    assert.equal(typeof res.body.error.message, 'string')
  }
})

test('the token bucket (on an injected clock) answers 429 with Retry-After and refills as the clock moves', async () => {
  const { key } = await gw(mesh.nodes[1]).keys.create({ name: 'busy', scopes: ['read'] })
  for (let i = 0; i < 3; i++) assert.equal((await http(limitedBase, 'GET', '/runs', { key })).status, 200)
  const limited = await http(limitedBase, 'GET', '/runs', { key })
  assert.equal(limited.status, 429)
  assert.equal(limited.body.error.name, 'RateLimitedError')
  assert.equal(limited.headers.get('retry-after'), '1')
  // another caller has its own bucket
  const other = (await gw(mesh.nodes[1]).keys.create({ name: 'calm', scopes: ['read'] })).key
  assert.equal((await http(limitedBase, 'GET', '/runs', { key: other })).status, 200)
  clock.advance(1_000)
  assert.equal((await http(limitedBase, 'GET', '/runs', { key })).status, 200)
  assert.equal((await http(limitedBase, 'GET', '/runs', { key })).status, 429)
  clock.advance(10_000)
})

test('requests from an Origin off the allow-list are refused; an allowed origin gets CORS headers and preflights', async () => {
  const { key } = await gw(mesh.nodes[1]).keys.create({ name: 'browser', scopes: ['read'] })
  clock.advance(60_000)
  const evil = await http(limitedBase, 'GET', '/runs', { key, headers: { origin: 'https://evil.example' } })
  assert.deepEqual([evil.status, evil.body.error.name], [403, 'OriginNotAllowedError'])
  const good = await http(limitedBase, 'GET', '/runs', { key, headers: { origin: 'https://console.example' } })
  assert.equal(good.status, 200)
  assert.equal(good.headers.get('access-control-allow-origin'), 'https://console.example')
  const pre = await http(limitedBase, 'OPTIONS', '/runs', { headers: { origin: 'https://console.example', 'access-control-request-method': 'GET' } })
  assert.equal(pre.status, 204)
  assert.match(pre.headers.get('access-control-allow-headers') ?? '', /authorization/)
  // node 0 has no allow-list: any browser origin is refused, CORS stays off
  const off = await http(base, 'GET', '/runs', { key: reader, headers: { origin: 'https://console.example' } })
  assert.equal(off.status, 403)
  assert.equal(off.headers.get('access-control-allow-origin'), null)
})

test('an agent that signs its requests is authenticated by its registered PeerId and is the requester of record; replays and mismatches are refused', async () => {
  const agent = await createIdentity()
  const registry = mesh.nodes[0].components.registry
  const signed = (method: string, path: string, body?: unknown): string => JSON.stringify(signEnvelope(agent, registry, 'GatewayRequest.v1', { method, path, ...(body !== undefined ? { body } : {}) }))
  const headers = { 'content-type': ENVELOPE_CONTENT_TYPE }
  const dsl = 'goal: Nobody\nplan:\n  - step: NoSuchCapability()\n'
  const stranger = await http(base, 'POST', '/dsl-graph/a/deploy', { raw: signed('POST', '/dsl-graph/a/deploy', { dsl }), headers })
  assert.deepEqual([stranger.status, stranger.body.error.name], [401, 'UnknownAgentError'])
  const reg = await http(base, 'POST', '/api-keys', { key: admin, body: { name: 'agent-1', scopes: ['read', 'submit'], agent: agent.id } })
  assert.equal(reg.status, 200, JSON.stringify(reg.body))
  const env = signed('POST', '/dsl-graph/a/deploy', { dsl })
  const ok = await http(base, 'POST', '/dsl-graph/a/deploy', { raw: env, headers })
  assert.equal(ok.status, 200, JSON.stringify(ok.body))
  const view = await http(base, 'GET', `/runs/${ok.body.runId}`, { key: reader })
  assert.equal(view.body.requester.agent, agent.id)
  assert.equal(view.body.requester.kind, 'agent')
  const replay = await http(base, 'POST', '/dsl-graph/a/deploy', { raw: env, headers })
  assert.deepEqual([replay.status, replay.body.error.name], [401, 'UnknownAgentError'])
  assert.match(replay.body.error.message, /replay/)
  const moved = await http(base, 'POST', '/dsl-graph/b/deploy', { raw: signed('POST', '/dsl-graph/a/deploy', { dsl }), headers })
  assert.deepEqual([moved.status, moved.body.error.name], [400, 'SignedRequestMismatchError'])
  const tampered = JSON.parse(signed('POST', '/dsl-graph/a/deploy', { dsl }))
  tampered.body.body.dsl = 'goal: Other\nplan:\n  - step: B()\n'
  const bad = await http(base, 'POST', '/dsl-graph/a/deploy', { raw: JSON.stringify(tampered), headers })
  assert.deepEqual([bad.status, bad.body.error.name], [401, 'UnknownAgentError'])
  // without a body: the envelope travels in the Authorization header
  const path = `/runs/${ok.body.runId as string}`
  const getEnv = Buffer.from(signed('GET', path)).toString('base64url')
  const got = await http(base, 'GET', path, { headers: { authorization: `PL-Envelope ${getEnv}` } })
  assert.equal(got.status, 200, JSON.stringify(got.body))
  const noScope = Buffer.from(signed('DELETE', '/api-keys/alice')).toString('base64url')
  const denied = await http(base, 'DELETE', '/api-keys/alice', { headers: { authorization: `pl-envelope ${noScope}` } })
  assert.deepEqual([denied.status, denied.body.error.name], [403, 'MissingScopeError'])
})

test('GET /openapi.json is OpenAPI 3.1, lists every registered route, and @redocly/cli lint finds no error', async () => {
  const doc = await http(base, 'GET', '/openapi.json')
  assert.equal(doc.status, 200)
  assert.equal(doc.body.openapi, '3.1.0')
  const routes = gw(mesh.nodes[0]).routes
  assert.ok(routes.length >= 15)
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z_]+)/g, '{$1}')
    assert.ok(doc.body.paths[path]?.[r.method.toLowerCase()] != null, `${r.method} ${r.url} is missing from the OpenAPI document`)
  }
  const file = join(tmp.dir, 'openapi.json')
  await writeFile(file, JSON.stringify(doc.body))
  const cli = resolve('node_modules/@redocly/cli/bin/cli.js')
  const { code, out } = await new Promise<{ code: number | null, out: string }>((resolve) => {
    const p = spawn(process.execPath, [cli, 'lint', file, '--format=stylish'], { env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', CI: 'true' } })
    let out = ''
    p.stdout.on('data', (d: Buffer) => { out += d.toString() })
    p.stderr.on('data', (d: Buffer) => { out += d.toString() })
    p.on('exit', (c) => { resolve({ code: c, out }) })
  })
  assert.equal(code, 0, out)
  assert.doesNotMatch(out, /\berror\b.*\d+ error/i)
})
