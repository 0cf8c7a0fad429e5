/**
 * End to end over both gateways' HTTP: a workflow uploaded on node A (with a
 * publish-scoped key) is found through the mesh and run by `execute_dsl` on
 * node C of a 3-node mesh (node 0 is the bootstrap, B, with no gateway).
 * The service-level version of this is test/registry/mesh.test.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { resolve } from 'node:path'
import { waitFor } from '../helpers/mesh.js'
import { packBundle } from '../../src/workflow/index.js'
import { gw, http, startMesh } from './helpers.js'

test('a workflow uploaded over HTTP on node A runs by execute_dsl over HTTP on node C', async () => {
  const mesh = await startMesh(3, (i) => i === 0 ? undefined : {})
  try {
    await mesh.connected(1)
    const [, a, c] = mesh.nodes
    const baseA = gw(a).address as string
    const baseC = gw(c).address as string
    const publisher = (await gw(a).keys.create({ name: 'ci', scopes: ['read', 'publish'] })).key
    const submitterA = (await gw(a).keys.create({ name: 'sub', scopes: ['read', 'submit'] })).key
    const runner = (await gw(c).keys.create({ name: 'runner', scopes: ['read', 'submit'] })).key
    const zip = await packBundle(resolve('test/fixtures/workflows/diamond-js'))
    const upload = async (key: string): Promise<Response> => {
      const form = new FormData()
      form.append('file', new Blob([zip], { type: 'application/zip' }), 'diamond.zip')
      return await fetch(`${baseA}/uploadWorkflow`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form })
    }

    // without the publish scope the upload is refused before any handler runs
    const refused = await upload(submitterA)
    assert.equal(refused.status, 403)
    assert.equal(((await refused.json()) as { error: { name: string } }).error.name, 'MissingScopeError')

    const up = await upload(publisher)
    const record = await up.json() as { workflow_id: string, version: string, record: string, node: string, publisher: string }
    assert.equal(up.status, 201, JSON.stringify(record))
    assert.deepEqual([record.workflow_id, record.version, record.node, record.publisher], ['diamond', '1.0.0', a.peerId, 'ci'])

    // C does not hold it: its registry finds it in the mesh once A's provide is out
    let found: { record?: string, node?: string } = {}
    await waitFor(async () => {
      const res = await http(baseC, 'GET', '/workflows/diamond?refresh=true', { key: runner })
      if (res.status !== 200) return false
      found = res.body
      return true
    }, 60_000, 'C finds diamond over its gateway')
    assert.equal(found.record, record.record)
    assert.equal(found.node, a.peerId, 'signed by A')

    const run = await http(baseC, 'POST', '/dsl-executor/diamond/execute_dsl', { key: runner, body: { input: { number: 5 }, wait: true } })
    assert.equal(run.status, 200, JSON.stringify(run.body))
    assert.deepEqual([run.body.state, run.body.output, run.body.workflow_id, run.body.version], ['succeeded', { number: 18 }, 'diamond', '1.0.0'])
    // the run is C's: it shows in C's runs with its step outputs
    const out = await http(baseC, 'GET', `/runs/${run.body.runId}/outputs/inc`, { key: runner })
    assert.deepEqual(out.body.output, { number: 8 })
    assert.equal((await http(baseA, 'GET', `/runs/${run.body.runId}`, { key: submitterA })).status, 404)

    // C cannot change A's workflow: it is not registered there
    const foreign = await http(baseC, 'DELETE', '/workflows/diamond', { key: (await gw(c).keys.create({ name: 'pub-c', scopes: ['publish'] })).key })
    assert.equal(foreign.status, 404, JSON.stringify(foreign.body))
  } finally {
    await mesh.stop()
  }
})
