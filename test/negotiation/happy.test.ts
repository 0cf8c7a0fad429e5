import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { ControlClient } from '../../src/api/client.js'
import { cidStringOf } from '../../src/core/encoding.js'
import { type Negotiation, RemoteRunner, ExplanationStore, policyResolver, summarize } from '../../src/negotiation/index.js'
import { receipts, ReceiptStore, verifyChain, verifySignedReceipt, receiptCid, type SignedReceipt } from '../../src/receipts/index.js'
import type { CandidateFinder } from '../../src/negotiation/types.js'
import { startOffersMesh, writeModule, step, dagOf, ctxOf, runId, type OffersMesh } from './helpers.js'

/** a configured policy name: self-attestation allowed, so the providers' descriptor strings meet it */
const NO_EXFIL = { name: 'no-exfil', require_attestations: ['pol-no-exfil'], self_attest: true }
let m: OffersMesh

before(async () => {
  m = await startOffersMesh({
    name: 'pl-neg-happy-',
    nodes: 3,
    // the operator grants the module `spawner` child processes (the grant goes in its receipts)
    pool: { sandbox: { grants: { spawner: ['child-process'] } } },
    controlApi: true,
    requesterServices: { receipts: receipts() },
    requester: { policies: { 'pol-no-exfil': NO_EXFIL } }
  })
  const summarizeA = await writeModule(m.dir, 'summarize-a', "context.progress(1, 2, 'half way')\n    return { summary: inputData.text.split(' ').slice(0, parameters.words).join(' '), impl: 'a' }")
  const summarizeB = await writeModule(m.dir, 'summarize-b', "return { summary: inputData.text.split(' ').slice(0, parameters.words).join(' ') + '…', impl: 'b' }")
  const split = await writeModule(m.dir, 'split', "return { sections: inputData.text.split('. ') }")
  m.offers.add(1, m.nodes[1], { name: 'Summarize', price: 2, attrs: { readability: 0.9, coverage: 0.9 }, policies: ['pol-no-exfil'] }, summarizeA)
  m.offers.add(2, m.nodes[2], { name: 'Summarize', price: 1, attrs: { readability: 0.6, coverage: 0.5 }, policies: ['pol-no-exfil'] }, summarizeB)
  m.offers.add(2, m.nodes[2], { name: 'Split', price: 0.1 }, split)
  m.offers.add(2, m.nodes[2], { name: 'Spawn', price: 0.1 }, { ...await writeModule(m.dir, 'spawner', 'return { ok: true }'), permissions: ['child-process'] })
})

after(async () => {
  await m?.close()
})

function requester (): Negotiation {
  return m.requester()
}

const text = 'Peers find capabilities. They negotiate work. They sign what they did.'

