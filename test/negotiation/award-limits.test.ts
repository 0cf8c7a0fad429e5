/**
 * A provider driven directly (no network): an award must restate every
 * limit the bid set, > 0 and within the bid, and a deadline within the
 * call's; a call asking a 0 limit is declined.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createIdentity, type Identity, signEnvelope, EnvelopeVerifier, envelopeId, type Envelope } from '../../src/core/index.js'
import { SchemaRegistry } from '../../src/spec/index.js'
import { encodeCanonical, cidOfBytes } from '../../src/core/encoding.js'
import { silentLogger } from '../../src/core/logger.js'
import { Provider } from '../../src/negotiation/provider.js'
import type { Award, Bid, CallForProposal, Decline, Limits } from '../../src/negotiation/index.js'

let reg: SchemaRegistry
let prov: Identity
let req: Identity
let provider: Provider
let offerCid: string
let seen: Limits | undefined
const input = encodeCanonical({ input_data: {}, parameters: {}, settings: {}, global_settings: {}, global_parameters: {} })
const inputCid = cidOfBytes(input).toString()

before(async () => {
  reg = SchemaRegistry.loadSync()
  prov = await createIdentity()
  req = await createIdentity()
  const verifier = new EnvelopeVerifier(reg, undefined, { self: prov.id })
  const descriptor = { name: 'echo', version: '1.0.0', provider: prov.id, io: { input: {}, output: {} }, limits: { wall_ms: 1000, mem_mb: 64 } }
  offerCid = cidOfBytes(encodeCanonical(descriptor)).toString()
  const offer = { cid: offerCid, descriptor, module: { key: 'echo', dir: '/x', cid: offerCid, kind: 'js' } }
  provider = new Provider({
    identity: prov,
    registry: reg,
    verifier,
    rpc: { handle: async () => {} } as any,
    logger: silentLogger(),
    sign: (t, b, o) => signEnvelope(prov, reg, t, b, o)
  }, {
    local: { localOffer: async () => offer } as any,
    runStep: async (_m, call) => { seen = call.limits; return { output: { ok: 1 }, usage: {} } as any }
  })
  await provider.start()
})

after(async () => {
  await provider.stop()
})

async function bidFor (over: Partial<CallForProposal> = {}): Promise<{ cfp: CallForProposal, cfpId: string, answer: Envelope<Bid | Decline> }> {
  const now = Date.now()
  const cfp: CallForProposal = { run: 'r', step: 's', capability: { name: 'echo' }, input: inputCid, input_size: input.byteLength, deadline: now + 10_000, reply_by: now + 2_000, ...over }
  const cfpId = envelopeId(signEnvelope(req, reg, 'CallForProposal.v1', cfp, { to: prov.id }))
  return { cfp, cfpId, answer: await provider.answerCall(cfp, cfpId, req.id) }
}

function awardFor (cfp: CallForProposal, cfpId: string, bid: Envelope<Bid>, over: Partial<Award> = {}): { award: Award, env: Envelope<Award> } {
  const award: Award = { cfp: cfpId, bid: envelopeId(bid), run: 'r', step: 's', provider: prov.id, capability: offerCid, input: inputCid, limits: bid.body.limits, deadline: cfp.deadline, ...over }
  return { award, env: signEnvelope(req, reg, 'Award.v1', award, { to: prov.id }) }
}

function assertMismatch (fn: () => unknown, field: string): void {
  assert.throws(fn, (err: any) => err.name === 'AwardMismatchError' && err.details.field === field)
}

test('rejects an award that leaves out a limit the bid set', async () => {
  const { cfp, cfpId, answer } = await bidFor()
  assert.equal(answer.type, 'Bid.v1')
  const { award, env } = awardFor(cfp, cfpId, answer as Envelope<Bid>, { limits: { mem_mb: 64 } })
  assertMismatch(() => provider.acceptAward(award, envelopeId(env), req.id), 'limits.wall_ms')
})

test('rejects an award that sets a limit the bid set to 0', async () => {
  const { cfp, cfpId, answer } = await bidFor()
  const { award, env } = awardFor(cfp, cfpId, answer as Envelope<Bid>, { limits: { wall_ms: 1000, mem_mb: 0 } })
  assertMismatch(() => provider.acceptAward(award, envelopeId(env), req.id), 'limits.mem_mb')
})

test('rejects an award whose deadline is after the call deadline', async () => {
  const { cfp, cfpId, answer } = await bidFor()
  const { award, env } = awardFor(cfp, cfpId, answer as Envelope<Bid>, { deadline: cfp.deadline + 40 * 24 * 3600_000 })
  assertMismatch(() => provider.acceptAward(award, envelopeId(env), req.id), 'deadline')
})

test('rejects an award whose deadline is more than a day away even when the call allowed it', async () => {
  const far = Date.now() + 40 * 24 * 3600_000
  const { cfp, cfpId, answer } = await bidFor({ deadline: far })
  assert.equal(answer.type, 'Bid.v1')
  const { award, env } = awardFor(cfp, cfpId, answer as Envelope<Bid>, { deadline: far })
  assertMismatch(() => provider.acceptAward(award, envelopeId(env), req.id), 'deadline')
})

test('declines a call asking a limit of 0', async () => {
  const { answer } = await bidFor({ limits: { wall_ms: 0 } })
  assert.equal(answer.type, 'Decline.v1')
  assert.equal((answer.body as Decline).reason, 'over-limits')
})

test('runs an accepted award with the awarded limits, never above the bid', async () => {
  const { cfp, cfpId, answer } = await bidFor()
  const { award, env } = awardFor(cfp, cfpId, answer as Envelope<Bid>, { limits: { wall_ms: 500, mem_mb: 32 } })
  provider.acceptAward(award, envelopeId(env), req.id)
  const res = await (provider as any).onExec({ award: env, input }, { peer: req.id, signal: new AbortController().signal, progress: async () => {} })
  assert.equal(res.status, 'OK')
  assert.equal(seen?.wall_ms, 500)
  assert.equal(seen?.mem_mb, 32)
})

test('an open bid keeps only the call fields it needs (constraints for the module, bounded by the schema), not the whole decoded call', async () => {
  const { answer } = await bidFor({ constraints: { note: 'x'.repeat(200) }, reply_to: ['/ip4/127.0.0.1/tcp/1'] })
  assert.equal(answer.type, 'Bid.v1')
  const kept = (provider as any).bids.get(envelopeId(answer)).cfp
  // constraints are kept for the module's context.constraints; the CallForProposal schema bounds their size
  assert.deepEqual(kept.constraints, { note: 'x'.repeat(200) })
  assert.equal(kept.reply_to, undefined)
  assert.equal(kept.input, inputCid)
})
