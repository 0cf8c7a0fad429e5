import { join } from 'node:path'
import { packageRoot } from '../../src/core/paths.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { tempDir } from '../helpers/tmp.js'
import { cidOfBytes, RAW } from '../../src/core/encoding.js'
import { PlNode } from '../../src/node.js'
import { daemonServices } from '../../src/services.js'
import { admin, agent, diamondBundle, PLAN, publisher, reg, registryNode } from './helpers.js'
import { zipSync } from 'fflate'

test('registers a bundle: the signed record names the bundle CID, the publisher and the workflow.json metadata', async () => {
  const { dir, cleanup } = await tempDir()
  const node = await registryNode(dir)
  try {
    const zip = await diamondBundle()
    const { record, created } = await reg(node).register({ bundle: zip }, publisher, { mode: 'upload' })
    assert.equal(created, true)
    assert.equal(record.workflow_id, 'diamond')
    assert.equal(record.version, '1.0.0')
    assert.equal(record.releaseTag, 'stable')
    assert.equal(record.kind, 'bundle')
    assert.equal(record.bundle, cidOfBytes(zip, RAW).toString())
    assert.equal(record.publisher, 'ci-key')
    assert.equal(record.publisherKind, 'api-key')
    assert.equal(record.node, node.peerId)
    assert.deepEqual(record.meta.modules, ['dbl', 'inc', 'start', 'sum'])
    assert.deepEqual(record.meta.tags, ['example', 'arithmetic'])
    // the envelope verifies as a record of this node
    const c = node.components
    assert.doesNotThrow(() => c.verifier.verifyStateless(record.envelope, { expectedTypes: ['WorkflowRecord.v1'], now: record.ts }))
    // the bundle is held by CID
    assert.deepEqual(new Uint8Array(await c.store.blocks.getBytes(record.bundle) ?? []), zip)
  } finally {
    await node.stop()
    await cleanup()
  }
})

test('uploading the same bundle twice is idempotent: same record, created false', async () => {
  const { dir, cleanup } = await tempDir()
  const node = await registryNode(dir)
  try {
    const first = await reg(node).register({ bundle: await diamondBundle() }, publisher, { mode: 'upload' })
    const again = await reg(node).register({ bundle: await diamondBundle() }, publisher, { mode: 'upload' })
    assert.equal(again.created, false)
    assert.equal(again.record.record, first.record.record)
    assert.equal((await reg(node).versions('diamond')).versions.length, 1)
  } finally {
    await node.stop()
    await cleanup()
  }
})

test('an agent principal is named by its PeerId as publisher', async () => {
  const { dir, cleanup } = await tempDir()
  const node = await registryNode(dir)
  try {
    const { record } = await reg(node).register({ plan: PLAN, workflow_id: 'sum-doc' }, agent, { mode: 'create' })
    assert.equal(record.publisher, '12D3KooWagent')
    assert.equal(record.publisherKind, 'agent')
    assert.equal(record.kind, 'plan')
    assert.equal(record.meta.name, 'SummarizeDocument')
    assert.deepEqual(record.meta.modules, ['FetchSections', 'MergeSummaries'])
  } finally {
    await node.stop()
    await cleanup()
  }
})

