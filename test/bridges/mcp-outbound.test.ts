/**
 * MCP outbound: an MCP server written with the official SDK (a real stdio
 * process, test/bridges/mcp-fixture-server.ts) is published as capabilities
 * (one per tool) on provider nodes and called from DSL plans on another
 * node. Receipts name the server and tool in `via`. A server that hangs or
 * answers garbage fails the step retryably and the requester fails over to
 * the backup provider; a server that dies is restarted on the next call.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import type { TestMesh } from '../helpers/mesh.js'
import type { PlNode } from '../../src/node.js'
import { compileDsl } from '../../src/workflow/index.js'
import { externalModuleSpec } from '../../src/core/index.js'
import type { ReceiptsService } from '../../src/receipts/index.js'
import type { Discovery } from '../../src/discovery/index.js'
import { mcpTarget, splitArgv, type McpBridge } from '../../src/bridges/mcp/index.js'
import { executor, FIXTURE, fixtureCommand, startMcpMesh, waitForProviders } from './mcp-helpers.js'

let mesh: TestMesh
const ok = fixtureCommand('ok')

before(async () => {
  mesh = await startMcpMesh(3, (i) => i === 1 ? { callTimeoutMs: 3_000 } : {})
  await mesh.connected(1)
  const [, n1, n2] = mesh.nodes
  // node 1: the good server's tools as they are; a hanging and a garbage-speaking server as cheap offers
  await bridge(n1).publish({ target: ok, price: 1 })
  await bridge(n1).publish({ target: fixtureCommand('hang'), prefix: 'H', tools: ['echo'], price: 1 })
  await bridge(n1).publish({ target: fixtureCommand('garbage'), prefix: 'G', tools: ['echo'], price: 1 })
  // node 2: the good server again, dearer: the backup provider
  await bridge(n2).publish({ target: ok, prefix: 'H', tools: ['echo'], price: 5 })
  await bridge(n2).publish({ target: ok, prefix: 'G', tools: ['echo'], price: 5 })
  await waitForProviders(mesh.nodes[0], 'echo')
  await waitForProviders(mesh.nodes[0], 'Hecho', 2)
  await waitForProviders(mesh.nodes[0], 'Gecho', 2)
})

after(async () => {
  await mesh?.stop()
})

function bridge (node: PlNode): McpBridge {
  return node.service<McpBridge>('mcp')
}

async function runPlan (step: string, input: Record<string, unknown>): Promise<{ output: any, receipts: any[], state: string, error?: unknown }> {
  const node = mesh.nodes[0]
  const ex = executor(node)
  const run = await ex.submit(compileDsl(`goal: Call\nplan:\n  - step: ${step}()\n`), input)
  const record = await ex.wait(run, { signal: AbortSignal.timeout(120_000) })
  const receipts = (await node.service<ReceiptsService>('receipts').store.forRun(run)) as any[]
  return { output: record.state === 'succeeded' ? await ex.output(record) : undefined, receipts, state: record.state, error: record.error }
}

test('publishing an MCP server makes one Capability.v1 per tool, io from its schemas, bound to an mcp external implementation', () => {
  const local = mesh.nodes[1].service<Discovery>('discovery').localCapabilities()
  const echo = local.find(c => c.descriptor.name === 'echo')
  assert.ok(echo != null)
  assert.deepEqual(echo.module?.external, { kind: 'mcp', target: ok, options: { tool: 'echo' } })
  assert.deepEqual((echo.descriptor.io.input as any).required, ['text'])
  assert.equal((echo.descriptor.io.output as any).properties.echo.type, 'string')
  assert.ok(local.some(c => c.descriptor.name === 'crash'))
  assert.equal(JSON.stringify(echo.descriptor).includes(process.execPath), false, 'the command line is not advertised')
})

test('a DSL plan on another node calls the MCP tool; the receipt names the server and the tool', async () => {
  const r = await runPlan('echo', { text: 'hi' })
  assert.equal(r.state, 'succeeded', JSON.stringify(r.error))
  assert.equal(r.output.echo, 'hi')
  assert.equal(r.receipts.length, 1)
  assert.equal(r.receipts[0].receipt.provider, mesh.nodes[1].peerId)
  assert.deepEqual(r.receipts[0].receipt.via, { kind: 'mcp', target: ok, ref: 'echo' })
})

test('one connection per server is kept; a server that dies is started again on the next call', async () => {
  const pool = executor(mesh.nodes[1]).pool
  const call = { name: 'x', parameters: {}, settings: {}, globalSettings: {}, globalParameters: {}, limits: { wall_ms: 30_000, mem_mb: 64 } }
  const first = await pool.runModule(externalModuleSpec('echo', { kind: 'mcp', target: ok, options: { tool: 'echo' } }), { ...call, inputData: { text: 'a', previous_outputs: {} } })
  const second = await pool.runModule(externalModuleSpec('echo', { kind: 'mcp', target: ok, options: { tool: 'echo' } }), { ...call, inputData: { text: 'b' } })
  assert.equal((second.output as any).pid, (first.output as any).pid, 'the same server process answered both calls')
  assert.equal((second.output as any).calls, (first.output as any).calls + 1)
  await assert.rejects(pool.runModule(externalModuleSpec('crash', { kind: 'mcp', target: ok, options: { tool: 'crash' } }), { ...call, inputData: {} }), (err: any) => {
    assert.ok(['McpServerUnavailableError', 'McpBadAnswerError'].includes(err.name), `${String(err.name)}: ${String(err.message)}`)
    assert.equal(err.retryable, true)
    return true
  })
  const third = await pool.runModule(externalModuleSpec('echo', { kind: 'mcp', target: ok, options: { tool: 'echo' } }), { ...call, inputData: { text: 'c' } })
  assert.notEqual((third.output as any).pid, (first.output as any).pid, 'a new server process')
  assert.equal((third.output as any).echo, 'c')
})

for (const [cap, what, counted] of [['Hecho', 'hangs', 'McpServerHungError'], ['Gecho', 'answers garbage', 'McpBadAnswerError']]) {
  test(`an MCP server that ${what} fails the step retryably (${counted}); the requester fails over to the backup provider`, async () => {
    const r = await runPlan(cap, { text: `${what}?` })
    assert.equal(r.state, 'succeeded', JSON.stringify(r.error))
    assert.equal(r.output.echo, `${what}?`)
    assert.equal(r.receipts[0].receipt.provider, mesh.nodes[2].peerId)
    const rejections = await mesh.nodes[1].components.metrics.rejections()
    assert.ok((rejections[`mcp-out/${counted}`] ?? 0) >= 1, JSON.stringify(rejections))
  })
}

test('an MCP server over streamable HTTP (--mcp-url) is published and called the same way', async (t) => {
  const server = spawn(process.execPath, [FIXTURE, 'http', '0'], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => { server.kill('SIGKILL') })
  const [line] = await once(server.stdout, 'data') as [Buffer]
  const url = line.toString('utf8').trim()
  const done = await bridge(mesh.nodes[1]).publish({ target: url, prefix: 'U', tools: ['echo'] })
  assert.deepEqual(done.map(d => d.name), ['Uecho'])
  await waitForProviders(mesh.nodes[0], 'Uecho')
  const r = await runPlan('Uecho', { text: 'over http' })
  assert.equal(r.state, 'succeeded', JSON.stringify(r.error))
  assert.equal(r.output.echo, 'over http')
  assert.deepEqual(r.receipts[0].receipt.via, { kind: 'mcp', target: url, ref: 'echo' })
})

test('publishing refuses a malformed target or an unknown tool with McpTargetError', async () => {
  await assert.rejects(bridge(mesh.nodes[1]).publish({ target: ok, tools: ['nope'] }), { name: 'McpTargetError' })
  await assert.rejects(bridge(mesh.nodes[1]).publish({ target: '"unbalanced' }), { name: 'McpTargetError' })
  await assert.rejects(bridge(mesh.nodes[1]).publish({ target: '/nonexistent/mcp-server --stdio' }), { name: 'McpServerUnavailableError' })
})

test('a command line is split into argv without a shell: quotes group, nothing is expanded', () => {
  assert.deepEqual(splitArgv(`node "my server.js" --name 'a b' $HOME \`id\` ; rm\\ -rf *`), ['node', 'my server.js', '--name', 'a b', '$HOME', '`id`', ';', 'rm -rf', '*'])
  assert.deepEqual(splitArgv('  '), [])
  assert.deepEqual(mcpTarget('x "" y'), { kind: 'stdio', command: 'x', args: ['', 'y'] })
  assert.equal(mcpTarget('https://tools.example/mcp').kind, 'http')
  assert.throws(() => mcpTarget(''), { name: 'McpTargetError' })
})
