/**
 * Open calls: discovery knows nobody, so the requester publishes its call on
 * gossip `pl/v1/cfp/<name>`; providers listening on the topics of their
 * capabilities answer point-to-point, and award and execution proceed as usual.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { waitFor } from '../helpers/mesh.js'
import { negotiateProtocol, cfpTopic, type RemoteRunner, type Bid } from '../../src/negotiation/index.js'
import { verifySignedReceipt } from '../../src/receipts/index.js'
import { cidStringOf } from '../../src/core/encoding.js'
import { startOffersMesh, writeModule, step, dagOf, ctxOf, runId, type OffersMesh } from './helpers.js'

let m: OffersMesh

before(async () => {
  m = await startOffersMesh({ name: 'pl-neg-open-', nodes: 3, requester: { replyWindowMs: 1500 }, provider: () => ({ topicSyncMs: 100 }) })
  m.offers.hidden.add('Shout')
  const shout = await writeModule(m.dir, 'shout', "return { text: String(inputData.text).toUpperCase() + '!' }")
  m.offers.add(1, m.nodes[1], { name: 'Shout', price: 4 }, shout)
  m.offers.add(2, m.nodes[2], { name: 'Shout', price: 2 }, shout)
  const pubsub = m.nodes[0].libp2p.services.pubsub
  await waitFor(() => pubsub.getSubscribers(cfpTopic('Shout')).length >= 2, 20_000, 'node 0 to see both providers on pl/v1/cfp/Shout')
})

after(async () => {
  await m?.close()
})

const runner = (): RemoteRunner => m.runner()

test('with no known provider the call goes out on pl/v1/cfp/<name>; listeners bid directly and the best one runs the step', async () => {
  const dag = dagOf([step('s', 'Shout')], { select: [{ attr: 'price', weight: 1 }] })
  const id = runId()
  const res = await runner().run(dag.steps.s, { text: 'hey' }, ctxOf(dag, id, 's'))
  assert.deepEqual(res.output, { text: 'HEY!' })
  assert.equal(res.executor, m.nodes[2].peerId)
  verifySignedReceipt(res.receipt, { requireRequester: true })
  const exp = await m.requester().explanation(id, 's')
  assert.equal(exp.open, true)
  assert.deepEqual(exp.bids.map(b => b.provider).sort(), [m.nodes[1].peerId, m.nodes[2].peerId].sort())
})

test('an open call nobody answers gives NoProvidersError saying so', async () => {
  m.offers.hidden.add('Whisper')
  const dag = dagOf([step('s', 'Whisper')])
  await assert.rejects(runner().run(dag.steps.s, {}, ctxOf(dag, runId(), 's')), (err: Error) => err.name === 'NoProvidersError' && /nobody answered an open call on pl\/v1\/cfp\/Whisper/.test(err.message))
})

test('a bid that answers no open call of the requester is refused', async () => {
  const p = m.nodes[1]
  const bid: Bid = { cfp: cidStringOf({ no: 'such call' }), run: 'r', step: 's', capability: cidStringOf({ c: 1 }), price: 1, eta_ms: 1, limits: {}, expires: Date.now() + 10_000 }
  const res = await p.components.rpc.request(m.nodes[0].peerId, negotiateProtocol(), { envelope: p.components.sign('Bid.v1', bid, { to: m.nodes[0].peerId }) })
  assert.equal(res.status, 'REJECTED')
  assert.equal(res.error?.name, 'InvalidBidError')
})