test('versions: PUT adds greater versions only, POST refuses an existing id, every version stays readable', async () => {
  const { dir, cleanup } = await tempDir()
  const node = await registryNode(dir)
  const r = reg(node)
  try {
    await r.register({ plan: PLAN, workflow_id: 'wf', version: '1.0.0' }, publisher, { mode: 'create' })
    await assert.rejects(r.register({ plan: PLAN + '\n# v2\n', workflow_id: 'wf', version: '2.0.0' }, publisher, { mode: 'create' }), { name: 'WorkflowExistsError', statusCode: 409 })
    await r.register({ plan: PLAN + '\n# v1.2\n', version: '1.2.0' }, publisher, { mode: 'update', workflowId: 'wf' })
    await assert.rejects(r.register({ plan: PLAN + '\n# v1.1\n', version: '1.1.0' }, publisher, { mode: 'update', workflowId: 'wf' }), { name: 'WorkflowVersionConflictError', statusCode: 409 })
    await assert.rejects(r.register({ plan: PLAN + '\n# other\n', version: '1.2.0' }, publisher, { mode: 'update', workflowId: 'wf' }), { name: 'WorkflowVersionConflictError' })
    await assert.rejects(r.register({ plan: PLAN, version: '1.3' }, publisher, { mode: 'update', workflowId: 'wf' }), { name: 'InvalidWorkflowVersionError', statusCode: 400 })
    await assert.rejects(r.register({ plan: PLAN }, publisher, { mode: 'update', workflowId: 'wf' }), { name: 'InvalidWorkflowVersionError' })
    await assert.rejects(r.register({ plan: PLAN, version: '9.0.0' }, publisher, { mode: 'update', workflowId: 'nope' }), { name: 'WorkflowNotFoundInRegistryError', statusCode: 404 })
    await r.register({ plan: PLAN + '\n# v1.10\n', version: '1.10.0' }, publisher, { mode: 'update', workflowId: 'wf' })
    assert.equal((await r.get('wf')).version, '1.10.0', 'semver order, not string order')
    assert.equal((await r.get('wf', { version: '1.2.0' })).version, '1.2.0')
    await assert.rejects(r.get('wf', { version: '7.0.0' }), { name: 'WorkflowVersionNotFoundError', statusCode: 404 })
    assert.deepEqual((await r.versions('wf')).versions.map(v => v.version), ['1.0.0', '1.2.0', '1.10.0'])
  } finally {
    await node.stop()
    await cleanup()
  }
})

test('bad bundles and plans are typed 4xx: zip slip, not a zip, DSL error, too large, id mismatch, bad id', async () => {
  const { dir, cleanup } = await tempDir()
  const node = await registryNode(dir, { maxBundleBytes: 64 * 1024 })
  const r = reg(node)
  try {
    const slip = new Uint8Array(await readFile(join(packageRoot(), 'test', 'fixtures', 'bad', 'zip-slip.zip')))
    await assert.rejects(r.register({ bundle: slip, workflow_id: 'x' }, publisher, { mode: 'upload' }), (err: any) => err.name === 'InvalidWorkflowBundleError' && err.details.cause === 'UnsafeZipPathError' && err.statusCode === 400)
    await assert.rejects(r.register({ bundle: new TextEncoder().encode('not a zip'), workflow_id: 'x' }, publisher, { mode: 'upload' }), { name: 'InvalidWorkflowBundleError' })
    await assert.rejects(r.register({ plan: 'goal: G\nplan:\n  - bogus: X()\n', workflow_id: 'x' }, publisher, { mode: 'create' }), { name: 'InvalidWorkflowBundleError' })
    await assert.rejects(r.register({ bundle: new Uint8Array(64 * 1024 + 1), workflow_id: 'x' }, publisher, { mode: 'upload' }), { name: 'WorkflowBundleTooLargeError', statusCode: 413 })
    await assert.rejects(r.register({ bundle: await diamondBundle() }, publisher, { mode: 'update', workflowId: 'other' }), { name: 'WorkflowIdMismatchError' })
    await assert.rejects(r.register({ plan: PLAN, workflow_id: '../etc' }, publisher, { mode: 'create' }), { name: 'InvalidWorkflowIdError' })
    await assert.rejects(r.register({ plan: PLAN }, publisher, { mode: 'create' }), { name: 'InvalidWorkflowRequestError' })
    // a bundle without workflow.json
    await assert.rejects(r.register({ bundle: zipSync({ 'a.txt': new Uint8Array([1]) }), workflow_id: 'x' }, publisher, { mode: 'upload' }), { name: 'InvalidWorkflowBundleError' })
    assert.deepEqual(await r.list(), [])
  } finally {
    await node.stop()
    await cleanup()
  }
})

