import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { waitFor } from '../helpers/mesh.js'
import { type Negotiation, type RemoteRunner, type Provider } from '../../src/negotiation/index.js'
import { verifySignedReceipt } from '../../src/receipts/index.js'
import { startOffersMesh, writeModule, step, dagOf, ctxOf, runId, type OffersMesh } from './helpers.js'

let m: OffersMesh

before(async () => {
  m = await startOffersMesh({ name: 'pl-neg-failover-', nodes: 3 })
  const slow = await writeModule(m.dir, 'slow', "await new Promise((resolve) => { const t = setTimeout(resolve, 60000); context.signal?.addEventListener('abort', () => { clearTimeout(t); resolve() }) })\n    return { by: 'slow' }")
  const quick = await writeModule(m.dir, 'quick', "return { by: 'quick', doubled: inputData.n * 2 }")
  const thrower = await writeModule(m.dir, 'thrower', "throw new Error('the module cannot do ' + inputData.n)")
  m.offers.add(1, m.nodes[1], { name: 'Work', price: 1 }, slow)
  m.offers.add(2, m.nodes[2], { name: 'Work', price: 5 }, quick)
  m.offers.add(1, m.nodes[1], { name: 'Throw', price: 1 }, thrower)
  m.offers.add(2, m.nodes[2], { name: 'Throw', price: 5 }, thrower)
})

after(async () => {
  await m?.close()
})

function neg (): Negotiation {
  return m.requester()
}

test('a module error on the winner fails the step with the provider\'s error and is not re-awarded', async () => {
  const dag = dagOf([step('s', 'Throw')], { select: [{ attr: 'price', weight: 1 }] })
  const id = runId()
  await assert.rejects((neg().runner as RemoteRunner).run(dag.steps.s, { n: 7 }, ctxOf(dag, id, 's')), (err: any) => {
    assert.equal(err.name, 'RemoteStepFailedError')
    assert.equal(err.details.remote.name, 'ModuleError')
    assert.match(err.message, /the module cannot do 7/)
    return true
  })
  const exp = await neg().explanation(id, 's')
  assert.equal(exp.attempts.length, 1)
  assert.equal(exp.reawards, 0)
  // the executor retries the step: the new negotiation keeps the earlier one in its history
  await assert.rejects((neg().runner as RemoteRunner).run(dag.steps.s, { n: 7 }, ctxOf(dag, id, 's')), { name: 'RemoteStepFailedError' })
  const again = await neg().explanation(id, 's')
  assert.equal(again.history?.length, 1)
  assert.equal(again.history?.[0].attempts[0].award, exp.attempts[0].award)
  assert.notEqual(again.attempts[0].award, exp.attempts[0].award)
})

test('the winner stops mid-step: the backup completes the step and the explanation records the failure and the re-award', async () => {
  const dag = dagOf([step('s', 'Work')], { select: [{ attr: 'price', weight: 1 }] })
  const id = runId()
  const running = (neg().runner as RemoteRunner).run(dag.steps.s, { n: 21 }, ctxOf(dag, id, 's'))
  const winner = m.nodes[1].service<Negotiation>('negotiation').provider as Provider
  await waitFor(() => winner.running === 1, 20_000, 'the step to run on the cheaper provider')
  await m.nodes[1].stop()
  const res = await running
  assert.deepEqual(res.output, { by: 'quick', doubled: 42 })
  assert.equal(res.executor, m.nodes[2].peerId)
  verifySignedReceipt(res.receipt, { requireRequester: true })
  const exp = await neg().explanation(id, 's')
  assert.equal(exp.outcome, 'ok')
  assert.equal(exp.winner, m.nodes[2].peerId)
  assert.equal(exp.reawards, 1)
  assert.deepEqual(exp.attempts.map(a => [a.provider, a.outcome]), [[m.nodes[1].peerId, 'failed'], [m.nodes[2].peerId, 'ok']])
  assert.ok(exp.attempts[0].error?.name != null, 'the failure is named')
  assert.equal(exp.bids.find(b => b.provider === m.nodes[1].peerId)?.status, 'failed')
})
