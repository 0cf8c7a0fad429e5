/**
 * Bid releases carried by the next /pl/negotiate call (`releases`): the
 * requester queues the BidRelease.v1 of a settled step and sends it with its
 * next call to that provider, or on its own after a short wait. The provider
 * verifies each one as if it came alone and applies it before the call; a
 * bad one is refused and counted on its own, the call is answered as usual.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { waitFor } from '../helpers/mesh.js'
import { cidOfBytes, encodeCanonical } from '../../src/core/encoding.js'
import { createIdentity, envelopeId, signEnvelope, type Envelope } from '../../src/core/index.js'
import { negotiateProtocol, type Bid, type BidRelease, type CallForProposal, type Decline, type Negotiation } from '../../src/negotiation/index.js'
import type { RpcResponse } from '../../src/net/index.js'
import type { PlNode } from '../../src/node.js'
import { startOffersMesh, writeModule, step, dagOf, ctxOf, runId, type OffersMesh } from './helpers.js'

let m: OffersMesh
const negotiate = negotiateProtocol()
const inputBytes = encodeCanonical({ input_data: { x: 1 }, parameters: {}, settings: {}, global_settings: {}, global_parameters: {} })
const inputCid = cidOfBytes(inputBytes).toString()

before(async () => {
  m = await startOffersMesh({ name: 'pl-neg-carried-', nodes: 4, requester: { replyWindowMs: 5_000 } })
  const echo = await writeModule(m.dir, 'echo', 'return { echoed: inputData.x }')
  // node 3 is cheapest: it wins every step, nodes 1 and 2 lose
  for (const i of [1, 2, 3]) m.offers.add(i, m.nodes[i], { name: 'Echo', price: 4 - i }, echo)
})

after(async () => { await m?.close() })

const requester = (): PlNode => m.nodes[0]
const openBids = (i: number): number => m.nodes[i].service<Negotiation>('negotiation').provider?.openBids ?? -1

function cfpEnvelope (to: PlNode, run = 'run-c', stepKey = 's'): Envelope<CallForProposal> {
  const now = Date.now()
  return requester().components.sign('CallForProposal.v1', { run, step: stepKey, capability: { name: 'Echo' }, input: inputCid, input_size: inputBytes.byteLength, deadline: now + 60_000, reply_by: now + 5_000, limits: { wall_ms: 5_000 }, policies: [] }, { to: to.peerId })
}

async function call (to: PlNode, body: unknown): Promise<RpcResponse<any>> {
  return await requester().components.rpc.request(to.peerId, negotiate, body as any)
}

/** A bid of node `i` for run `run`, step 's'. */
async function bidOf (i: number, run: string): Promise<Envelope<Bid>> {
  const res = await call(m.nodes[i], { envelope: cfpEnvelope(m.nodes[i], run) })
  assert.equal(res.status, 'OK', JSON.stringify(res.error))
  const v = await requester().components.verifier.verify<Bid | Decline>(res.body.envelope, { expectedFrom: m.nodes[i].peerId, expectedTypes: ['Bid.v1'] })
  return v.envelope as Envelope<Bid>
}

function releaseOf (i: number, run: string, bids: string[]): Envelope<BidRelease> {
  return requester().components.sign('BidRelease.v1', { run, step: 's', bids, reason: 'lost' }, { to: m.nodes[i].peerId })
}

async function rejections (node: PlNode, reason: string): Promise<number> {
  const m = new RegExp(`pl_rejected_total\\{area="negotiation",reason="${reason}"\\} (\\d+)`).exec(await node.components.metrics.registry.metrics())
  return m == null ? 0 : Number(m[1])
}

test('a release carried by a call is applied before the call is answered', async () => {
  const bid = await bidOf(1, 'run-a')
  const held = openBids(1)
  const res = await call(m.nodes[1], { envelope: cfpEnvelope(m.nodes[1], 'run-b'), releases: [releaseOf(1, 'run-a', [envelopeId(bid)])] })
  assert.equal(res.status, 'OK', JSON.stringify(res.error))
  assert.equal(res.body.envelope.type, 'Bid.v1')
  // one bid released, one made
  assert.equal(openBids(1), held)
})

