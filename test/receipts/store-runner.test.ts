import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createIdentity } from '../../src/core/index.js'
import { cidStringOf } from '../../src/core/encoding.js'
import { silentLogger } from '../../src/core/logger.js'
import { ReceiptStore } from '../../src/receipts/store.js'
import { ReceiptingRunner, selfAwardId } from '../../src/receipts/runner.js'
import { verifyChain } from '../../src/receipts/chain.js'
import { receiptCid, type SignedReceipt } from '../../src/receipts/signing.js'
import { stepCallDocument } from '../../src/receipts/call.js'
import { baseStepId } from '../../src/receipts/prev.js'
import type { Step, TaskDag } from '../../src/workflow/index.js'
import type { StepContext, StepRunner } from '../../src/exec/types.js'
import { withStore } from '../helpers/tmp.js'
import { parties, accepted, diamond } from './helpers.js'

function step (id: string, after: string[], over: Partial<Step> = {}): Step {
  return { id, kind: 'call', capability: { name: id.toUpperCase() }, parameters: { p: id }, settings: {}, after, args: {}, limits: {}, ...over }
}

function dagOf (steps: Step[]): TaskDag {
  return { v: 1, name: 't', source: { format: 'dsl' }, mode: 'dag', inputs: {}, constraints: {}, policies: ['pol-x'], select: [], globalSettings: { g: 1 }, globalParameters: {}, steps: Object.fromEntries(steps.map(s => [s.id, s])), outputs: [steps[steps.length - 1].id] }
}

function ctxOf (dag: TaskDag, runId: string, key: string): StepContext {
  const log = silentLogger()
  return { runId, key, attempt: 1, limits: { wall_ms: 5000, mem_mb: 128 }, dag, modules: {}, signal: new AbortController().signal, progress: () => {}, log, addon: async () => undefined, ask: async () => 'yes' }
}

/** A real inner runner: adds 1 to `n` from its input (or to the sum of upstream outputs). */
const adder: StepRunner = {
  name: 'local',
  canRun: () => true,
  run: async (_step, inputData) => {
    const prev = Object.values((inputData.previous_outputs ?? {}) as Record<string, { n: number }>)
    const n = prev.length > 0 ? prev.reduce((a, o) => a + o.n, 0) : (inputData.n as number)
    return { output: { n: n + 1 }, usage: { cpu_ms: 1, wall_ms: 2, mem_peak_mb: 3 } }
  }
}

test('the store indexes receipts by run and step and computes the run root', async () => {
  await withStore(async (store) => {
    const receipts = new ReceiptStore(store)
    const p = await parties()
    const chain = diamond(p)
    for (const r of chain) await receipts.put(r)
    await receipts.put(accepted(p, { run: 'run-10', step: 'a' }))
    assert.deepEqual((await receipts.forRun('run-1')).map(r => r.receipt.step), ['a', 'b', 'c', 'd'])
    assert.equal((await receipts.forStep('run-1', 'c'))?.cid, receiptCid(chain[2].receipt))
    assert.equal((await receipts.root('run-1')).cid, verifyChain(chain).root)
    await assert.rejects(receipts.root('no-such-run'), { name: 'ReceiptNotFoundError' })
  })
})

test('local steps get self-signed receipts chained through prev, and the run verifies offline', async () => {
  await withStore(async (store) => {
    const me = await createIdentity()
    const receipts = new ReceiptStore(store)
    const runner = new ReceiptingRunner(adder, { identity: me, receipts })
    const dag = dagOf([step('a', []), step('b', ['a']), step('c', ['a']), step('d', ['b', 'c'])])
    const outputs: Record<string, unknown> = {}
    const results: Record<string, SignedReceipt> = {}
    for (const id of ['a', 'b', 'c', 'd']) {
      const s = dag.steps[id]
      const inputData = { n: 1, previous_outputs: Object.fromEntries(s.after.map(u => [u, outputs[u]])) }
      const res = await runner.run(s, inputData, ctxOf(dag, 'run-L', id))
      outputs[id] = res.output
      results[id] = res.receipt as SignedReceipt
      assert.equal(res.executor, me.id)
      const r = results[id].receipt
      assert.equal(r.provider, me.id)
      assert.equal(r.requester, me.id)
      assert.equal(r.input, cidStringOf(stepCallDocument(s, inputData, dag)))
      assert.equal(r.output, cidStringOf(res.output))
      assert.equal(r.award, selfAwardId('run-L', id, me.id, r.input))
      assert.deepEqual(r.policies, ['pol-x'])
    }
    assert.deepEqual(outputs.d, { n: 7 }) // a=2, b=c=3, d=3+3+1
    assert.deepEqual(results.b.receipt.prev, [receiptCid(results.a.receipt)])
    assert.deepEqual(results.d.receipt.prev, [receiptCid(results.b.receipt), receiptCid(results.c.receipt)].sort())
    const chain = verifyChain(await receipts.forRun('run-L'))
    assert.equal(chain.receipts, 4)
    assert.deepEqual(chain.sinks, [receiptCid(results.d.receipt)])
  })
})

test('prev looks through steps without receipts and gathers every map instance', async () => {
  await withStore(async (store) => {
    const me = await createIdentity()
    const receipts = new ReceiptStore(store)
    const runner = new ReceiptingRunner(adder, { identity: me, receipts })
    const dag = dagOf([step('m', [], { kind: 'map' }), step('gate', ['m'], { kind: 'branch', capability: undefined }), step('r', ['gate'], { kind: 'reduce' })])
    const items: SignedReceipt[] = []
    for (const key of ['m[0]', 'm[1]']) items.push((await runner.run(dag.steps.m, { n: 1 }, ctxOf(dag, 'run-M', key))).receipt as SignedReceipt)
    const r = (await runner.run(dag.steps.r, { n: 2 }, ctxOf(dag, 'run-M', 'r'))).receipt as SignedReceipt
    assert.deepEqual(r.receipt.prev, items.map(i => receiptCid(i.receipt)).sort())
    assert.equal(baseStepId('sum@2[3]'), 'sum')
    verifyChain(await receipts.forRun('run-M'))
  })
})

test('a result that already carries a receipt passes through unchanged', async () => {
  await withStore(async (store) => {
    const p = await parties()
    const remote = accepted(p)
    const inner: StepRunner = { name: 'remote', canRun: () => true, run: async () => ({ output: 1, usage: { cpu_ms: 0, wall_ms: 0, mem_peak_mb: 0 }, receipt: remote, executor: p.provider.id }) }
    const runner = new ReceiptingRunner(inner, { identity: p.requester, receipts: new ReceiptStore(store) })
    const dag = dagOf([step('a', [])])
    const res = await runner.run(dag.steps.a, {}, ctxOf(dag, 'run-1', 'a'))
    assert.equal(res.receipt, remote)
    assert.equal(res.executor, p.provider.id)
    assert.equal(runner.name, 'remote')
  })
})
