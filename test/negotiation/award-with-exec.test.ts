/**
 * The award carried by /pl/exec (`accept: true`): one round trip instead of
 * an award on /pl/negotiate and then the exec call. The provider verifies
 * the award in full (signature, sender, type, replay record) and accepts it
 * as on /pl/negotiate (its own bid, to this requester, once) before it runs
 * anything; each bad input is a REJECTED answer with a typed error.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { cidOfBytes, encodeCanonical, decodeCanonical } from '../../src/core/encoding.js'
import { envelopeId } from '../../src/core/index.js'
import { negotiateProtocol, execProtocol, UnknownAwardError, type Negotiation, type Result } from '../../src/negotiation/index.js'
import type { RpcResponse, HandlerContext } from '../../src/net/index.js'
import type { PlNode } from '../../src/node.js'
import { startOffersMesh, handRequester, rejected, writeModule, step, dagOf, ctxOf, runId, type OffersMesh } from './helpers.js'

let m: OffersMesh
const negotiate = negotiateProtocol()
const exec = execProtocol()
const call = { input_data: { x: 7 }, parameters: {}, settings: {}, global_settings: {}, global_parameters: {} }
const inputBytes = encodeCanonical(call)
const { inputCid, bidFrom, awardFor } = handRequester(() => m.nodes[0], inputBytes, 'run-x')

before(async () => {
  m = await startOffersMesh({ name: 'pl-neg-award-exec-', nodes: 4, requester: { replyWindowMs: 5_000 } })
  m.offers.visible = [1]
  const echo = await writeModule(m.dir, 'echo', 'return { echoed: inputData.x }')
  for (const i of [1, 2, 3]) m.offers.add(i, m.nodes[i], { name: 'Echo', price: 1 }, echo)
})

after(async () => { await m?.close() })

const requester = (): PlNode => m.nodes[0]

async function execWith (to: PlNode, request: unknown): Promise<RpcResponse<any>> {
  return await requester().components.rpc.request(to.peerId, exec, request as any)
}

/** Remote steps awarded to or running on provider node `i`. */
const activeOn = (i: number): number => m.nodes[i].service<Negotiation>('negotiation').provider?.active ?? -1

test('an award carried by the exec call is verified, accepted and run once; the receipt names it', async () => {
  const p = m.nodes[1]
  const { cfpId, bid } = await bidFrom(p)
  const award = awardFor(p, cfpId, bid)
  const res = await execWith(p, { award, input: inputBytes, accept: true })
  assert.equal(res.status, 'OK', JSON.stringify(res.error))
  const { envelope } = await requester().components.verifier.verify<Result>(res.body?.result, { expectedFrom: p.peerId, expectedTypes: ['Result.v1'] })
  assert.equal(envelope.body.award, envelopeId(award))
  assert.equal(envelope.body.receipt?.receipt.award, envelopeId(award))
  assert.deepEqual(decodeCanonical(res.body?.output as Uint8Array), { echoed: 7 })
  // once: the same call again, with or without `accept`, is refused
  rejected(await execWith(p, { award, input: inputBytes, accept: true }), 'AwardAlreadyExecutedError')
  rejected(await execWith(p, { award, input: inputBytes }), 'AwardAlreadyExecutedError')
  // and it was recorded as seen: the same envelope on /pl/negotiate is a replay
  rejected(await requester().components.rpc.request(p.peerId, negotiate, { envelope: award }), 'ReplayError')
})

test('an award first sent on /pl/negotiate still runs when the exec call says accept', async () => {
  const p = m.nodes[1]
  const { cfpId, bid } = await bidFrom(p)
  const award = awardFor(p, cfpId, bid)
  assert.equal((await requester().components.rpc.request(p.peerId, negotiate, { envelope: award })).status, 'OK')
  const res = await execWith(p, { award, input: inputBytes, accept: true })
  assert.equal(res.status, 'OK', JSON.stringify(res.error))
})

test('a forged award (body changed after signing) is refused before anything runs, and the bid stays awardable', async () => {
  const p = m.nodes[2]
  const { cfpId, bid } = await bidFrom(p)
  const award = awardFor(p, cfpId, bid)
  const forged = { ...award, body: { ...award.body, limits: { ...award.body.limits, wall_ms: 1 } } }
  const before = activeOn(2)
  rejected(await execWith(p, { award: forged, input: inputBytes, accept: true }), 'BadSignatureError')
  assert.equal(activeOn(2), before)
  const res = await execWith(p, { award, input: inputBytes, accept: true })
  assert.equal(res.status, 'OK', JSON.stringify(res.error))
})

test("an award naming another provider, or another provider's bid, is refused", async () => {
  const p1 = m.nodes[1]
  const p2 = m.nodes[2]
  const { cfpId, bid } = await bidFrom(p2)
  // an award envelope addressed to p2, sent to p1
  rejected(await execWith(p1, { award: awardFor(p2, cfpId, bid), input: inputBytes, accept: true }), 'NotForMeError')
  // addressed to p1, naming p2 as the provider
  rejected(await execWith(p1, { award: awardFor(p1, cfpId, bid, { provider: p2.peerId }), input: inputBytes, accept: true }), 'AwardMismatchError')
  // p2's bid, in an award naming p1
  rejected(await execWith(p1, { award: awardFor(p1, cfpId, bid), input: inputBytes, accept: true }), 'UnknownBidError')
  // p2 still runs its own award
  assert.equal((await execWith(p2, { award: awardFor(p2, cfpId, bid), input: inputBytes, accept: true })).status, 'OK')
})

