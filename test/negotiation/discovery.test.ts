/**
 * Negotiation with the real discovery service as its candidate finder and
 * as the source of each provider's published capabilities (the default
 * wiring of a pl-node daemon).
 */
import { cidStringOf } from '../../src/core/encoding.js'
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { waitFor } from '../helpers/mesh.js'
import { discovery, type Discovery } from '../../src/discovery/index.js'
import { negotiation, type Negotiation, type RemoteRunner } from '../../src/negotiation/index.js'
import { verifySignedReceipt } from '../../src/receipts/index.js'
import type { PlNode } from '../../src/node.js'
import { startPoolMesh, step, dagOf, ctxOf, runId, type PoolMesh } from './helpers.js'

/** a configured policy name; the descriptors' own `policies` strings meet it as self-attestations */
const POL_A = { name: 'a', require_attestations: ['pol-a'], self_attest: true }

let m: PoolMesh

const disc = (n: PlNode): Discovery => n.service<Discovery>('discovery')
const neg = (n: PlNode): Negotiation => n.service<Negotiation>('negotiation')

async function moduleDir (root: string, name: string, body: string): Promise<string> {
  const dir = join(root, name)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'function.mjs'), `export default class M {\n  eval (parameters, inputData) { ${body} }\n}\n`)
  return dir
}

before(async () => {
  m = await startPoolMesh({
    name: 'pl-neg-disc-',
    nodes: 3,
    services: (_i, runStep) => ({
      discovery: discovery({ ttlMs: 4_000, sweepMs: 100, provideRetryMs: 100, provideRetryMaxMs: 1_000 }),
      negotiation: negotiation({ runStep, replyWindowMs: 3_000, policies: { 'pol-a': POL_A } })
    })
  })
  const io = { input: { type: 'object' }, output: { type: 'object' } }
  await disc(m.nodes[1]).publish({ name: 'Upper', version: '1.0.0', io, price: 3, attrs: { quality: 0.9 }, policies: ['pol-a'] }, { dir: await moduleDir(m.dir, 'upper-1', "return { text: String(inputData.text).toUpperCase(), by: 'one' }") })
  await disc(m.nodes[2]).publish({ name: 'Upper', version: '1.0.0', io, price: 1, attrs: { quality: 0.2 }, policies: ['pol-a'] }, { dir: await moduleDir(m.dir, 'upper-2', "return { text: String(inputData.text).toUpperCase(), by: 'two' }") })
  await disc(m.nodes[0]).publish({ name: 'Lower', version: '1.0.0', io }, { dir: await moduleDir(m.dir, 'lower', 'return { text: String(inputData.text).toLowerCase() }') })
  await waitFor(async () => (await disc(m.nodes[0]).find({ name: 'Upper' }, { localOnly: true })).length === 2, 20_000, 'node 0 to hear both Upper ads')
})

after(async () => {
  await m?.close()
})

test('providers found through discovery bid from their published descriptors; the plan\'s weights pick the winner', async () => {
  const runner = neg(m.nodes[0]).runner as RemoteRunner
  const dag = dagOf([step('up', 'Upper')], { select: [{ attr: 'quality', weight: 1 }, { attr: 'price', weight: 0.5 }], policies: ['pol-a'] })
  const id = runId()
  const res = await runner.run(dag.steps.up, { text: 'mesh' }, ctxOf(dag, id, 'up'))
  assert.deepEqual(res.output, { text: 'MESH', by: 'one' })
  assert.equal(res.executor, m.nodes[1].peerId)
  verifySignedReceipt(res.receipt, { requireRequester: true })
  assert.deepEqual(res.receipt.receipt.policies, [cidStringOf(POL_A)])
  const exp = await neg(m.nodes[0]).explanation(id, 'up')
  assert.equal(exp.bids.length, 2)
  const published = disc(m.nodes[1]).localCapabilities().find(c => c.descriptor.name === 'Upper')
  assert.equal(exp.bids.find(b => b.status === 'won')?.capability, published?.cid, 'the bid names the published descriptor CID')
})

test('a capability this node published itself is not negotiated', async () => {
  const runner = neg(m.nodes[0]).runner as RemoteRunner
  const dag = dagOf([step('low', 'Lower')])
  assert.equal(await runner.canRun(dag.steps.low, { runId: 'x', dag, modules: {} }), false)
  assert.equal(await runner.canRun(dagOf([step('up', 'Upper')]).steps.up, { runId: 'x', dag, modules: {} }), true)
})
