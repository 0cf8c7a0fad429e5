/**
 * BidRelease.v1: once a step is settled, the requester releases the bids it
 * did not award, so a losing provider stops holding capacity for them until
 * their expiry. A provider held at one open bid (maxOpenBids: 1) with a long
 * bid TTL shows it: without the release it would decline the next call as
 * busy. A release from anyone but the bid's requester, or for another step,
 * changes nothing; a malformed one is refused.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { waitFor } from '../helpers/mesh.js'
import { type Negotiation, type RemoteRunner } from '../../src/negotiation/index.js'
import { negotiateProtocol } from '../../src/negotiation/wire.js'
import { envelopeId } from '../../src/core/index.js'
import { receipts } from '../../src/receipts/index.js'
import { startOffersMesh, writeModule, step, dagOf, ctxOf, runId, type OffersMesh } from './helpers.js'

let m: OffersMesh
const HOUR = 60 * 60_000

before(async () => {
  m = await startOffersMesh({
    name: 'pl-neg-release-',
    nodes: 3,
    requesterServices: { receipts: receipts() },
    // bids live an hour and each provider holds one at a time: only a release frees the loser's
    provider: () => ({ bidTtlMs: HOUR, maxOpenBids: 1 })
  })
  const echo = await writeModule(m.dir, 'echo', 'return { x: inputData.x }')
  m.offers.add(1, m.nodes[1], { name: 'Echo', price: 1 }, echo)
  m.offers.add(2, m.nodes[2], { name: 'Echo', price: 5 }, echo)
})

after(async () => {
  await m?.close()
})

const neg = (i: number): Negotiation => m.negotiation(i)

async function runEcho (x: number): Promise<{ executor: string, id: string }> {
  const runner = neg(0).runner as RemoteRunner
  const dag = dagOf([step('echo', 'Echo')], { select: [{ attr: 'price', weight: 1 }] })
  const id = runId()
  const res = await runner.run(dag.steps.echo, { x }, ctxOf(dag, id, 'echo'))
  assert.deepEqual(res.output, { x })
  return { executor: res.executor as string, id }
}

test('the losing bid is released when the step settles; the loser bids again on the next call instead of declining busy', async () => {
  const first = await runEcho(1)
  assert.equal(first.executor, m.nodes[1].peerId, 'the cheaper provider wins')
  // the loser (node 2, price 5) held its bid; the release frees it long before its hour is up
  await waitFor(() => neg(2).provider?.openBids === 0, 30_000, 'node 2 to drop its losing bid')
  const second = await runEcho(2)
  const exp = await neg(0).explanation(second.id, 'echo')
  const loser = exp.answers.find(a => a.provider === m.nodes[2].peerId)
  assert.equal(loser?.kind, 'bid', `node 2 bid again: ${JSON.stringify(exp.answers)}`)
  await waitFor(() => neg(2).provider?.openBids === 0 && neg(1).provider?.openBids === 0, 30_000, 'every open bid released or awarded')
})

test('a release by someone other than the requester, or for another step, leaves the bid alone; a malformed release is refused', async () => {
  // node 0 calls node 2 by hand (no round, so nothing releases the bid on its own)
  const offer = m.offers.localFor(2).localOffer('Echo') as { cid: string }
  const n0 = m.nodes[0].components
  const now = Date.now()
  const cfp = { run: runId(), step: 'echo', capability: { name: 'Echo', cid: offer.cid }, input: offer.cid, input_size: 8, deadline: now + 60_000, reply_by: now + 10_000 }
  const asked = await n0.rpc.request(m.nodes[2].peerId, negotiateProtocol(), { envelope: n0.sign('CallForProposal.v1', cfp, { to: m.nodes[2].peerId }) })
  const answer = (asked.body as { envelope: { type: string } }).envelope
  assert.equal(answer.type, 'Bid.v1', JSON.stringify(answer))
  const bidId = envelopeId(answer as any)
  const provider = neg(2).provider!
  assert.equal(provider.openBids, 1)
  assert.equal(provider.releaseBids({ run: cfp.run, step: 'echo', bids: [bidId] }, m.nodes[1].peerId), 0, 'only the requester may release')
  assert.equal(provider.releaseBids({ run: cfp.run, step: 'other', bids: [bidId] }, m.nodes[0].peerId), 0, 'not for another step')
  assert.equal(provider.releaseBids({ run: 'another-run', step: 'echo', bids: [bidId] }, m.nodes[0].peerId), 0, 'not for another run')
  assert.equal(provider.openBids, 1, 'the bid is still held')
  // a release with no bids, or too many, cannot be signed; sent anyway (the body changed after signing), it is refused
  for (const bids of [[], Array.from({ length: 65 }, () => bidId)]) {
    assert.throws(() => n0.sign('BidRelease.v1', { run: cfp.run, step: 'echo', bids } as any, { to: m.nodes[2].peerId }), { name: 'InvalidBodyError' })
    const envelope = n0.sign('BidRelease.v1', { run: cfp.run, step: 'echo', bids: [bidId] }, { to: m.nodes[2].peerId })
    const forged = { ...envelope, body: { ...envelope.body, bids } }
    const res = await n0.rpc.request(m.nodes[2].peerId, negotiateProtocol(), { envelope: forged }).catch((err: Error) => ({ status: 'THROWN', error: { name: err.name }, body: undefined }))
    assert.notEqual(res.status, 'OK', `a release of ${bids.length} bids is refused`)
  }
  assert.equal(provider.openBids, 1)
  // the requester's own release, over the wire, frees it
  const release = n0.sign('BidRelease.v1', { run: cfp.run, step: 'echo', bids: [bidId], reason: 'lost' }, { to: m.nodes[2].peerId })
  const res = await n0.rpc.request(m.nodes[2].peerId, negotiateProtocol(), { envelope: release })
  assert.deepEqual(res.body, { released: 1 })
  assert.equal(provider.openBids, 0)
})
