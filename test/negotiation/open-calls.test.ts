/**
 * Open calls: discovery knows nobody, so the requester publishes its call on
 * gossip `pl/v1/cfp/<name>`; providers listening on the topics of their
 * capabilities answer point-to-point, and award and execution proceed as usual.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { TestMesh, waitFor } from '../helpers/mesh.js'
import { tempDir } from '../helpers/tmp.js'
import type { ServiceFactory } from '../../src/node.js'
import { negotiation, negotiateProtocol, cfpTopic, type Negotiation, type RemoteRunner, type Bid } from '../../src/negotiation/index.js'
import { verifySignedReceipt } from '../../src/receipts/index.js'
import { cidStringOf } from '../../src/core/encoding.js'
import { Offers, ModulePool, poolRunStep, writeModule, step, dagOf, ctxOf, runId } from './helpers.js'

let mesh: TestMesh
let pool: ModulePool
let cleanup: () => Promise<void>
const offers = new Offers()

before(async () => {
  const tmp = await tempDir('pl-neg-open-')
  cleanup = tmp.cleanup
  pool = new ModulePool()
  const runStep = poolRunStep(pool)
  offers.hidden.add('Shout')
  mesh = await TestMesh.start({
    nodes: 3,
    services: (i): Record<string, ServiceFactory> => i === 0
      ? { negotiation: negotiation({ finder: offers.finder(), local: offers.localFor(0), replyWindowMs: 1500 }) }
      : { negotiation: negotiation({ local: offers.localFor(i), runStep, topicSyncMs: 100 }) }
  })
  await mesh.connected(1)
  const shout = await writeModule(tmp.dir, 'shout', "return { text: String(inputData.text).toUpperCase() + '!' }")
  offers.add(1, mesh.nodes[1], { name: 'Shout', price: 4 }, shout)
  offers.add(2, mesh.nodes[2], { name: 'Shout', price: 2 }, shout)
  const pubsub = mesh.nodes[0].libp2p.services.pubsub
  await waitFor(() => pubsub.getSubscribers(cfpTopic('Shout')).length >= 2, 20_000, 'node 0 to see both providers on pl/v1/cfp/Shout')
})

after(async () => {
  await mesh.stop()
  await pool.close()
  await cleanup()
})

const runner = (): RemoteRunner => mesh.nodes[0].service<Negotiation>('negotiation').runner as RemoteRunner

test('with no known provider the call goes out on pl/v1/cfp/<name>; listeners bid directly and the best one runs the step', async () => {
  const dag = dagOf([step('s', 'Shout')], { select: [{ attr: 'price', weight: 1 }] })
  const id = runId()
  const res = await runner().run(dag.steps.s, { text: 'hey' }, ctxOf(dag, id, 's'))
  assert.deepEqual(res.output, { text: 'HEY!' })
  assert.equal(res.executor, mesh.nodes[2].peerId)
  verifySignedReceipt(res.receipt, { requireRequester: true })
  const exp = await mesh.nodes[0].service<Negotiation>('negotiation').explanation(id, 's')
  assert.equal(exp.open, true)
  assert.deepEqual(exp.bids.map(b => b.provider).sort(), [mesh.nodes[1].peerId, mesh.nodes[2].peerId].sort())
})

test('an open call nobody answers gives NoProvidersError saying so', async () => {
  offers.hidden.add('Whisper')
  const dag = dagOf([step('s', 'Whisper')])
  await assert.rejects(runner().run(dag.steps.s, {}, ctxOf(dag, runId(), 's')), (err: Error) => err.name === 'NoProvidersError' && /nobody answered an open call on pl\/v1\/cfp\/Whisper/.test(err.message))
})

test('a bid that answers no open call of the requester is refused', async () => {
  const p = mesh.nodes[1]
  const bid: Bid = { cfp: cidStringOf({ no: 'such call' }), run: 'r', step: 's', capability: cidStringOf({ c: 1 }), price: 1, eta_ms: 1, limits: {}, expires: Date.now() + 10_000 }
  const res = await p.components.rpc.request(mesh.nodes[0].peerId, negotiateProtocol(), { envelope: p.components.sign('Bid.v1', bid, { to: mesh.nodes[0].peerId }) })
  assert.equal(res.status, 'REJECTED')
  assert.equal(res.error?.name, 'InvalidBidError')
})