test('the best bid under the plan\'s select weights wins; the result and a countersigned receipt come back; the explanation says why', async () => {
  const neg = requester()
  const runner = neg.runner as RemoteRunner
  const dag = dagOf([step('summarize', 'Summarize', { parameters: { words: 3 } })], {
    select: [{ attr: 'readability', weight: 0.6 }, { attr: 'coverage', weight: 0.4 }, { attr: 'price', weight: 0.2 }],
    policies: ['pol-no-exfil']
  })
  assert.equal(await runner.canRun(dag.steps.summarize, { runId: 'x', dag, modules: {} }), true)
  const id = runId()
  const ctx = ctxOf(dag, id, 'summarize')
  const res = await runner.run(dag.steps.summarize, { text }, ctx)

  assert.deepEqual(res.output, { summary: 'Peers find capabilities.', impl: 'a' })
  assert.equal(res.executor, m.nodes[1].peerId, 'the provider with better readability and coverage wins despite its higher price')
  assert.deepEqual(ctx.events[0], [1, 2, 'half way'], 'progress of the remote module reaches the requester')

  const signed = res.receipt as SignedReceipt
  verifySignedReceipt(signed, { requireRequester: true })
  assert.equal(signed.receipt.provider, m.nodes[1].peerId)
  assert.equal(signed.receipt.requester, m.nodes[0].peerId)
  assert.deepEqual(signed.receipt.policies, [cidStringOf(NO_EXFIL)])
  assert.equal((await neg.receipts.forStep(id, 'summarize'))?.cid, receiptCid(signed.receipt))

  const exp = await neg.explanation(id, 'summarize')
  assert.equal(exp.outcome, 'ok')
  assert.equal(exp.winner, m.nodes[1].peerId)
  assert.equal(exp.bids.length, 2)
  const won = exp.bids.find(b => b.status === 'won')
  const backup = exp.bids.find(b => b.status === 'backup')
  assert.equal(won?.provider, m.nodes[1].peerId)
  assert.equal(won?.rank, 1)
  assert.equal(backup?.provider, m.nodes[2].peerId)
  assert.ok((won?.score ?? 0) > (backup?.score ?? 1))
  assert.deepEqual(won?.breakdown?.readability, { value: 0.9, normalized: 1, weight: 0.6, contribution: 0.6, inverted: false })
  assert.deepEqual(backup?.breakdown?.price, { value: 1, normalized: 1, weight: 0.2, contribution: 0.2, inverted: true })
  assert.equal(exp.attempts.length, 1)
  assert.equal(exp.reawards, 0)
  assert.match(summarize(exp), new RegExp(`^summarize: ${m.nodes[1].peerId} won with score 1\\.000 of 2 bids \\(price 2, eta 1000 ms\\)$`))
})

test('with price as the only weight the cheaper provider wins', async () => {
  const runner = requester().runner as RemoteRunner
  const dag = dagOf([step('summarize', 'Summarize', { parameters: { words: 2 } })], { select: [{ attr: 'price', weight: 1 }] })
  const res = await runner.run(dag.steps.summarize, { text }, ctxOf(dag, runId(), 'summarize'))
  assert.equal(res.executor, m.nodes[2].peerId)
  assert.deepEqual(res.output, { summary: 'Peers find…', impl: 'b' })
})

test('an input too large to send inline is fetched by the provider through /pl/fetch', async () => {
  const c = m.nodes[0].components
  const neg = requester()
  const runner = new RemoteRunner(c, { finder: m.offers.finder(), receipts: neg.receipts, explanations: neg.explanationStore, policies: policyResolver(c.store.blocks, c.registry), inlineInputBytes: 0, replyWindowMs: 3000, grantInput: (cid, peer, ttlMs) => { c.fetcher.grant(cid, peer, ttlMs) } })
  const dag = dagOf([step('summarize', 'Summarize', { parameters: { words: 1 } })], { select: [{ attr: 'price', weight: 1 }] })
  const big = 'word '.repeat(20_000)
  const res = await runner.run(dag.steps.summarize, { text: big }, ctxOf(dag, runId(), 'summarize'))
  assert.deepEqual(res.output, { summary: 'word…', impl: 'b' })
  verifySignedReceipt(res.receipt, { requireRequester: true })
})

test('one DHT walk per capability per walkEveryMs: between walks the catalog is asked (localOnly), and a walk follows when it has nobody', async () => {
  const c = m.nodes[0].components
  const neg = requester()
  const inner = m.offers.finder()
  const asked: Array<boolean | undefined> = []
  let catalogEmpty = false
  const finder: CandidateFinder = {
    find: async (query, options) => {
      asked.push(options.localOnly)
      return options.localOnly === true && catalogEmpty ? [] : await inner.find(query, options)
    }
  }
  const runner = new RemoteRunner(c, { finder, receipts: neg.receipts, explanations: neg.explanationStore, policies: policyResolver(c.store.blocks, c.registry), replyWindowMs: 3000, walkEveryMs: 60_000 })
  const dag = dagOf([step('summarize', 'Summarize', { parameters: { words: 1 } })], { select: [{ attr: 'price', weight: 1 }] })
  const runOnce = async (): Promise<string | undefined> => {
    const id = runId()
    await runner.run(dag.steps.summarize, { text }, ctxOf(dag, id, 'summarize'))
    return (await neg.explanation(id, 'summarize')).finds?.[0]?.walk
  }
  await runOnce()
  assert.deepEqual(asked, [undefined], 'the first round walks')
  assert.equal(await runOnce(), 'recent')
  assert.deepEqual(asked, [undefined, true], 'the second asks the catalog only')
  catalogEmpty = true
  await runOnce()
  assert.deepEqual(asked, [undefined, true, true, undefined], 'nobody in the catalog: a walk after all')
})

