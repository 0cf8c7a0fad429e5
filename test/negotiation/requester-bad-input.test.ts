/**
 * The requester against dishonest and unhelpful providers: every bad answer
 * is refused with its typed error, recorded in the award explanation, and
 * the step still completes on an honest backup when there is one.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { ModuleSpec } from '../../src/core/index.js'
import { type RemoteRunner, type StepExplanation } from '../../src/negotiation/index.js'
import { verifySignedReceipt } from '../../src/receipts/index.js'
import { startOffersMesh, writeModule, step, dagOf, ctxOf, runId, type OffersMesh } from './helpers.js'
import { ScriptedProvider } from './hostile.js'

let m: OffersMesh
let echo: ModuleSpec
let scripted: ScriptedProvider[]

before(async () => {
  // nodes 2 and 3 run no negotiation: the scripted providers answer there
  m = await startOffersMesh({ name: 'pl-neg-requester-', nodes: 4, requester: { replyWindowMs: 1500 }, provider: (i) => i === 1 ? {} : false })
  scripted = [await ScriptedProvider.install(m.nodes[2]), await ScriptedProvider.install(m.nodes[3])]
  echo = await writeModule(m.dir, 'echo', 'return { echoed: inputData }')
})

after(async () => {
  await m?.close()
})

function runner (): RemoteRunner {
  return m.runner()
}

async function explanation (run: string, key: string): Promise<StepExplanation> {
  return await m.requester().explanation(run, key)
}

/** `name` offered by the honest node 1 (price 5) and the scripted nodes given. */
function offer (name: string, onScripted: number[], honest = true, over: { policies?: string[], attestations?: string[] } = {}): void {
  if (honest) m.offers.add(1, m.nodes[1], { name, price: 5, ...over }, echo)
  for (const i of onScripted) m.offers.add(i, m.nodes[i], { name, price: 1 }, echo)
}

const cheapest = [{ attr: 'price', weight: 1 }]

test('refuses a bid whose signature does not match its sender, and awards the honest bid', async () => {
  offer('Forged', [2])
  scripted[0].behaviours.set('Forged', { bid: 'forged-signature' })
  const dag = dagOf([step('s', 'Forged')], { select: cheapest })
  const id = runId()
  const res = await runner().run(dag.steps.s, { v: 1 }, ctxOf(dag, id, 's'))
  assert.equal(res.executor, m.nodes[1].peerId)
  const exp = await explanation(id, 's')
  const bad = exp.answers.find(a => a.provider === m.nodes[2].peerId)
  assert.equal(bad?.kind, 'invalid')
  assert.equal(bad?.error, 'BadSignatureError')
  assert.equal(exp.bids.length, 1, 'the forged bid is not ranked')
})

test('refuses a bid signed by a peer other than the one that sent it', async () => {
  offer('Impostor', [2])
  scripted[0].behaviours.set('Impostor', { bid: 'other-signer' })
  const dag = dagOf([step('s', 'Impostor')], { select: cheapest })
  const id = runId()
  const res = await runner().run(dag.steps.s, { v: 1 }, ctxOf(dag, id, 's'))
  assert.equal(res.executor, m.nodes[1].peerId)
  const bad = (await explanation(id, 's')).answers.find(a => a.provider === m.nodes[2].peerId)
  assert.equal(bad?.kind, 'invalid')
  assert.equal(bad?.error, 'WrongSenderError')
})

test('a provider returning output bytes that do not match the claimed CID is refused and the backup completes', async () => {
  offer('Tampered', [2])
  scripted[0].behaviours.set('Tampered', { exec: 'wrong-output-bytes' })
  const dag = dagOf([step('s', 'Tampered')], { select: cheapest })
  const id = runId()
  const res = await runner().run(dag.steps.s, { v: 2 }, ctxOf(dag, id, 's'))
  assert.equal(res.executor, m.nodes[1].peerId)
  assert.deepEqual(res.output, { echoed: { v: 2 } })
  verifySignedReceipt(res.receipt, { requireRequester: true })
  const exp = await explanation(id, 's')
  assert.deepEqual(exp.attempts.map(a => [a.provider, a.outcome, a.error?.name]), [
    [m.nodes[2].peerId, 'failed', 'CidMismatchError'],
    [m.nodes[1].peerId, 'ok', undefined]
  ])
  assert.equal(exp.reawards, 1)
  assert.equal(exp.bids.find(b => b.provider === m.nodes[2].peerId)?.status, 'failed')
  assert.equal(exp.bids.find(b => b.provider === m.nodes[1].peerId)?.status, 'won')
})

test('a receipt reporting usage above the awarded limits is refused and the backup completes', async () => {
  offer('Greedy', [2])
  scripted[0].behaviours.set('Greedy', { exec: 'usage-over-limits' })
  const dag = dagOf([step('s', 'Greedy')], { select: cheapest })
  const id = runId()
  const res = await runner().run(dag.steps.s, { v: 3 }, ctxOf(dag, id, 's'))
  assert.equal(res.executor, m.nodes[1].peerId)
  assert.equal((await explanation(id, 's')).attempts[0].error?.name, 'ReceiptUsageExceededError')
})

test('a receipt naming a wrong input CID is refused and the backup completes', async () => {
  offer('Forgetful', [2])
  scripted[0].behaviours.set('Forgetful', { exec: 'wrong-input-cid' })
  const dag = dagOf([step('s', 'Forgetful')], { select: cheapest })
  const id = runId()
  const res = await runner().run(dag.steps.s, { v: 4 }, ctxOf(dag, id, 's'))
  assert.equal(res.executor, m.nodes[1].peerId)
  assert.equal((await explanation(id, 's')).attempts[0].error?.name, 'ReceiptInputMismatchError')
})

