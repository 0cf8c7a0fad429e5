/**
 * External implementations (src/exec/external.ts): a capability served by a
 * runner registered in the provider's ModulePool instead of a module folder.
 * Real 3-node mesh: the provider signs the receipt as provider of record and
 * names the runner in `via`; a runner that fails retryably makes the
 * requester fail over to a backup provider.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { tempDir } from '../helpers/tmp.js'
import { PlNode } from '../../src/node.js'
import { discovery, type Discovery } from '../../src/discovery/index.js'
import { checkExternalImpl, externalModuleSpec } from '../../src/core/index.js'
import { PlError } from '../../src/core/errors.js'
import { ExternalRunners } from '../../src/exec/external.js'
import { receipts, verifySignedReceipt, type SignedReceipt } from '../../src/receipts/index.js'
import { startOffersMesh, writeModule, step, dagOf, ctxOf, runId, type OffersMesh } from '../negotiation/helpers.js'

class RemoteHungError extends PlError {
  override name = 'RemoteHungError'
}

let m: OffersMesh
const calls: unknown[] = []
let failNext = 0

before(async () => {
  m = await startOffersMesh({
    name: 'pl-external-',
    nodes: 3,
    requesterServices: { receipts: receipts() },
    provider: (i, pool) => ({ canRun: (mod) => mod.kind !== 'external' || pool.external.ready(mod) })
  })
  // registered before any offer exists, so before any call could reach it
  m.pool.external.register({
    kind: 'echo',
    async run (impl, call, options) {
      calls.push(call.inputData)
      if (failNext > 0) {
        failNext--
        throw new RemoteHungError('the remote agent did not answer', { target: impl.target }, true)
      }
      options.onProgress?.(1, 1, 'echoed')
      return { output: { echo: call.inputData, tag: impl.options?.tag ?? null }, usage: { cpu_ms: 0, wall_ms: 1, mem_peak_mb: 0 }, via: { kind: 'echo', target: impl.target, ref: `task-${calls.length}` } }
    }
  })
  // node 1 serves Echo through the external runner (cheaper, wins); node 2 with a module folder (backup)
  m.offers.add(1, m.nodes[1], { name: 'Echo', price: 1 }, externalModuleSpec('Echo', { kind: 'echo', target: 'https://agent.example/card.json', options: { tag: 'ext' } }))
  m.offers.add(2, m.nodes[2], { name: 'Echo', price: 5 }, await writeModule(m.dir, 'echo', 'return { echo: inputData, tag: "module" }'))
  m.offers.add(1, m.nodes[1], { name: 'Orphan', price: 1 }, externalModuleSpec('Orphan', { kind: 'nobody', target: 'x' }))
})

after(async () => {
  await m?.close()
})

test('an awarded step of an external implementation runs through its runner; the receipt names it in via', async () => {
  const dag = dagOf([step('echo', 'Echo')])
  const ctx = ctxOf(dag, runId(), 'echo')
  const res = await m.runner().run(dag.steps.echo, { text: 'hi' }, ctx)
  assert.deepEqual(res.output, { echo: { text: 'hi' }, tag: 'ext' })
  assert.equal(res.executor, m.nodes[1].peerId)
  const signed = res.receipt as SignedReceipt
  verifySignedReceipt(signed, { requireRequester: true })
  assert.equal(signed.receipt.provider, m.nodes[1].peerId, 'the node is the provider of record')
  assert.deepEqual(signed.receipt.via, { kind: 'echo', target: 'https://agent.example/card.json', ref: `task-${calls.length}` })
  assert.deepEqual(ctx.events[0], [1, 1, 'echoed'])
})

test('a runner failing retryably fails the attempt; the requester fails over to the backup provider', async () => {
  failNext = 1
  const dag = dagOf([step('echo', 'Echo')])
  const res = await m.runner().run(dag.steps.echo, { text: 'again' }, ctxOf(dag, runId(), 'echo'))
  assert.equal(failNext, 0, 'the external runner was called and failed')
  assert.equal(res.executor, m.nodes[2].peerId)
  assert.deepEqual(res.output, { echo: { text: 'again' }, tag: 'module' })
  assert.equal((res.receipt as SignedReceipt).receipt.via, undefined, 'a module-folder step has no via')
})

test('a capability whose external kind has no registered runner is declined, not bid on; run anyway it fails with ExternalRunnerMissingError', async () => {
  const dag = dagOf([step('o', 'Orphan')])
  const id = runId()
  await assert.rejects(m.runner().run(dag.steps.o, {}, ctxOf(dag, id, 'o')), (err: any) => {
    assert.equal(err.name, 'NoBidsError', err.message)
    return true
  })
  const exp = await m.requester().explanation(id, 'o')
  assert.ok(exp.answers.some(a => a.kind === 'decline' && a.reason === 'unsupported' && /external 'nobody'/.test(a.message ?? '')), JSON.stringify(exp.answers))
  await assert.rejects(m.pool.runModule(externalModuleSpec('Orphan', { kind: 'nobody', target: 'x' }), { name: 'o', parameters: {}, settings: {}, globalSettings: {}, globalParameters: {}, inputData: {}, limits: { wall_ms: 1000, mem_mb: 64 } }), (err: any) => {
    assert.equal(err.name, 'ExternalRunnerMissingError')
    assert.match(err.message, /no 'nobody' bridge \(known: echo\)/)
    return true
  })
})

test('ExternalImpl documents are checked field by field; the module CID pins kind, target and options', () => {
  const a = externalModuleSpec('X', { kind: 'a2a', target: 'https://a/card.json', options: { skill: 's1' } })
  const b = externalModuleSpec('X', { kind: 'a2a', target: 'https://a/card.json', options: { skill: 's2' } })
  assert.equal(a.kind, 'external')
  assert.notEqual(a.cid, b.cid)
  assert.equal(a.cid, externalModuleSpec('Y', { kind: 'a2a', target: 'https://a/card.json', options: { skill: 's1' } }).cid, 'the key is not part of the CID')
  for (const bad of [null, [], 'a2a', { kind: 'A2A', target: 'x' }, { kind: 'a2a' }, { kind: 'a2a', target: '' }, { kind: 'a2a', target: 'x'.repeat(3000) },
    { kind: 'a2a', target: 'x', options: { nested: { a: 1 } } }, { kind: 'a2a', target: 'x', extra: 1 }, { kind: 'a'.repeat(40), target: 'x' }]) {
    assert.throws(() => checkExternalImpl(bad), { name: 'ModuleFolderError' }, JSON.stringify(bad))
  }
})

test('ExternalRunners refuses a second runner of a kind and reports readiness', () => {
  const runners = new ExternalRunners()
  let up = false
  const off = runners.register({ kind: 'attached', run: async () => ({ output: 1, usage: { cpu_ms: 0, wall_ms: 0, mem_peak_mb: 0 } }), ready: () => up })
  assert.throws(() => runners.register({ kind: 'attached', run: async () => ({ output: 1, usage: { cpu_ms: 0, wall_ms: 0, mem_peak_mb: 0 } }) }), { name: 'ModuleLoadError' })
  const m = externalModuleSpec('Z', { kind: 'attached', target: 'client-1' })
  assert.equal(runners.ready(m), false)
  up = true
  assert.equal(runners.ready(m), true)
  off()
  assert.equal(runners.ready(m), false)
  assert.deepEqual(runners.kinds(), [])
})

test('a capability published with impl {external} binds to an external module, persists across a restart and refuses a malformed impl', async () => {
  const tmp = await tempDir('pl-external-pub-')
  const dataDir = `${tmp.dir}/node`
  const input = { name: 'Agent', version: '1.0.0', io: { input: { type: 'object' }, output: { type: 'object' } } }
  const impl = { external: { kind: 'a2a', target: 'http://127.0.0.1:1/.well-known/agent-card.json', options: { skill: 'echo' } } }
  try {
    let node = await PlNode.create({ dataDir, controlApi: false, services: { discovery: discovery({ ttlMs: 2_000 }) } })
    await node.start()
    try {
      const d = node.service<Discovery>('discovery')
      const { descriptor } = await d.publish(input, impl)
      assert.deepEqual(descriptor.module, { cid: externalModuleSpec('Agent', impl.external).cid, kind: 'external' })
      assert.equal(JSON.stringify(descriptor).includes('127.0.0.1:1'), false, 'the target is not advertised')
      await assert.rejects(d.publish({ ...input, name: 'Bad' }, { external: { kind: 'a2a', target: '' } }), { name: 'InvalidDescriptorError' })
    } finally {
      await node.stop()
    }
    node = await PlNode.create({ dataDir, controlApi: false, services: { discovery: discovery({ ttlMs: 2_000 }) } })
    await node.start()
    try {
      const m = node.service<Discovery>('discovery').localCapability('Agent')
      assert.equal(m?.kind, 'external')
      assert.deepEqual(m?.external, impl.external)
    } finally {
      await node.stop()
    }
  } finally {
    await tmp.cleanup()
  }
})
