/**
 * The provider on a FakeClock (no network, no waiting): a bid expires when
 * the provider's clock passes its TTL, the sweep that drops it runs on the
 * same clock, and a call whose reply window has passed is refused.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createIdentity, signEnvelope, EnvelopeVerifier, envelopeId, type Envelope } from '../../src/core/index.js'
import { SchemaRegistry } from '../../src/spec/index.js'
import { encodeCanonical, cidOfBytes } from '../../src/core/encoding.js'
import { silentLogger } from '../../src/core/logger.js'
import { FakeClock } from '../../src/core/clock.js'
import { Provider } from '../../src/negotiation/provider.js'
import type { Award, Bid, CallForProposal } from '../../src/negotiation/index.js'

const BID_TTL_MS = 20_000
// not a divisor of the TTL: no sweep falls exactly on a bid's expiry
const SWEEP_MS = 7_000
const input = encodeCanonical({ input_data: {}, parameters: {}, settings: {}, global_settings: {}, global_parameters: {} })
const inputCid = cidOfBytes(input).toString()

async function setup (t: { after: (fn: () => Promise<void>) => void }): Promise<{ clock: FakeClock, provider: Provider, call: (over?: Partial<CallForProposal>) => Promise<{ cfp: CallForProposal, cfpId: string, bid: Envelope<Bid> }>, award: (cfp: CallForProposal, cfpId: string, bid: Envelope<Bid>) => { award: Award, id: string }, requester: string }> {
  const reg = SchemaRegistry.loadSync()
  const prov = await createIdentity()
  const req = await createIdentity()
  const clock = new FakeClock()
  const descriptor = { name: 'echo', version: '1.0.0', provider: prov.id, io: { input: {}, output: {} }, limits: { wall_ms: 1000 } }
  const offerCid = cidOfBytes(encodeCanonical(descriptor)).toString()
  const offer = { cid: offerCid, descriptor, module: { key: 'echo', dir: '/x', cid: offerCid, kind: 'js' } }
  const provider = new Provider({
    identity: prov,
    registry: reg,
    verifier: new EnvelopeVerifier(reg, undefined, { self: prov.id, clock }),
    rpc: { handle: async () => {} } as any,
    logger: silentLogger(),
    sign: (type, body, options) => signEnvelope(prov, reg, type, body, { now: clock.now(), ...options }),
    clock
  }, {
    local: { localOffer: async () => offer } as any,
    runStep: async () => ({ output: {}, usage: {} }) as any,
    bidTtlMs: BID_TTL_MS,
    sweepMs: SWEEP_MS
  })
  await provider.start()
  t.after(async () => { await provider.stop() })
  const call = async (over: Partial<CallForProposal> = {}): Promise<{ cfp: CallForProposal, cfpId: string, bid: Envelope<Bid> }> => {
    const now = clock.now()
    const cfp: CallForProposal = { run: 'r', step: 's', capability: { name: 'echo' }, input: inputCid, input_size: input.byteLength, deadline: now + 3_600_000, reply_by: now + 2_000, ...over }
    const cfpId = envelopeId(signEnvelope(req, reg, 'CallForProposal.v1', cfp, { to: prov.id, now }))
    const answer = await provider.answerCall(cfp, cfpId, req.id)
    assert.equal(answer.type, 'Bid.v1')
    return { cfp, cfpId, bid: answer as Envelope<Bid> }
  }
  const award = (cfp: CallForProposal, cfpId: string, bid: Envelope<Bid>): { award: Award, id: string } => {
    const a: Award = { cfp: cfpId, bid: envelopeId(bid), run: 'r', step: 's', provider: prov.id, capability: offerCid, input: inputCid, limits: bid.body.limits, deadline: cfp.deadline }
    return { award: a, id: envelopeId(signEnvelope(req, reg, 'Award.v1', a, { to: prov.id, now: clock.now() })) }
  }
  return { clock, provider, call, award, requester: req.id }
}

test('a bid expires by the provider\'s clock: an award one ms before its TTL is accepted, one at its TTL is refused (BidExpiredError)', async (t) => {
  const { clock, provider, call, award, requester } = await setup(t)
  const first = await call()
  assert.equal(first.bid.body.expires, clock.now() + BID_TTL_MS)
  const second = await call({ step: 's' })
  clock.advance(BID_TTL_MS - 1)
  const a1 = award(first.cfp, first.cfpId, first.bid)
  assert.equal(provider.acceptAward(a1.award, a1.id, requester).accepted, true)
  clock.advance(1)
  const a2 = award(second.cfp, second.cfpId, second.bid)
  assert.throws(() => provider.acceptAward(a2.award, a2.id, requester), (err: Error) => err.name === 'BidExpiredError')
})

test('the bid sweep runs on the provider\'s clock and drops expired open bids', async (t) => {
  const { clock, provider, call } = await setup(t)
  await call()
  await call()
  assert.equal(provider.openBids, 2)
  // the sweep ran (every SWEEP_MS) but the bids are still valid
  clock.advance(BID_TTL_MS - 1)
  assert.equal(provider.openBids, 2)
  // the next sweep after the TTL drops them
  clock.advance(SWEEP_MS)
  assert.equal(provider.openBids, 0)
})

test('a call is refused (CfpExpiredError) once the provider\'s clock passes its reply_by', async (t) => {
  const { clock, provider, call } = await setup(t)
  const { cfp, cfpId } = await call()
  clock.advance(2_000)
  await assert.rejects(provider.answerCall(cfp, cfpId, 'someone'), (err: Error) => err.name === 'CfpExpiredError')
})
