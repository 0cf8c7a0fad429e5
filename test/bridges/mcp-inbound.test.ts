/**
 * MCP inbound: the official SDK client lists and calls the mesh's tools on
 * node 0, over streamable HTTP (`/mcp` on the gateway) and over stdio
 * (`pl mcp` as a real process proxying to it). The capability `Double` is
 * provided by node 1 only: node 0 brokers it (negotiation, receipts).
 * Hostile calls get MCP errors, are counted, and the node keeps serving.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js'
import type { TestMesh } from '../helpers/mesh.js'
import { tempDir } from '../helpers/tmp.js'
import { PL } from '../helpers/proc.js'
import type { Discovery } from '../../src/discovery/index.js'
import { META_RECEIPT_ROOT, META_RUN } from '../../src/bridges/mcp/index.js'
import { gw } from '../gateway/helpers.js'
import { startMcpMesh, waitForProviders } from './mcp-helpers.js'

let mesh: TestMesh
let cleanup: () => Promise<void>
let endpoint: URL
let submitKey: string
let readKey: string
const clients: Client[] = []

const doubleIo = {
  input: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false },
  output: { type: 'object', properties: { doubled: { type: 'integer' } }, required: ['doubled'] }
}

before(async () => {
  const tmp = await tempDir('pl-mcp-in-')
  cleanup = tmp.cleanup
  mesh = await startMcpMesh(2)
  await mesh.connected(1)
  const dir = join(tmp.dir, 'double')
  await mkdir(dir)
  await writeFile(join(dir, 'function.mjs'), 'export default class D { async eval (p, input) { return { doubled: input.n * 2 } } }\n')
  await mesh.nodes[1].service<Discovery>('discovery').publish({ name: 'Double', version: '1.0.0', description: 'Doubles n', io: doubleIo }, { dir })
  await waitForProviders(mesh.nodes[0], 'Double')
  const keys = gw(mesh.nodes[0]).keys
  submitKey = (await keys.create({ name: 'agent', scopes: ['read', 'submit'] })).key
  readKey = (await keys.create({ name: 'reader', scopes: ['read'] })).key
  endpoint = new URL(`${gw(mesh.nodes[0]).address as string}/mcp`)
})

after(async () => {
  await Promise.allSettled(clients.map(async c => await c.close()))
  await mesh?.stop()
  await cleanup?.()
})

async function httpClient (key?: string): Promise<Client> {
  const client = new Client({ name: 'test', version: '1' })
  const transport = new StreamableHTTPClientTransport(endpoint, key != null ? { requestInit: { headers: { authorization: `Bearer ${key}` } } } : undefined)
  await client.connect(transport)
  clients.push(client)
  return client
}

async function callDouble (client: Client): Promise<void> {
  const progress: string[] = []
  // The SDK client hands a notification to its handler a microtask later but a response at once: when
  // the last progress notification and the answer arrive in one read (stdio does that), the client has
  // already retired the token and reports the notification through onerror instead
  // (modelcontextprotocol/typescript-sdk#2580). The server cannot prevent it; the test takes either path.
  const late: string[] = []
  const onerror = client.onerror
  client.onerror = (err) => { if (/progress notification for an unknown token/.test(err.message)) late.push(err.message); else onerror?.(err) }
  const res = await client.callTool({ name: 'Double', arguments: { n: 21 } }, undefined, { onprogress: (p) => { progress.push(p.message ?? '') }, timeout: 120_000 })
  await new Promise(resolve => setImmediate(resolve))
  client.onerror = onerror
  assert.notEqual(res.isError, true, JSON.stringify(res))
  assert.deepEqual(res.structuredContent, { doubled: 42 })
  const meta = res._meta as Record<string, string>
  assert.match(meta[META_RUN], /^r/)
  assert.match(meta[META_RECEIPT_ROOT], /^b[a-z2-7]+$/)
  assert.ok(progress.some(m => /step .* started/.test(m)) && (progress.some(m => /run finished/.test(m)) || late.some(m => /run finished/.test(m))), `progress notifications: ${JSON.stringify(progress)}, late: ${JSON.stringify(late)}`)
  // the receipts of that run verify; their root is the one the call answered
  const v = await client.callTool({ name: 'verify_receipts', arguments: { run: meta[META_RUN] } })
  assert.deepEqual(v.structuredContent, { ok: true, run: meta[META_RUN], root: meta[META_RECEIPT_ROOT], receipts: 1 })
}

test('over streamable HTTP the SDK client lists one tool per brokered capability (with its io schemas) and the built-in tools', async () => {
  const client = await httpClient(submitKey)
  const { tools } = await client.listTools()
  const names = tools.map(t => t.name)
  for (const n of ['find_capabilities', 'run_plan', 'get_run', 'decide', 'verify_receipts', 'Double']) assert.ok(names.includes(n), `${n} in ${names.join(', ')}`)
  const double = tools.find(t => t.name === 'Double')
  assert.deepEqual(double?.inputSchema, doubleIo.input)
  assert.deepEqual(double?.outputSchema, doubleIo.output)
  assert.match(double?.description ?? '', /Doubles n/)
})

test('over streamable HTTP a capability tool runs a negotiated step on the provider node: output, progress, run id, receipt root', async () => {
  const client = await httpClient(submitKey)
  await callDouble(client)
  const found = await client.callTool({ name: 'find_capabilities', arguments: { name: 'Double', local: true } })
  const list = (found.structuredContent as { found: Array<{ provider: string }> }).found
  assert.ok(list.some(f => f.provider === mesh.nodes[1].peerId), JSON.stringify(list))
})

test('run_plan runs DSL text; get_run answers the same run', async () => {
  const client = await httpClient(submitKey)
  const res = await client.callTool({ name: 'run_plan', arguments: { dsl: 'goal: Twice\nplan:\n  - step: Double()\n', input: { n: 5 } } }, undefined, { timeout: 120_000 })
  const r = res.structuredContent as { run: string, state: string, output: unknown, receiptRoot: string }
  assert.equal(r.state, 'succeeded', JSON.stringify(r))
  assert.deepEqual(r.output, { doubled: 10 })
  const again = await client.callTool({ name: 'get_run', arguments: { run: r.run } })
  assert.equal((again.structuredContent as { receiptRoot: string }).receiptRoot, r.receiptRoot)
  const bad = await client.callTool({ name: 'run_plan', arguments: { dsl: 'goal: [unclosed' } })
  assert.equal(bad.isError, true)
  assert.match(JSON.stringify(bad.content), /Dsl\w*Error/)
})

test('over stdio, `pl mcp` as a real process serves the same tools to the SDK client', async () => {
  const client = new Client({ name: 'desktop', version: '1' })
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [PL, 'mcp', '--url', endpoint.href], env: { ...process.env as Record<string, string>, PL_API_KEY: submitKey }, stderr: 'pipe' }))
  clients.push(client)
  const { tools } = await client.listTools()
  assert.ok(tools.some(t => t.name === 'Double'))
  await callDouble(client)
  await assert.rejects(client.callTool({ name: 'NoSuchTool', arguments: {} }), (err: any) => err instanceof McpError && err.code === ErrorCode.InvalidParams)
})

test('`pl mcp` with a wrong key answers each request with an MCP error instead of hanging', async () => {
  const client = new Client({ name: 'desktop', version: '1' })
  const connecting = client.connect(new StdioClientTransport({ command: process.execPath, args: [PL, 'mcp', '--url', endpoint.href, '--key', 'plk_0000000000000000_wrongwrongwrongwrongwrongwrongwr'], stderr: 'pipe' }))
  clients.push(client)
  await assert.rejects(connecting, (err: any) => err instanceof McpError && /refused or is unreachable.*UnknownApiKeyError/s.test(err.message))
})

test('hostile calls get MCP errors, are counted, and the node keeps serving', async () => {
  const before = await mesh.nodes[0].components.metrics.rejections()
  const client = await httpClient(submitKey)
  // arguments failing the capability's input schema
  await assert.rejects(client.callTool({ name: 'Double', arguments: { n: 'many' } }), (err: any) => err instanceof McpError && err.code === ErrorCode.InvalidParams && /input schema/.test(err.message) && (err.data as any)?.name === 'McpInvalidArgumentsError')
  await assert.rejects(client.callTool({ name: 'Double', arguments: { n: 1, extra: true } }), (err: any) => err instanceof McpError && err.code === ErrorCode.InvalidParams)
  await assert.rejects(client.callTool({ name: 'decide', arguments: { run: 'x' } }), (err: any) => err instanceof McpError && err.code === ErrorCode.InvalidParams)
  // unknown tool
  await assert.rejects(client.callTool({ name: 'rm -rf', arguments: {} }), (err: any) => err instanceof McpError && err.code === ErrorCode.InvalidParams && (err.data as any)?.name === 'McpUnknownToolError')
  // a read-only key may list and read, not run
  const reader = await httpClient(readKey)
  assert.ok((await reader.listTools()).tools.length > 0)
  await assert.rejects(reader.callTool({ name: 'Double', arguments: { n: 1 } }), (err: any) => err instanceof McpError && (err.data as any)?.name === 'McpScopeError')
  // no key, a wrong key: HTTP 401 with a JSON-RPC error body
  await assert.rejects(httpClient(), /MissingCredentialsError/)
  await assert.rejects(httpClient('plk_0000000000000000_wrongwrongwrongwrongwrongwrongwr'), /UnknownApiKeyError/)
  const raw = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) })
  assert.equal(raw.status, 401)
  const body = await raw.json() as { jsonrpc: string, error: { code: number, data: { name: string } } }
  assert.equal(body.jsonrpc, '2.0')
  assert.equal(body.error.data.name, 'MissingCredentialsError')
  // a body that is no JSON-RPC message
  const junk = await fetch(endpoint, { method: 'POST', headers: { authorization: `Bearer ${submitKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '"hello"' })
  assert.equal(junk.status, 400)
  assert.equal((await junk.json() as { error: { code: number } }).error.code, -32600)
  const get = await fetch(endpoint, { headers: { authorization: `Bearer ${submitKey}`, accept: 'text/event-stream' } })
  assert.equal(get.status, 405)
  const after = await mesh.nodes[0].components.metrics.rejections()
  const grew = (name: string): number => (after[`mcp/${name}`] ?? 0) - (before[`mcp/${name}`] ?? 0)
  assert.ok(grew('McpInvalidArgumentsError') >= 3, JSON.stringify(after))
  assert.ok(grew('McpUnknownToolError') >= 1)
  assert.ok(grew('McpScopeError') >= 1)
  assert.ok(grew('MissingCredentialsError') >= 1 && grew('UnknownApiKeyError') >= 1, JSON.stringify(after))
  // still serving
  await callDouble(client)
})

test('the operator-only publish route is not on the gateway: a remote caller cannot make the node start a process', async () => {
  for (const path of ['/mcp/publish', '/caps']) {
    const res = await fetch(new URL(path, endpoint), { method: 'POST', headers: { authorization: `Bearer ${submitKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ target: 'touch /tmp/pwned' }) })
    assert.equal(res.status, 404, path)
  }
})

test('a run that asks a human decision answers its question; decide answers it and the run ends', async () => {
  const tmp = await tempDir('pl-mcp-ask-')
  try {
    const dir = join(tmp.dir, 'ask')
    await mkdir(dir)
    await writeFile(join(dir, 'function.mjs'), "export default class A { async eval (p, input, context) { const c = await context.human.ask({ question: 'Ship?', choices: ['yes', 'no'] }); return { choice: c } } }\n")
    await mesh.nodes[0].service<Discovery>('discovery').publish({ name: 'Ask', version: '1.0.0', io: { input: { type: 'object' }, output: { type: 'object' } } }, { dir })
    const client = await httpClient(submitKey)
    const first = await client.callTool({ name: 'run_plan', arguments: { dsl: 'goal: Ask\nplan:\n  - step: Ask()\n' } }, undefined, { timeout: 120_000 })
    const asked = first.structuredContent as { run: string, state: string, waiting: Array<{ key: string, question: string, choices: string[] }> }
    assert.equal(asked.state, 'waiting-human', JSON.stringify(asked))
    assert.deepEqual([asked.waiting[0].question, asked.waiting[0].choices], ['Ship?', ['yes', 'no']])
    const done = await client.callTool({ name: 'decide', arguments: { run: asked.run, step: asked.waiting[0].key, choice: 'yes' } }, undefined, { timeout: 120_000 })
    const r = done.structuredContent as { state: string, output: unknown }
    assert.equal(r.state, 'succeeded', JSON.stringify(r))
    assert.deepEqual(r.output, { choice: 'yes' })
  } finally {
    await tmp.cleanup()
  }
})
