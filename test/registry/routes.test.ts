import { join } from 'node:path'
import { packageRoot } from '../../src/core/paths.js'
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import { tempDir } from '../helpers/tmp.js'
import { registryRoutes } from '../../src/registry/index.js'
import type { PlNode } from '../../src/node.js'
import type { Scope } from '../../src/gateway/types.js'
import { diamondBundle, PLAN, reg, registryNode } from './helpers.js'
import type { ExecService } from '../../src/exec/index.js'

/**
 * The plugin on a bare Fastify: a test onRequest hook stands in for the
 * gateway's authentication (principal from headers, scope from the route
 * config) and an error handler answers {error: {name, message, details}}.
 */
let node: PlNode
let app: FastifyInstance
let cleanup: () => Promise<void>
const routes: Array<{ method: string, url: string, scope?: string, schema?: any }> = []

before(async () => {
  const t = await tempDir()
  cleanup = t.cleanup
  node = await registryNode(t.dir, { maxBundleBytes: 64 * 1024, findTimeoutMs: 3_000 })
  app = Fastify()
  app.addHook('onRoute', (r) => { routes.push({ method: String(r.method), url: r.url, scope: r.config?.scope, schema: r.schema }) })
  app.addHook('onRequest', async (request, reply) => {
    const scopes = String(request.headers['x-scopes'] ?? '').split(',').filter(s => s !== '') as Scope[]
    const need = request.routeOptions.config.scope
    if (need == null) return await reply.code(500).send({ error: { name: 'NoScopeDeclared', message: request.url } })
    if (need !== 'public' && !scopes.includes(need)) return await reply.code(403).send({ error: { name: 'ForbiddenError', message: `needs ${need}` } })
    request.principal = { name: String(request.headers['x-key'] ?? 'test-key'), kind: 'api-key', scopes }
  })
  app.setErrorHandler(async (err: any, _request, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    return await reply.code(status).send({ error: { name: err.code === 'FST_ERR_VALIDATION' ? 'ValidationError' : err.name, message: err.message, details: err.details } })
  })
  await app.register(registryRoutes({ registry: reg(node) }))
  await app.ready()
})

after(async () => {
  await app.close()
  await node.stop()
  await cleanup()
})

const ALL = 'read,submit,publish'
async function call (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, scopes = ALL, extra: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method, url, headers: { 'x-scopes': scopes, ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}), ...extra }, payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) })
}
function errName (res: LightMyRequestResponse): string { return res.json().error?.name }