test('a replayed award is refused by the replay store, even when its first delivery was refused', async () => {
  const p = m.nodes[3]
  const { cfpId, bid } = await bidFrom(p)
  const bad = awardFor(p, cfpId, bid, { input: cidOfBytes(encodeCanonical({ other: 1 })).toString() })
  rejected(await execWith(p, { award: bad, input: inputBytes, accept: true }), 'AwardMismatchError')
  rejected(await execWith(p, { award: bad, input: inputBytes, accept: true }), 'ReplayError')
  rejected(await requester().components.rpc.request(p.peerId, negotiate, { envelope: bad }), 'ReplayError')
})

test('an exec call without an award, or with another envelope type, is refused', async () => {
  const p = m.nodes[3]
  rejected(await execWith(p, { input: inputBytes, accept: true }), 'MalformedEnvelopeError')
  rejected(await execWith(p, { input: inputBytes }), 'MalformedEnvelopeError')
  const cfp = requester().components.sign('CallForProposal.v1', { run: 'r', step: 's', capability: { name: 'Echo' }, input: inputCid, input_size: 1, deadline: Date.now() + 10_000, reply_by: Date.now() + 5_000 }, { to: p.peerId })
  rejected(await execWith(p, { award: cfp, input: inputBytes, accept: true }), 'UnknownTypeError')
  // without `accept`, an award never sent on /pl/negotiate is unknown, as before
  const { cfpId, bid } = await bidFrom(p)
  rejected(await execWith(p, { award: awardFor(p, cfpId, bid), input: inputBytes }), 'UnknownAwardError')
})

test('the remote runner awards with the exec call: no Award.v1 on /pl/negotiate', async () => {
  const sent: string[] = []
  const rpc = requester().components.rpc
  const request = rpc.request.bind(rpc)
  rpc.request = (async (peer: any, def: any, req: any, o: any) => {
    sent.push(`${def.id as string} ${(req?.envelope?.type as string | undefined) ?? (req?.accept === true ? 'accept' : '')}`)
    return await request(peer, def, req, o)
  }) as typeof rpc.request
  try {
    const runner = m.runner()
    const s = step('echo', 'Echo')
    const dag = dagOf([s])
    const id = runId('award-exec')
    const res = await runner.run(s, { x: 3 }, ctxOf(dag, id, 'echo'))
    assert.deepEqual(res.output, { echoed: 3 })
    assert.ok(sent.some(x => x.startsWith('/pl/exec/') && x.endsWith('accept')), sent.join(', '))
    assert.ok(!sent.some(x => x.endsWith('Award.v1')), sent.join(', '))
    const exp = await requester().service<Negotiation>('negotiation').explanation(id, 'echo')
    assert.equal(exp.attempts[0].outcome, 'ok')
  } finally {
    rpc.request = request
  }
})

test('a provider that takes awards on /pl/negotiate only gets the award there, then the exec call again', async () => {
  const p = m.nodes[1]
  const id = execProtocol().id
  const served = p.components.rpc.served(id)
  assert.ok(served != null)
  await p.libp2p.unhandle(id)
  // an older provider: `accept` is unknown to it, so an award not sent before is an unknown award
  await p.components.rpc.handle(execProtocol(async (req, ctx: HandlerContext) => {
    if (req.accept === true) throw new UnknownAwardError(`this node accepted no award ${envelopeId(req.award)} from ${ctx.peer}`, { award: envelopeId(req.award) })
    return await served.handler(req, ctx)
  }))
  try {
    const runner = m.runner()
    const s = step('echo', 'Echo')
    const rid = runId('award-apart')
    const res = await runner.run(s, { x: 4 }, ctxOf(dagOf([s]), rid, 'echo'))
    assert.deepEqual(res.output, { echoed: 4 })
    const exp = await requester().service<Negotiation>('negotiation').explanation(rid, 'echo')
    assert.equal(exp.attempts.length, 1)
    assert.equal(exp.attempts[0].outcome, 'ok')
  } finally {
    await p.libp2p.unhandle(id)
    await p.components.rpc.handle(served.def)
  }
})

test('the input block is written while the calls go out, and a failed write fails the step before any exec call', async () => {
  const blocks = requester().components.store.blocks
  const putBytes = blocks.putBytes.bind(blocks)
  const sent: string[] = []
  const rpc = requester().components.rpc
  const request = rpc.request.bind(rpc)
  rpc.request = (async (peer: any, def: any, req: any, o: any) => {
    sent.push(def.id as string)
    return await request(peer, def, req, o)
  }) as typeof rpc.request
  blocks.putBytes = async () => { throw new Error('disk full') }
  try {
    const runner = m.runner()
    const s = step('echo', 'Echo')
    await assert.rejects(runner.run(s, { x: 5 }, ctxOf(dagOf([s]), runId('input-write'), 'echo')), /disk full/)
    assert.ok(sent.includes(negotiate.id), sent.join(', '))
    assert.ok(!sent.includes(exec.id), sent.join(', '))
  } finally {
    blocks.putBytes = putBytes
    rpc.request = request
  }
})
