/**
 * The provider side against a hand-driven requester speaking the wire
 * directly: each refusal is a REJECTED answer carrying a typed error.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { waitFor } from '../helpers/mesh.js'
import { cidOfBytes, encodeCanonical, decodeCanonical } from '../../src/core/encoding.js'
import { createIdentity, envelopeId, signEnvelope, type Envelope } from '../../src/core/index.js'
import { negotiateProtocol, execProtocol, type Bid, type Decline, type Result } from '../../src/negotiation/index.js'
import { verifySignedReceipt } from '../../src/receipts/index.js'
import type { PlNode } from '../../src/node.js'
import { startOffersMesh, handRequester, rejected, writeModule, type OffersMesh } from './helpers.js'

let m: OffersMesh
const negotiate = negotiateProtocol()
const exec = execProtocol()
const call = { input_data: { x: 1 }, parameters: {}, settings: {}, global_settings: {}, global_parameters: {} }
const inputBytes = encodeCanonical(call)
const { cfpBody, send, callFor, bidFrom, awardFor } = handRequester(() => m.nodes[0], inputBytes, 'run-p')

before(async () => {
  // node 0 runs no negotiation: the tests speak the wire by hand
  m = await startOffersMesh({
    name: 'pl-neg-provider-',
    nodes: 5,
    requester: false,
    provider: (i) => ({ ...(i === 2 ? { bidTtlMs: 1 } : {}), ...(i === 3 ? { maxActive: 0 } : {}), ...(i === 4 ? { maxOpenBidsPerPeer: 2 } : {}) })
  })
  const echo = await writeModule(m.dir, 'echo', 'return { echoed: inputData.x }')
  for (const i of [1, 2, 3, 4]) m.offers.add(i, m.nodes[i], { name: 'Echo', price: 1, policies: ['pol-a'] }, echo)
})

after(async () => {
  await m?.close()
})

const requester = (): PlNode => m.nodes[0]

test('an honest award executes once: result signed by the provider, output bytes match their CID, receipt names the award', async () => {
  const p = m.nodes[1]
  const { cfpId, bid } = await bidFrom(p)
  assert.equal(bid.body.capability, m.offers.byNode.get(1)?.[0].cid)
  assert.deepEqual(bid.body.limits, { wall_ms: 5_000, mem_mb: 256 })
  const award = awardFor(p, cfpId, bid)
  const ack = await send(p, award)
  assert.deepEqual(ack.body, { award: envelopeId(award), accepted: true })
  const progress: unknown[] = []
  const res = await requester().components.rpc.request(p.peerId, exec, { award, input: inputBytes }, { onProgress: (b) => progress.push(b) })
  assert.equal(res.status, 'OK', JSON.stringify(res.error))
  const { envelope } = await requester().components.verifier.verify<Result>(res.body?.result, { expectedFrom: p.peerId, expectedTypes: ['Result.v1'] })
  assert.equal(envelope.body.status, 'ok')
  assert.equal(cidOfBytes(res.body?.output as Uint8Array).toString(), envelope.body.output)
  assert.deepEqual(decodeCanonical(res.body?.output as Uint8Array), { echoed: 1 })
  verifySignedReceipt(envelope.body.receipt)
  assert.equal(envelope.body.receipt?.receipt.award, envelopeId(award))
  assert.deepEqual((progress[0] as { type: string }).type, 'pl:exec:accepted')

  rejected(await requester().components.rpc.request(p.peerId, exec, { award, input: inputBytes }), 'AwardAlreadyExecutedError')
})

test('rejects a replayed award', async () => {
  const p = m.nodes[1]
  const { cfpId, bid } = await bidFrom(p)
  const award = awardFor(p, cfpId, bid)
  assert.equal((await send(p, award)).status, 'OK')
  rejected(await send(p, award), 'ReplayError')
})

test('rejects an award for a bid that was never made', async () => {
  const p = m.nodes[1]
  const { cfpId, bid } = await bidFrom(p)
  const award = awardFor(p, cfpId, bid, { bid: cidOfBytes(encodeCanonical({ never: 'made' })).toString() })
  rejected(await send(p, award), 'UnknownBidError')
})

test('rejects a second award for an already awarded bid', async () => {
  const p = m.nodes[1]
  const { cfpId, bid } = await bidFrom(p)
  assert.equal((await send(p, awardFor(p, cfpId, bid))).status, 'OK')
  rejected(await send(p, awardFor(p, cfpId, bid, { attempt: 2 })), 'BidAlreadyAwardedError')
})

test('rejects an award for a bid that was made to another requester', async () => {
  const p = m.nodes[1]
  const other = m.nodes[2]
  const env = other.components.sign('CallForProposal.v1', cfpBody(), { to: p.peerId })
  const res = await other.components.rpc.request(p.peerId, negotiate, { envelope: env })
  const bid = (res.body as { envelope: Envelope<Bid> }).envelope
  assert.equal(bid.type, 'Bid.v1')
  rejected(await send(p, awardFor(p, envelopeId(env), bid)), 'UnknownBidError')
})

test('rejects an award that arrives after the bid expired', async () => {
  const p = m.nodes[2] // bids live 1 ms there (the same expiry on a FakeClock, without waiting: provider-clock.test.ts)
  const { cfpId, bid } = await bidFrom(p)
  await waitFor(() => Date.now() > bid.body.expires, 10_000, 'the bid expired')
  rejected(await send(p, awardFor(p, cfpId, bid)), 'BidExpiredError')
})

test('rejects an award whose input differs from the call it answers', async () => {
  const p = m.nodes[1]
  const { cfpId, bid } = await bidFrom(p)
  const res = await send(p, awardFor(p, cfpId, bid, { input: cidOfBytes(encodeCanonical({ other: 'input' })).toString() }))
  rejected(res, 'AwardMismatchError')
  assert.equal((res.error?.details as { field?: string })?.field, 'input')
})

test('rejects a call for proposals with a forged signature', async () => {
  const p = m.nodes[1]
  const env = requester().components.sign('CallForProposal.v1', cfpBody(), { to: p.peerId })
  const forged = { ...env, body: { ...env.body, input_size: env.body.input_size + 1 } }
  rejected(await send(p, forged), 'BadSignatureError')
})

test('rejects a call for proposals signed by a peer other than the sender', async () => {
  const p = m.nodes[1]
  const stranger = await createIdentity()
  const env = signEnvelope(stranger, requester().components.registry, 'CallForProposal.v1', cfpBody(), { to: p.peerId })
  rejected(await send(p, env), 'WrongSenderError')
})

test('refuses a call whose reply_by has passed', async () => {
  const p = m.nodes[1]
  const env = requester().components.sign('CallForProposal.v1', cfpBody({ reply_by: Date.now() - 1 }), { to: p.peerId })
  rejected(await send(p, env), 'CfpExpiredError')
})

test('bids on a call whose policies it does not list: the requester judges its attestations (its descriptor strings go along as self-attestations)', async () => {
  const { answer } = await callFor(m.nodes[1], { policies: ['pol-a', 'pol-residency-eu'] })
  assert.equal(answer.type, 'Bid.v1')
  assert.deepEqual((answer.body as Bid).attestations, ['pol-a'])
})

test('declines a capability it does not have, limits above its offer, and work beyond its capacity', async () => {
  const unsupported = (await callFor(m.nodes[1], { capability: { name: 'Translate' } })).answer.body as Decline
  assert.equal(unsupported.reason, 'unsupported')
  const over = (await callFor(m.nodes[1], { limits: { wall_ms: 60_000 } })).answer.body as Decline
  assert.equal(over.reason, 'over-limits')
  const busy = (await callFor(m.nodes[3])).answer.body as Decline
  assert.equal(busy.reason, 'busy')
})

test('refuses to execute an award it never accepted', async () => {
  const p = m.nodes[1]
  const { cfpId, bid } = await bidFrom(p)
  const award = awardFor(p, cfpId, bid) // signed, never sent on /pl/negotiate
  rejected(await requester().components.rpc.request(p.peerId, exec, { award, input: inputBytes }), 'UnknownAwardError')
})

test('refuses inline input bytes that do not match the awarded input CID', async () => {
  const p = m.nodes[1]
  const { cfpId, bid } = await bidFrom(p)
  const award = awardFor(p, cfpId, bid)
  assert.equal((await send(p, award)).status, 'OK')
  rejected(await requester().components.rpc.request(p.peerId, exec, { award, input: encodeCanonical({ ...call, input_data: { x: 2 } }) }), 'CidMismatchError')
})

test('refuses an input that is not a step call document', async () => {
  const p = m.nodes[1]
  const bad = encodeCanonical({ not: 'a step call' })
  const badCid = cidOfBytes(bad).toString()
  const { cfpId, answer } = await callFor(p, { input: badCid, input_size: bad.byteLength })
  const bid = answer as Envelope<Bid>
  const award = awardFor(p, cfpId, bid, { input: badCid })
  assert.equal((await send(p, award)).status, 'OK')
  rejected(await requester().components.rpc.request(p.peerId, exec, { award, input: bad }), 'InvalidStepInputError')
})

test('a flood of calls from one requester is declined busy once its open bids reach the limit', async () => {
  const p = m.nodes[4] // at most 2 open bids per requester
  const first = await callFor(p)
  assert.equal(first.answer.type, 'Bid.v1')
  assert.equal((await callFor(p)).answer.type, 'Bid.v1')
  const third = (await callFor(p)).answer.body as Decline
  assert.equal(third.reason, 'busy')
  assert.match(third.message ?? '', /2 open bids for this requester/)
  // an awarded bid is no longer open: room for one more
  assert.equal((await send(p, awardFor(p, first.cfpId, first.answer as Envelope<Bid>))).status, 'OK')
  assert.equal((await callFor(p)).answer.type, 'Bid.v1')
  // another requester still gets a bid
  const env = m.nodes[1].components.sign('CallForProposal.v1', cfpBody(), { to: p.peerId })
  const res = await m.nodes[1].components.rpc.request(p.peerId, negotiate, { envelope: env })
  assert.equal((res.body as { envelope: Envelope<Bid> }).envelope.type, 'Bid.v1')
})
