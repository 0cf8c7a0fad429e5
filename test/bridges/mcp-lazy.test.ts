/**
 * The daemon's MCP bridge loads its SDK when first needed (LazyMcpBridge in
 * src/bridges/mcp/lazy.ts): a node without a gateway or configured servers starts
 * without it; an `mcp` step arriving first is run by the stand-in runner,
 * which loads the bridge and hands over; `POST /mcp/publish` loads it too.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TestMesh } from '../helpers/mesh.js'
import { daemonServices } from '../../src/services.js'
import type { LazyMcpBridge } from '../../src/bridges/mcp/lazy.js'
import { externalModuleSpec } from '../../src/core/module.js'
import { ControlClient } from '../../src/api/client.js'
import { executor, fixtureCommand } from './mcp-helpers.js'

const config = { dataDir: '', listen: [], bootstrap: [], controlPort: 0, logLevel: 'silent', localSwarm: true, gossip: false, api: {}, services: {} }
const call = { name: 'echo', parameters: {}, settings: {}, globalSettings: {}, globalParameters: {}, limits: { wall_ms: 30_000, mem_mb: 64 } }

test('without a gateway or servers, the MCP bridge loads at the first mcp step and at the first POST /mcp/publish', async () => {
  const mesh = await TestMesh.start({ nodes: 2, controlApi: true, services: () => daemonServices(config) })
  try {
    const [a, b] = mesh.nodes
    const lazyA = a.service<LazyMcpBridge>('mcp')
    assert.equal(lazyA.loaded, false, 'not loaded at start')
    const health = await (await ControlClient.fromDataDir(a.components.dataDir)).request<{ services: Record<string, unknown> }>('GET', '/health')
    assert.deepEqual(health.services.mcp, { servers: 0 })
    const pool = executor(a).pool
    assert.equal(pool.external.ready(externalModuleSpec('echo', { kind: 'mcp', target: fixtureCommand('ok'), options: { tool: 'echo' } })), true, 'a step of kind mcp finds a runner before the bridge loads')
    // two steps at once: both wait for the one load, then run on the bridge's own runner
    const [one, two] = await Promise.all(['x', 'y'].map(async text => await pool.runModule(externalModuleSpec('echo', { kind: 'mcp', target: fixtureCommand('ok'), options: { tool: 'echo' } }), { ...call, inputData: { text } })))
    assert.deepEqual([(one.output as any).echo, (two.output as any).echo], ['x', 'y'])
    assert.equal((one.output as any).pid, (two.output as any).pid, 'one server connection')
    assert.equal(lazyA.loaded, true)

    const lazyB = b.service<LazyMcpBridge>('mcp')
    assert.equal(lazyB.loaded, false)
    const client = await ControlClient.fromDataDir(b.components.dataDir)
    await assert.rejects(client.request('POST', '/mcp/publish', { target: '' }), { name: 'McpTargetError' })
    const published = await client.request<Array<{ tool: string }>>('POST', '/mcp/publish', { target: fixtureCommand('ok'), tools: ['echo'], price: 1 })
    assert.deepEqual(published.map(p => p.tool), ['echo'])
    assert.equal(lazyB.loaded, true)
  } finally {
    await mesh.stop()
  }
})

test('a stopped lazy MCP bridge refuses a step with ExternalRunnerMissingError and loads nothing', async () => {
  const mesh = await TestMesh.start({ nodes: 1, services: () => daemonServices(config) })
  const [a] = mesh.nodes
  const lazy = a.service<LazyMcpBridge>('mcp')
  const pool = executor(a).pool
  await lazy.stop()
  try {
    await assert.rejects(pool.runModule(externalModuleSpec('echo', { kind: 'mcp', target: fixtureCommand('ok'), options: { tool: 'echo' } }), { ...call, inputData: { text: 'x' } }), { name: 'ExternalRunnerMissingError' })
    assert.equal(lazy.loaded, false)
  } finally {
    await mesh.stop()
  }
})