test('consecutive remote steps chain their receipts through prev, and the run verifies offline and over the control API', async () => {
  const neg = requester()
  const runner = neg.runner as RemoteRunner
  const dag = dagOf([
    step('split', 'Split'),
    step('summarize', 'Summarize', { after: ['split'], parameters: { words: 2 } })
  ], { select: [{ attr: 'price', weight: 1 }] })
  const id = runId()
  const first = await runner.run(dag.steps.split, { text }, ctxOf(dag, id, 'split'))
  assert.deepEqual(first.output, { sections: ['Peers find capabilities', 'They negotiate work', 'They sign what they did.'] })
  const second = await runner.run(dag.steps.summarize, { text: 'x y z', previous_outputs: { split: first.output } }, ctxOf(dag, id, 'summarize'))
  const a = first.receipt as SignedReceipt
  const b = second.receipt as SignedReceipt
  assert.deepEqual(b.receipt.prev, [receiptCid(a.receipt)])
  const chain = verifyChain(await new ReceiptStore(m.nodes[0].components.store).forRun(id))
  assert.equal(chain.receipts, 2)
  assert.deepEqual(chain.sinks, [receiptCid(b.receipt)])

  const client = await ControlClient.fromDataDir(m.nodes[0].components.dataDir)
  const exported = await client.request('GET', `/receipts/${id}`)
  assert.equal(exported.root, chain.root)
  const explained = await client.request('GET', `/runs/${id}/explanations`)
  assert.deepEqual(explained.steps.map((s: { step: string }) => s.step), ['split', 'summarize'])
  assert.equal(explained.steps[0].winner, m.nodes[2].peerId)
  await assert.rejects(neg.explanation(id, 'nope'), { name: 'ExplanationNotFoundError' })
})

test('a step whose capability is installed locally is not the remote runner\'s', async () => {
  const runner = requester().runner as RemoteRunner
  m.offers.add(0, m.nodes[0], { name: 'LocalOnly' }, m.offers.byNode.get(1)?.[0].module as any)
  const dag = dagOf([step('s', 'LocalOnly'), step('h', 'Human', { kind: 'human', capability: undefined })])
  assert.equal(await runner.canRun(dag.steps.s, { runId: 'x', dag, modules: {} }), false)
  assert.equal(await runner.canRun(dag.steps.h, { runId: 'x', dag, modules: {} }), false)
  const explanations = new ExplanationStore(m.nodes[0].components.store)
  assert.deepEqual(await explanations.forRun('no-such-run'), [])
})

test('the sandbox permissions the provider\'s operator granted the module are in the signed receipt', async () => {
  const runner = requester().runner as RemoteRunner
  const dag = dagOf([step('spawn', 'Spawn')])
  const res = await runner.run(dag.steps.spawn, {}, ctxOf(dag, runId(), 'spawn'))
  assert.deepEqual(res.output, { ok: true })
  const signed = res.receipt as SignedReceipt
  verifySignedReceipt(signed, { requireRequester: true })
  assert.equal(signed.receipt.isolation, 'sandbox')
  assert.deepEqual(signed.receipt.permissions, ['child-process'])
  const plain = await runner.run(dagOf([step('split', 'Split')]).steps.split, { text: 'a. b' }, ctxOf(dagOf([step('split', 'Split')]), runId(), 'split'))
  assert.equal((plain.receipt as SignedReceipt).receipt.permissions, undefined, 'none granted: no field')
})