test('a forged carried release, or one signed by another node, is refused and counted; the call is answered and the bid stays', async () => {
  const p = m.nodes[2]
  const bid = await bidOf(2, 'run-f')
  const real = releaseOf(2, 'run-f', [envelopeId(bid)])
  const forged = { ...real, body: { ...real.body, reason: 'cancelled' as const } }
  const stranger = await createIdentity()
  const foreign = signEnvelope(stranger, requester().components.registry, 'BidRelease.v1', real.body, { to: p.peerId })
  const [badSig, wrongSender] = [await rejections(p, 'BadSignatureError'), await rejections(p, 'WrongSenderError')]
  const held = openBids(2)
  const res = await call(p, { envelope: cfpEnvelope(p, 'run-g'), releases: [forged, foreign] })
  assert.equal(res.status, 'OK', JSON.stringify(res.error))
  assert.equal(openBids(2), held + 1)
  assert.equal(await rejections(p, 'BadSignatureError'), badSig + 1)
  assert.equal(await rejections(p, 'WrongSenderError'), wrongSender + 1)
})

test('a `releases` that is not a list, or too long, is refused and counted; the call is answered', async () => {
  const p = m.nodes[2]
  const before = await rejections(p, 'MalformedEnvelopeError')
  const bid = await bidOf(2, 'run-l')
  const many = Array.from({ length: 17 }, () => releaseOf(2, 'run-l', [envelopeId(bid)]))
  assert.equal((await call(p, { envelope: cfpEnvelope(p, 'run-m'), releases: 'all of them' })).status, 'OK')
  assert.equal((await call(p, { envelope: cfpEnvelope(p, 'run-n'), releases: many })).status, 'OK')
  assert.equal(await rejections(p, 'MalformedEnvelopeError'), before + 2)
})

/**
 * Watches the requester's calls for bid releases: per call, whether it is a
 * release sent on its own (its envelope a BidRelease.v1), and the bids of
 * its signed (envelope and carried) and plain releases. `answer` may change
 * each answer's body before the runner reads it.
 */
function watchReleases (answer?: (peer: string, body: any) => void): { calls: Array<{ lone: boolean, signed: string[], plain: string[] }>, restore: () => void } {
  const rpc = requester().components.rpc
  const request = rpc.request.bind(rpc)
  const calls: Array<{ lone: boolean, signed: string[], plain: string[] }> = []
  rpc.request = (async (peer: any, def: any, req: any, o: any) => {
    const lone = req?.envelope?.type === 'BidRelease.v1'
    const signed = [...(lone ? req.envelope.body.bids as string[] : []), ...(req?.releases ?? []).flatMap((r: any) => r.body.bids as string[])]
    calls.push({ lone, signed, plain: (req?.plain_releases ?? []).flatMap((r: any) => r.bids as string[]) })
    const res = await request(peer, def, req, o)
    answer?.(String(peer), res.body)
    return res
  }) as typeof rpc.request
  return { calls, restore: () => { rpc.request = request } }
}

test("the runner's releases reach the losers, carried by its next calls or on their own", async () => {
  const watch = watchReleases()
  const released = (lone: boolean): string[] => watch.calls.filter(c => c.lone === lone).flatMap(c => [...c.signed, ...c.plain])
  const carried = { includes: (id: string) => released(false).includes(id) }
  const alone = { includes: (id: string) => released(true).includes(id) }
  try {
    const runner = m.runner()
    const s = step('echo', 'Echo')
    const first = runId('carried')
    await runner.run(s, { x: 1 }, ctxOf(dagOf([s]), first, 'echo'))
    const exp = await requester().service<Negotiation>('negotiation').explanation(first, 'echo')
    const losers = exp.bids.filter(b => b.status === 'backup').map(b => b.bid)
    assert.equal(losers.length, 2)
    const second = runId('carried')
    await runner.run(s, { x: 2 }, ctxOf(dagOf([s]), second, 'echo'))
    // every loser of the first step is released, with a call or alone (never twice)
    await waitFor(() => losers.every(id => carried.includes(id) || alone.includes(id)), 10_000, 'the first step\'s losers released')
    for (const id of losers) assert.ok(!(carried.includes(id) && alone.includes(id)), id)
    // and, with no call left to carry them, the second step's losers go alone
    const exp2 = await requester().service<Negotiation>('negotiation').explanation(second, 'echo')
    const losers2 = exp2.bids.filter(b => b.status === 'backup').map(b => b.bid)
    assert.equal(losers2.length, 2)
    await waitFor(() => losers2.every(id => alone.includes(id)), 10_000, 'the second step\'s losers released on their own')
  } finally {
    watch.restore()
  }
})

