import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TestMesh, waitFor } from '../helpers/mesh.js'
import { diamondBundle, PLAN, publisher, reg, registryServices } from './helpers.js'
import { createIdentity, signEnvelope } from '../../src/core/index.js'
import { verifyRecord } from '../../src/registry/record.js'

test('a workflow registered on node A is found, verified, cached and run on node C of a 3-node mesh', async () => {
  const mesh = await TestMesh.start({ nodes: 3, gossip: () => false, services: () => registryServices({ findTimeoutMs: 10_000 }) })
  try {
    await mesh.connected(1)
    const [, a, c] = mesh.nodes
    const { record } = await reg(a).register({ bundle: await diamondBundle() }, publisher, { mode: 'upload' })
    await reg(a).register({ plan: PLAN, workflow_id: 'summarize' }, publisher, { mode: 'create' })
    // the provide runs in the background: C looks until A's DHT record is out
    let found: Awaited<ReturnType<ReturnType<typeof reg>['get']>> | undefined
    await waitFor(async () => {
      try { found = await reg(c).get('diamond'); return true } catch { return false }
    }, 60_000, 'C finds diamond in the mesh')
    assert.equal(found?.record, record.record)
    assert.equal(found?.node, a.peerId, 'signed by the registering node')
    assert.equal(found?.publisher, 'ci-key')
    // cached on C: the index entry names A as origin, the record block is held
    const entries = await reg(c).store.entries('diamond')
    assert.deepEqual(entries.map(e => e.origin), [a.peerId])
    // C fetched the latest bundle from A with the records (verified against its CID), and runs it
    assert.deepEqual(new Uint8Array(await c.components.store.blocks.getBytes(record.bundle) ?? []), await diamondBundle())
    const { path } = await reg(c).resolve('diamond')
    const res = await reg(c).runs.execute('diamond', { input: { number: 5 }, wait: true })
    assert.equal(res.state, 'succeeded')
    assert.deepEqual(res.output, { number: 18 })
    assert.match(path, /\.zip$/)
    // the plan is found the same way
    await waitFor(async () => {
      try { return (await reg(c).get('summarize')).kind === 'plan' } catch { return false }
    }, 60_000, 'C finds summarize')
    // a tombstone on A reaches C once C asks the mesh again
    await reg(a).remove('diamond', publisher)
    await reg(c).lookup('diamond', { refresh: true })
    await assert.rejects(reg(c).get('diamond'), { name: 'WorkflowDeletedError' })
  } finally {
    await mesh.stop()
  }
})

test('a record signed by a node other than the one serving it is refused', async () => {
  const mesh = await TestMesh.start({ nodes: 1, gossip: () => false, services: () => registryServices() })
  try {
    const node = mesh.nodes[0]
    const forger = await createIdentity()
    const body = { workflow_id: 'wf', version: '1.0.0', kind: 'plan' as const, bundle: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', size: 10, publisher: 'x', publisherKind: 'api-key' as const, ts: Date.now(), meta: { tags: [], modules: [] } }
    const env = signEnvelope(forger, node.components.registry, 'WorkflowRecord.v1', body)
    assert.throws(() => verifyRecord(node.components.verifier, env, node.peerId, 'wf'), { name: 'InvalidWorkflowRecordError' })
    assert.equal(verifyRecord(node.components.verifier, env, forger.id, 'wf').body.workflow_id, 'wf')
    assert.throws(() => verifyRecord(node.components.verifier, env, forger.id, 'other'), { name: 'InvalidWorkflowRecordError' })
    assert.throws(() => verifyRecord(node.components.verifier, { ...env, body: { ...body, version: '2.0.0' } }, forger.id, 'wf'), { name: 'InvalidWorkflowRecordError' })
  } finally {
    await mesh.stop()
  }
})