test('no usable bid gives NoBidsError naming what each candidate said', async () => {
  offer('Picky', [2, 3])
  scripted[0].behaviours.set('Picky', { bid: 'silent' })
  scripted[1].behaviours.set('Picky', { bid: 'forged-signature' })
  const polX = await m.nodes[0].components.store.blocks.put({ name: 'x', require_attestations: ['pol-x'] })
  const dag = dagOf([step('s', 'Picky')], { policies: [polX] })
  const id = runId()
  await assert.rejects(runner().run(dag.steps.s, {}, ctxOf(dag, id, 's')), (err: Error) => {
    assert.equal(err.name, 'NoBidsError')
    assert.match(err.message, new RegExp(`${m.nodes[1].peerId} bid but was filtered out \\(requirement pol-x of policy ${polX} is not attested by a trusted issuer\\)`))
    assert.match(err.message, new RegExp(`${m.nodes[2].peerId} did not answer`))
    assert.match(err.message, new RegExp(`${m.nodes[3].peerId} answered with BadSignatureError`))
    return true
  })
  const exp = await explanation(id, 's')
  assert.equal(exp.outcome, 'failed')
  assert.equal(exp.error?.name, 'NoBidsError')
  assert.deepEqual(exp.answers.map(a => a.kind).sort(), ['bid', 'invalid', 'timeout'])
})

test('a capability nobody offers gives NoProvidersError', async () => {
  const dag = dagOf([step('s', 'Nobody')])
  await assert.rejects(runner().run(dag.steps.s, {}, ctxOf(dag, runId(), 's')), { name: 'NoProvidersError' })
})

test('a Policy.v1 document excludes denied peers and bids without the required attestations', async () => {
  const c = m.nodes[0].components
  const policyCid = await c.store.blocks.put({ name: 'guarded', deny_peers: [m.nodes[3].peerId], require_attestations: ['att-secure'], self_attest: true, max_price: 10 })
  offer('Guarded', [2, 3], true, { policies: [policyCid], attestations: ['att-secure'] })
  scripted[0].behaviours.set('Guarded', { attestations: [policyCid] })
  const dag = dagOf([step('s', 'Guarded')], { select: cheapest, policies: [policyCid] })
  const id = runId()
  const res = await runner().run(dag.steps.s, {}, ctxOf(dag, id, 's'))
  assert.equal(res.executor, m.nodes[1].peerId, 'the only bid that satisfies the policy wins, though it is the dearest')
  assert.deepEqual((res.receipt as { receipt: { policies: string[] } }).receipt.policies, [policyCid])
  const exp = await explanation(id, 's')
  assert.equal(exp.answers.find(a => a.provider === m.nodes[3].peerId)?.kind, 'excluded')
  assert.match(exp.bids.find(b => b.provider === m.nodes[2].peerId)?.reason ?? '', /requirement att-secure of policy .* is not attested by a trusted issuer/)
  assert.deepEqual(exp.bids.find(b => b.provider === m.nodes[1].peerId)?.self_attested, ['att-secure'])
  assert.equal(scripted[1].cfps.size > 0 && [...scripted[1].cfps.values()].some(cfp => cfp.capability.name === 'Guarded'), false, 'a denied peer is never asked')
})

test('when every awarded provider fails the step fails with AllProvidersFailedError naming each attempt', async () => {
  offer('Broken', [2, 3], false)
  scripted[0].behaviours.set('Broken', { exec: 'wrong-output-bytes' })
  scripted[1].behaviours.set('Broken', { exec: 'wrong-input-cid' })
  const dag = dagOf([step('s', 'Broken')], { select: cheapest })
  const id = runId()
  await assert.rejects(runner().run(dag.steps.s, {}, ctxOf(dag, id, 's')), (err: Error) => {
    assert.equal(err.name, 'AllProvidersFailedError')
    assert.match(err.message, /CidMismatchError/)
    assert.match(err.message, /ReceiptInputMismatchError/)
    return true
  })
  const exp = await explanation(id, 's')
  assert.equal(exp.attempts.length, 2)
  assert.equal(exp.reawards, 1)
})

test('a bid missing a limit the plan asked for is filtered out, and the step runs on a bid that has it', async () => {
  offer('Limited', [2])
  scripted[0].behaviours.set('Limited', { limits: { mem_mb: 128 } })
  const dag = dagOf([step('s', 'Limited', { limits: { wall_ms: 3_000 } })], { select: cheapest })
  const id = runId()
  const res = await runner().run(dag.steps.s, {}, ctxOf(dag, id, 's'))
  assert.equal(res.executor, m.nodes[1].peerId, 'the cheaper bid without a wall limit is not usable')
  const exp = await explanation(id, 's')
  assert.match(exp.bids.find(b => b.provider === m.nodes[2].peerId)?.reason ?? '', /offers no wall_ms limit, the step needs 3000/)
})

test('each awarded limit is the smaller of the plan and the bid', async () => {
  offer('Roomy', [2], false)
  scripted[0].behaviours.set('Roomy', { limits: { wall_ms: 9_000, mem_mb: 128 } })
  const dag = dagOf([step('s', 'Roomy', { limits: { wall_ms: 3_000 } })], { select: cheapest })
  const id = runId()
  const res = await runner().run(dag.steps.s, {}, ctxOf(dag, id, 's'))
  assert.equal(res.executor, m.nodes[2].peerId)
  const award = [...scripted[0].awards.values()].find(a => a.run === id)
  assert.deepEqual(award?.limits, { wall_ms: 3_000, mem_mb: 128 })
})