test('a provider says it takes plain releases; one carried by a call is applied before the call is answered, a replay changes nothing', async () => {
  const bid = await bidOf(1, 'run-pa')
  const held = openBids(1)
  const release: BidRelease = { run: 'run-pa', step: 's', bids: [envelopeId(bid)], reason: 'lost' }
  const res = await call(m.nodes[1], { envelope: cfpEnvelope(m.nodes[1], 'run-pb'), plain_releases: [release] })
  assert.equal(res.status, 'OK', JSON.stringify(res.error))
  assert.equal(res.body.envelope.type, 'Bid.v1')
  assert.equal(res.body.plain_releases, true)
  assert.equal(openBids(1), held, 'one bid released, one made')
  // the same release again: the bid is gone, nothing else is touched, the call is answered
  const again = await call(m.nodes[1], { envelope: cfpEnvelope(m.nodes[1], 'run-pc'), plain_releases: [release] })
  assert.equal(again.status, 'OK', JSON.stringify(again.error))
  assert.equal(openBids(1), held + 1)
})

test('a plain release from another peer than the one the bids answered leaves them alone', async () => {
  const p = m.nodes[2]
  const bid = await bidOf(2, 'run-pw')
  const held = openBids(2)
  // node 1 (another requester here) names node 0's bid: the stream says node 1 released it, and the bid is not node 1's
  const other = m.nodes[1]
  const now = Date.now()
  const cfp = other.components.sign('CallForProposal.v1', { run: 'run-px', step: 's', capability: { name: 'Echo' }, input: inputCid, input_size: inputBytes.byteLength, deadline: now + 60_000, reply_by: now + 5_000, limits: { wall_ms: 5_000 }, policies: [] }, { to: p.peerId })
  const res = await other.components.rpc.request(p.peerId, negotiate, { envelope: cfp, plain_releases: [{ run: 'run-pw', step: 's', bids: [envelopeId(bid)] }] })
  assert.equal(res.status, 'OK', JSON.stringify(res.error))
  assert.equal(openBids(2), held + 1, 'node 0\'s bid still held, node 1\'s made')
})

test('plain releases that are not a list of at most 16 valid bodies are refused and counted; the call is answered', async () => {
  const p = m.nodes[2]
  const before = await rejections(p, 'InvalidBodyError')
  const bid = await bidOf(2, 'run-pm')
  const held = openBids(2)
  const good = { run: 'run-pm', step: 's', bids: [envelopeId(bid)] }
  assert.equal((await call(p, { envelope: cfpEnvelope(p, 'run-pn'), plain_releases: 'all of them' })).status, 'OK')
  assert.equal((await call(p, { envelope: cfpEnvelope(p, 'run-po'), plain_releases: Array.from({ length: 17 }, () => good) })).status, 'OK')
  assert.equal((await call(p, { envelope: cfpEnvelope(p, 'run-pp'), plain_releases: [{ run: 'run-pm', bids: 'x' }, { ...good, extra: 1 }] })).status, 'OK')
  assert.equal(await rejections(p, 'InvalidBodyError'), before + 4)
  assert.equal(openBids(2), held + 3, 'nothing released, three bids made')
})

test('the runner sends plain releases to providers that take them and signed ones to the others', async () => {
  const old = m.nodes[1].peerId
  // node 1 plays a provider from before plain releases: its answers do not say it takes them
  const watch = watchReleases((peer, body) => { if (peer === old && body?.plain_releases != null) delete body.plain_releases })
  const signed = { includes: (id: string) => watch.calls.some(c => c.signed.includes(id)) }
  const plain = { includes: (id: string) => watch.calls.some(c => c.plain.includes(id)) }
  try {
    const runner = m.runner()
    const s = step('echo', 'Echo')
    const run = runId('plain')
    await runner.run(s, { x: 1 }, ctxOf(dagOf([s]), run, 'echo'))
    // the next step's calls carry the first step's releases (a release sent on its own is the call's signed envelope)
    await runner.run(s, { x: 2 }, ctxOf(dagOf([s]), runId('plain'), 'echo'))
    const exp = await requester().service<Negotiation>('negotiation').explanation(run, 'echo')
    const lost = (i: number): string[] => exp.bids.filter(b => b.status === 'backup' && b.provider === m.nodes[i].peerId).map(b => b.bid)
    assert.equal(lost(1).length, 1)
    assert.equal(lost(2).length, 1)
    await waitFor(() => [...lost(1), ...lost(2)].every(id => signed.includes(id) || plain.includes(id)), 10_000, 'the losers released')
    assert.ok(lost(1).every(id => signed.includes(id) && !plain.includes(id)), 'signed for the provider that did not say it takes plain ones')
    assert.ok(lost(2).every(id => plain.includes(id) && !signed.includes(id)), 'plain for the one that did')
  } finally {
    watch.restore()
  }
})
