/**
 * NoBidsError after a `busy` decline is retryable: a provider at its limit of
 * open bids or active steps refuses for now, not for good, so the executor's
 * retry policy runs the step again instead of failing the run. Any other
 * decline (here `over-limits`) keeps the error final.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { defaultBidStrategy, type RemoteRunner } from '../../src/negotiation/index.js'
import type { BidContext, BidStrategy } from '../../src/negotiation/types.js'
import { harness } from '../exec/helpers.js'
import { startOffersMesh, writeModule, step, dagOf, ctxOf, runId, type OffersMesh } from './helpers.js'

let m: OffersMesh
/** calls node 1 still declines `busy` before it bids again */
let busyCalls = 0
/** calls node 1 has answered */
let calls = 0

/** Node 1: `busy` for the next `busyCalls` calls, then the default strategy. Node 2: always over its limits. */
function strategyOf (i: number): BidStrategy {
  const fallback = defaultBidStrategy()
  return {
    decide: async (ctx: BidContext) => {
      if (i === 2) return { decline: 'over-limits', message: 'this provider takes no work of that size' }
      calls++
      if (busyCalls > 0) {
        busyCalls--
        return { decline: 'busy', message: 'all remote step slots in use' }
      }
      return await fallback.decide(ctx)
    }
  }
}

before(async () => {
  m = await startOffersMesh({ name: 'pl-neg-busy-', nodes: 3, provider: (i) => ({ strategy: strategyOf(i) }) })
  const echo = await writeModule(m.dir, 'echo', 'return { echoed: inputData.x }')
  m.offers.add(1, m.nodes[1], { name: 'Echo', price: 1 }, echo)
  m.offers.add(2, m.nodes[2], { name: 'Echo', price: 1 }, echo)
})

after(async () => {
  await m?.close()
})

const runner = (): RemoteRunner => m.runner()

test('a busy decline makes NoBidsError retryable', async () => {
  m.offers.visible = [1, 2]
  busyCalls = 1
  const dag = dagOf([step('echo', 'Echo')])
  await assert.rejects(runner().run(dag.steps.echo, { x: 1 }, ctxOf(dag, runId(), 'echo')), (err: Error & { retryable?: boolean }) => {
    assert.equal(err.name, 'NoBidsError')
    assert.match(err.message, /declined \(busy: all remote step slots in use\)/)
    assert.equal(err.retryable, true)
    return true
  })
})

test('without a busy decline NoBidsError stays final', async () => {
  m.offers.visible = [2]
  const dag = dagOf([step('echo', 'Echo')])
  await assert.rejects(runner().run(dag.steps.echo, { x: 1 }, ctxOf(dag, runId(), 'echo')), (err: Error & { retryable?: boolean }) => {
    assert.equal(err.name, 'NoBidsError')
    assert.match(err.message, /declined \(over-limits/)
    assert.equal(err.retryable, false)
    return true
  })
})

test('the executor retries a step whose only provider was busy, and the run succeeds', async () => {
  m.offers.visible = [1]
  busyCalls = 1
  calls = 0
  const h = await harness({ runners: [runner()] })
  try {
    const id = await h.executor.submit(dagOf([step('echo', 'Echo')]), { x: 7 })
    const run = await h.executor.wait(id)
    assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
    assert.deepEqual(await h.executor.output(run), { echoed: 7 })
    assert.equal(calls, 2, 'one busy decline, then a bid')
    const rec = (await h.executor.get(id)).steps.find(s => s.key === 'echo')
    assert.equal(rec?.attempts, 2)
  } finally {
    await h.close()
  }
})