function multipart (parts: Array<{ name: string, filename?: string, data: Uint8Array | string }>): { payload: Buffer, headers: Record<string, string> } {
  const boundary = '----pltest' + Math.random().toString(16).slice(2)
  const chunks: Buffer[] = []
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename != null ? `; filename="${p.filename}"\r\nContent-Type: application/zip` : ''}\r\n\r\n`))
    chunks.push(Buffer.from(p.data))
    chunks.push(Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }
}
async function upload (parts: Parameters<typeof multipart>[0], scopes = ALL): Promise<LightMyRequestResponse> {
  const m = multipart(parts)
  return await app.inject({ method: 'POST', url: '/uploadWorkflow', payload: m.payload, headers: { ...m.headers, 'x-scopes': scopes } })
}

test('every route declares a scope and JSON schemas for its params, body and answers', () => {
  const expected = ['GET /workflows', 'POST /workflows/query', 'GET /workflows/:workflow_id', 'GET /workflows/:workflow_id/versions', 'POST /workflows', 'PUT /workflows/:workflow_id', 'DELETE /workflows/:workflow_id', 'POST /uploadWorkflow', 'POST /dsl-executor/:workflow_id/execute_dsl', 'POST /dsl-executor/:workflow_id/create-infra', 'DELETE /dsl-executor/:workflow_id/remove-infra']
  const got = routes.filter(r => r.method !== 'HEAD').map(r => `${r.method} ${r.url}`)
  assert.deepEqual(got.sort(), expected.sort())
  for (const r of routes) {
    assert.ok(['read', 'submit', 'publish', 'admin'].includes(r.scope ?? ''), `${r.method} ${r.url} declares a scope`)
    assert.ok(r.schema?.response?.[200] != null, `${r.method} ${r.url} has a response schema`)
    if (r.url.includes(':workflow_id')) assert.ok(r.schema?.params != null, `${r.method} ${r.url} has a params schema`)
  }
})

test('register, read, version and delete over HTTP with the publisher named from the principal', async () => {
  let res = await call('POST', '/workflows', { plan: PLAN, workflow_id: 'http-wf', releaseTag: 'beta' }, ALL, { 'x-key': 'alice' })
  assert.equal(res.statusCode, 201, res.body)
  const rec = res.json()
  assert.equal(rec.publisher, 'alice')
  assert.equal(rec.version, '1.0.0')
  assert.equal(rec.envelope.type, 'WorkflowRecord.v1')
  res = await call('POST', '/workflows', { plan: PLAN, workflow_id: 'http-wf', releaseTag: 'beta' })
  assert.equal(res.statusCode, 200, 'the same registration again is idempotent')
  assert.equal(res.json().record, rec.record)
  res = await call('GET', '/workflows/http-wf')
  assert.equal(res.statusCode, 200)
  assert.equal(res.json().record, rec.record)
  assert.equal(res.json().deleted, false)
  res = await call('PUT', '/workflows/http-wf', { plan: PLAN + '#2\n', version: '0.9.0' })
  assert.equal(res.statusCode, 409)
  assert.equal(errName(res), 'WorkflowVersionConflictError')
  res = await call('PUT', '/workflows/http-wf', { plan: PLAN + '#2\n', version: '1.2.0' })
  assert.equal(res.statusCode, 201)
  res = await call('GET', '/workflows/http-wf?version=1.0.0')
  assert.equal(res.json().version, '1.0.0')
  res = await call('GET', '/workflows/http-wf/versions')
  assert.deepEqual(res.json().versions.map((v: any) => v.version), ['1.0.0', '1.2.0'])
  res = await call('GET', '/workflows')
  assert.ok(res.json().workflows.some((w: any) => w.workflow_id === 'http-wf' && w.version === '1.2.0'))
  res = await call('DELETE', '/workflows/http-wf?purge=1')
  assert.equal(res.statusCode, 403)
  assert.equal(errName(res), 'PurgeForbiddenError')
  res = await call('DELETE', '/workflows/http-wf')
  assert.equal(res.statusCode, 200)
  assert.equal(res.json().tombstone.tombstone, true)
  res = await call('GET', '/workflows/http-wf')
  assert.equal(res.statusCode, 410)
  assert.equal(errName(res), 'WorkflowDeletedError')
  res = await call('DELETE', '/workflows/http-wf?purge=1', undefined, 'read,publish,admin')
  assert.equal(res.statusCode, 200)
  assert.equal(res.json().purged, true)
})

test('wrong scopes are refused before the handler: read cannot publish, publish cannot run', async () => {
  assert.equal((await call('POST', '/workflows', { plan: PLAN, workflow_id: 'x' }, 'read')).statusCode, 403)
  assert.equal((await upload([{ name: 'file', filename: 'b.zip', data: await diamondBundle() }], 'read,submit')).statusCode, 403)
  assert.equal((await call('POST', '/dsl-executor/x/execute_dsl', {}, 'read,publish')).statusCode, 403)
  assert.equal((await call('GET', '/workflows', undefined, 'submit')).statusCode, 403)
})

test('bad input is a typed 4xx, never a 500', async () => {
  const cases: Array<[string, Promise<LightMyRequestResponse>, number, string?]> = [
    ['no body', call('POST', '/workflows'), 400],
    ['JSON null body', call('POST', '/workflows', 'null', ALL, { 'content-type': 'application/json' }), 400],
    ['malformed JSON', call('POST', '/workflows', '{"plan": ', ALL, { 'content-type': 'application/json' }), 400],
    ['wrong type', call('POST', '/workflows', { plan: 5, workflow_id: 'x' }), 400, 'ValidationError'],
    ['unknown field', call('POST', '/workflows', { plan: PLAN, workflow_id: 'x', owner: 'me' }), 400, 'ValidationError'],
    ['both plan and bundle', call('POST', '/workflows', { plan: PLAN, bundle: 'AAAA', workflow_id: 'x' }), 400],
    ['neither plan nor bundle', call('POST', '/workflows', { workflow_id: 'x' }), 400],
    ['bad base64', call('POST', '/workflows', { bundle: '!!!!', workflow_id: 'x' }), 400, 'InvalidWorkflowRequestError'],
    ['not a zip', call('POST', '/workflows', { bundle: Buffer.from('hello world!').toString('base64'), workflow_id: 'x' }), 400, 'InvalidWorkflowBundleError'],
    ['bad DSL', call('POST', '/workflows', { plan: 'goal: [', workflow_id: 'x' }), 400, 'InvalidWorkflowBundleError'],
    ['no workflow id', call('POST', '/workflows', { plan: PLAN }), 400, 'InvalidWorkflowRequestError'],
    ['bad id in the path', call('GET', '/workflows/..%2Fetc'), 400],
    ['bad version', call('POST', '/workflows', { plan: PLAN, workflow_id: 'x', version: 'one.two.three' }), 400, 'InvalidWorkflowVersionError'],
    ['bad version in the query', call('GET', '/workflows/x?version=abc'), 400],
    ['unknown query parameter', call('GET', '/workflows/x?evil=1'), 400],
    ['oversized body', call('POST', '/workflows', { plan: 'x'.repeat(200 * 1024), workflow_id: 'x' }), 413],
    ['oversized plan', call('POST', '/workflows', { plan: 'goal: G\n#' + 'x'.repeat(70 * 1024), workflow_id: 'x' }), 413, 'WorkflowBundleTooLargeError'],
    ['unknown workflow', call('GET', '/workflows/no-such-workflow'), 404, 'WorkflowNotFoundInRegistryError'],
    ['PUT of an unknown workflow', call('PUT', '/workflows/no-such-workflow', { plan: PLAN, version: '2.0.0' }), 404],
    ['DELETE of an unknown workflow', call('DELETE', '/workflows/no-such-workflow'), 404],
    ['run of an unknown workflow', call('POST', '/dsl-executor/no-such-workflow/execute_dsl', { input: {} }), 404],
    ['run with unknown fields', call('POST', '/dsl-executor/x/execute_dsl', { input: {}, code: 'rm -rf /' }), 400],
    ['run with a non-object input', call('POST', '/dsl-executor/x/execute_dsl', { input: [1] }), 400],
    ['query with a bad limit', call('POST', '/workflows/query', { limit: 1001 }), 400],
    ['query with a bad cursor', call('POST', '/workflows/query', { cursor: 'bm90LWEtY3Vyc29y' }), 400, 'InvalidQueryCursorError']
  ]
  for (const [what, p, status, name] of cases) {
    const res = await p
    assert.equal(res.statusCode, status, `${what}: ${res.body}`)
    if (name != null) assert.equal(errName(res), name, what)
  }
})

test('upload: multipart field "file", zip-safety checks, idempotent, size limit', async () => {
  const zip = await diamondBundle()
  let res = await upload([{ name: 'file', filename: 'diamond.zip', data: zip }])
  assert.equal(res.statusCode, 201, res.body)
  assert.equal(res.json().workflow_id, 'diamond')
  assert.equal(res.json().publisher, 'test-key')
  res = await upload([{ name: 'file', filename: 'diamond.zip', data: zip }])
  assert.equal(res.statusCode, 200, 'idempotent')
  res = await upload([{ name: 'version', data: '1.0.1' }, { name: 'file', filename: 'diamond.zip', data: zip }])
  assert.equal(res.statusCode, 201, 'a greater version of the same bundle')
  assert.equal(res.json().version, '1.0.1')
  const slip = new Uint8Array(await readFile(join(packageRoot(), 'test', 'fixtures', 'bad', 'zip-slip.zip')))
  res = await upload([{ name: 'workflow_id', data: 'slip' }, { name: 'file', filename: 'slip.zip', data: slip }])
  assert.equal(res.statusCode, 400)
  assert.equal(errName(res), 'InvalidWorkflowBundleError')
  assert.equal(res.json().error.details.cause, 'UnsafeZipPathError')
  res = await upload([{ name: 'upload', filename: 'x.zip', data: zip }])
  assert.equal(res.statusCode, 400)
  assert.equal(errName(res), 'InvalidWorkflowRequestError')
  res = await upload([{ name: 'owner', data: 'me' }, { name: 'file', filename: 'x.zip', data: zip }])
  assert.equal(res.statusCode, 400)
  res = await upload([{ name: 'workflow_id', data: 'x' }])
  assert.equal(res.statusCode, 400)
  res = await upload([{ name: 'file', filename: 'big.zip', data: new Uint8Array(64 * 1024 + 10) }])
  assert.equal(res.statusCode, 413)
  assert.equal(errName(res), 'WorkflowBundleTooLargeError')
  res = await app.inject({ method: 'POST', url: '/uploadWorkflow', payload: { file: 'x' }, headers: { 'x-scopes': ALL } })
  assert.ok(res.statusCode >= 400 && res.statusCode < 500, `not multipart: ${res.statusCode}`)
})

test('query over HTTP: filters, sort, paging; injection attempts are typed 400s', async () => {
  for (const [id, tag] of [['q-alpha', 'x'], ['q-beta', 'y'], ['q-gamma', 'x']]) {
    const res = await call('POST', '/workflows', { plan: PLAN.replace('SummarizeDocument', `Goal${tag}`), workflow_id: id })
    assert.ok(res.statusCode < 300, res.body)
  }
  let res = await call('POST', '/workflows/query', { filter: { workflow_id: { $prefix: 'q-' }, name: 'Goalx' }, sort: { workflow_id: -1 } })
  assert.equal(res.statusCode, 200, res.body)
  assert.deepEqual(res.json().results.map((r: any) => r.workflow_id), ['q-gamma', 'q-alpha'])
  res = await call('POST', '/workflows/query', { filter: { workflow_id: { $prefix: 'q-' } }, limit: 2 })
  assert.deepEqual(res.json().results.map((r: any) => r.workflow_id), ['q-alpha', 'q-beta'])
  assert.equal(res.json().total, 3)
  res = await call('POST', '/workflows/query', { filter: { workflow_id: { $prefix: 'q-' } }, limit: 2, cursor: res.json().next })
  assert.deepEqual(res.json().results.map((r: any) => r.workflow_id), ['q-gamma'])
  assert.equal(res.json().next, undefined)
  const attacks: Array<[string, string]> = [
    ['{"filter": {"$where": "this.publisher == \'x\'"}}', 'UnknownQueryOperatorError'],
    ['{"filter": {"name": {"$regex": "^.*$"}}}', 'UnknownQueryOperatorError'],
    ['{"filter": {"$expr": {"$function": "return 1"}}}', 'UnknownQueryOperatorError'],
    ['{"filter": {"constructor": {"prototype": {"x": 1}}}}', ''],
    ['{"filter": {"__proto__": {"polluted": true}}}', ''],
    ['{"filter": {"name": {"$in": "not-an-array"}}}', 'InvalidQueryOperandError'],
    ['{"filter": {"name": {"$eq": {"$gt": ""}}}}', 'InvalidQueryOperandError'],
    ['{"filter": {"password": "x"}}', 'ForbiddenQueryKeyError'],
    [JSON.stringify({ filter: { $and: [{ $and: [{ $and: [{ $and: [{ name: 'x' }] }] }] }] } }), 'QueryTooDeepError'],
    [JSON.stringify({ filter: { name: { $in: Array.from({ length: 1001 }, (_, i) => String(i)) } } }), 'QueryTooLargeError'],
    ['{"filter": {"name": "x"}, "sort": {"name": 1}, "evil": 1}', 'ValidationError']
  ]
  for (const [body, name] of attacks) {
    res = await call('POST', '/workflows/query', body, ALL, { 'content-type': 'application/json' })
    assert.equal(res.statusCode, 400, `${body}: ${res.body}`)
    if (name !== '') assert.equal(errName(res), name, body)
  }
  assert.equal(({} as any).polluted, undefined, 'no prototype pollution')
})

test('dsl-executor: run a registered workflow (wait and no wait), warm and release its executor', async () => {
  let res = await upload([{ name: 'file', filename: 'diamond.zip', data: await diamondBundle() }])
  assert.ok(res.statusCode < 300)
  res = await call('POST', '/dsl-executor/diamond/execute_dsl', { input: { number: 5 }, wait: true, version: '1.0.0' })
  assert.equal(res.statusCode, 200, res.body)
  assert.equal(res.json().state, 'succeeded')
  assert.deepEqual(res.json().output, { number: 18 })
  res = await call('POST', '/dsl-executor/diamond/execute_dsl', { input: { number: 1 } })
  assert.equal(res.statusCode, 200)
  assert.match(res.json().runId, /^r/)
  assert.equal(res.json().state, undefined)
  await node.service<ExecService>('exec').executor.wait(res.json().runId)
  res = await call('POST', '/dsl-executor/diamond/execute_dsl', { input: {}, addons: { llm: ['gpt'] } })
  assert.equal(res.statusCode, 400)
  assert.equal(errName(res), 'RunAddonMissingError')
  res = await call('POST', '/dsl-executor/diamond/create-infra', { version: '1.0.0' })
  assert.equal(res.statusCode, 200, res.body)
  const report = res.json()
  assert.deepEqual(Object.keys(report.modules).sort(), ['dbl', 'inc', 'start', 'sum'])
  assert.equal(report.ready, true)
  assert.ok(typeof report.unpacked === 'string')
  // every module's runner is up before the first warm run (started now, or idle from the runs above)
  const pool = node.service<ExecService>('exec').executor.pool
  assert.deepEqual(report.pools.modules.map((m: any) => m.module).sort(), ['dbl', 'inc', 'start', 'sum'])
  for (const m of report.pools.modules) assert.ok(m.started === true || /idle already/.test(m.reason), JSON.stringify(m))
  assert.ok(pool.sandbox.size >= 4, `${String(pool.sandbox.size)} sandboxed runners`)
  res = await call('POST', '/dsl-executor/diamond/execute_dsl', { input: { number: 2 }, wait: true })
  assert.equal(res.json().state, 'succeeded', 'a warm run')
  assert.deepEqual(res.json().output, { number: 9 }) // (2 + 3) + 2 * 2
  res = await call('DELETE', '/dsl-executor/diamond/remove-infra')
  assert.deepEqual(res.json(), { workflow_id: 'diamond', released: true })
  assert.equal(pool.sandbox.size, 0, 'remove-infra closes the idle runners it warmed')
  // a second create-infra on a cold pool starts every runner itself
  res = await call('POST', '/dsl-executor/diamond/create-infra', { version: '1.0.0' })
  assert.deepEqual(res.json().pools.modules.map((m: any) => m.started), [true, true, true, true], JSON.stringify(res.json().pools))
  assert.equal(res.json().pools.started, true)
  assert.equal(pool.sandbox.size, 4)
  res = await call('DELETE', '/dsl-executor/diamond/remove-infra')
  assert.equal(pool.sandbox.size, 0)
  res = await call('DELETE', '/dsl-executor/diamond/remove-infra')
  assert.deepEqual(res.json(), { workflow_id: 'diamond', released: false })
  // a plan's steps are negotiated: without a discovery service nothing is ready
  await call('POST', '/workflows', { plan: PLAN, workflow_id: 'neg' })
  res = await call('POST', '/dsl-executor/neg/create-infra')
  assert.equal(res.statusCode, 200, res.body)
  assert.equal(res.json().ready, false)
  assert.deepEqual(res.json().negotiated.map((s: any) => s.capability).sort(), ['FetchSections', 'MergeSummaries'])
  await call('DELETE', '/dsl-executor/neg/remove-infra')
})