test('delete: a signed tombstone keeps history; purge needs admin and forgets it', async () => {
  const { dir, cleanup } = await tempDir()
  const node = await registryNode(dir)
  const r = reg(node)
  try {
    await r.register({ plan: PLAN, workflow_id: 'wf' }, publisher, { mode: 'create' })
    const { tombstone } = await r.remove('wf', publisher)
    assert.equal(tombstone?.tombstone, true)
    assert.equal(tombstone?.publisher, 'ci-key')
    await assert.rejects(r.get('wf'), { name: 'WorkflowDeletedError', statusCode: 410 })
    await assert.rejects(r.resolve('wf'), { name: 'WorkflowDeletedError' })
    assert.equal((await r.get('wf', { version: '1.0.0' })).deleted, true, 'history is kept')
    assert.deepEqual(await r.list(), [])
    assert.equal((await r.versions('wf')).tombstones.length, 1)
    await assert.rejects(r.register({ plan: PLAN + '#2\n', version: '1.1.0' }, publisher, { mode: 'update', workflowId: 'wf' }), { name: 'WorkflowDeletedError' })
    // registering again takes a greater version
    await assert.rejects(r.register({ plan: PLAN, workflow_id: 'wf', version: '1.0.0' }, publisher, { mode: 'create' }), { name: 'WorkflowVersionConflictError' })
    await r.register({ plan: PLAN, workflow_id: 'wf', version: '2.0.0' }, publisher, { mode: 'create' })
    assert.equal((await r.get('wf')).version, '2.0.0')
    await assert.rejects(r.remove('wf', publisher, { purge: true }), { name: 'PurgeForbiddenError', statusCode: 403 })
    assert.equal((await r.remove('wf', admin, { purge: true })).purged, true)
    await assert.rejects(r.versions('wf', { signal: AbortSignal.timeout(3000) }), (err: any) => err.name === 'WorkflowNotFoundInRegistryError' || err.name === 'AbortError' || err.name === 'TimeoutError')
  } finally {
    await node.stop()
    await cleanup()
  }
})

test('a restart of the node keeps every workflow, version and tombstone (LevelDB)', async () => {
  const { dir, cleanup } = await tempDir()
  let node = await registryNode(dir)
  try {
    await reg(node).register({ bundle: await diamondBundle() }, publisher, { mode: 'upload' })
    await reg(node).register({ plan: PLAN, workflow_id: 'wf' }, publisher, { mode: 'create' })
    await reg(node).register({ plan: PLAN + '#2\n', version: '1.1.0' }, publisher, { mode: 'update', workflowId: 'wf' })
    await reg(node).register({ plan: PLAN, workflow_id: 'gone' }, publisher, { mode: 'create' })
    await reg(node).remove('gone', publisher)
    const before = await reg(node).versions('wf')
    await node.stop()
    node = await registryNode(dir)
    const r = reg(node)
    assert.deepEqual((await r.list()).map(w => `${w.workflow_id}@${w.version}`), ['diamond@1.0.0', 'wf@1.1.0'])
    assert.deepEqual((await r.versions('wf')).versions.map(v => v.record), before.versions.map(v => v.record))
    await assert.rejects(r.get('gone'), { name: 'WorkflowDeletedError' })
    assert.equal((await r.versions('gone')).tombstones.length, 1)
    // shared on /pl/fetch again, for every peer
    const fetcher = node.components.fetcher
    for (const v of before.versions) {
      assert.equal(fetcher.allows(v.record, 'any-peer'), true)
      assert.equal(fetcher.allows(v.bundle, 'any-peer'), true)
    }
    const { path } = await r.resolve('diamond')
    assert.match(path, /\.zip$/)
    assert.deepEqual(new Uint8Array(await readFile(path)), await diamondBundle())
  } finally {
    await node.stop()
    await cleanup()
  }
})

test('the daemon runs the registry as services.registry; unknown keys in its config section are refused', () => {
  assert.equal(typeof daemonServices({} as any).registry, 'function')
  assert.throws(() => daemonServices({ services: { registry: { maxBundleByte: 1 } } } as any), { name: 'ConfigError' })
  assert.equal(typeof daemonServices({ services: { registry: { maxBundleBytes: 1024 } } } as any).registry, 'function')
})

void PlNode
