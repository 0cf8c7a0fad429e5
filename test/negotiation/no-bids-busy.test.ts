/**
 * NoBidsError after a `busy` decline is retryable: a provider at its limit of
 * open bids or active steps refuses for now, not for good, so the executor's
 * retry policy runs the step again instead of failing the run. Any other
 * decline (here `over-limits`) keeps the error final.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { TestMesh } from '../helpers/mesh.js'
import { tempDir } from '../helpers/tmp.js'
import type { ServiceFactory } from '../../src/node.js'
import { negotiation, defaultBidStrategy, type Negotiation, type RemoteRunner } from '../../src/negotiation/index.js'
import type { BidContext, BidStrategy } from '../../src/negotiation/types.js'
import { harness } from '../exec/helpers.js'
import { Offers, ModulePool, poolRunStep, writeModule, step, dagOf, ctxOf, runId } from './helpers.js'

let mesh: TestMesh
let pool: ModulePool
let cleanup: () => Promise<void>
const offers = new Offers()
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
  const tmp = await tempDir('pl-neg-busy-')
  cleanup = tmp.cleanup
  pool = new ModulePool()
  const runStep = poolRunStep(pool)
  mesh = await TestMesh.start({
    nodes: 3,
    services: (i): Record<string, ServiceFactory> => i === 0
      ? { negotiation: negotiation({ finder: offers.finder(), local: offers.localFor(0), replyWindowMs: 3000 }) }
      : { negotiation: negotiation({ local: offers.localFor(i), runStep, strategy: strategyOf(i) }) }
  })
  await mesh.connected(1)
  const echo = await writeModule(tmp.dir, 'echo', 'return { echoed: inputData.x }')
  offers.add(1, mesh.nodes[1], { name: 'Echo', price: 1 }, echo)
  offers.add(2, mesh.nodes[2], { name: 'Echo', price: 1 }, echo)
})

after(async () => {
  await mesh.stop()
  await pool.close()
  await cleanup()
})

const runner = (): RemoteRunner => mesh.nodes[0].service<Negotiation>('negotiation').runner as RemoteRunner

test('a busy decline makes NoBidsError retryable', async () => {
  offers.visible = [1, 2]
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
  offers.visible = [2]
  const dag = dagOf([step('echo', 'Echo')])
  await assert.rejects(runner().run(dag.steps.echo, { x: 1 }, ctxOf(dag, runId(), 'echo')), (err: Error & { retryable?: boolean }) => {
    assert.equal(err.name, 'NoBidsError')
    assert.match(err.message, /declined \(over-limits/)
    assert.equal(err.retryable, false)
    return true
  })
})

test('the executor retries a step whose only provider was busy, and the run succeeds', async () => {
  offers.visible = [1]
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
