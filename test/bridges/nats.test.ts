/**
 * The NATS binding end to end against a real nats-server: a provider that
 * has no libp2p address at all (reachable only over NATS) is found through
 * its catalog ads on `pl.v1.catalog`, wins the call for proposals of a
 * requester that is on libp2p and NATS, and runs the step; the receipt
 * verifies and is countersigned. An open call on `pl.v1.cfp.<name>` reaches
 * it too.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { peerIdFromString } from '@libp2p/peer-id'
import { waitFor } from '../helpers/mesh.js'
import type { PlNode } from '../../src/node.js'
import type { RemoteRunner } from '../../src/negotiation/index.js'
import { verifySignedReceipt, type SignedReceipt } from '../../src/receipts/index.js'
import { step, dagOf, ctxOf, runId } from '../negotiation/helpers.js'
import { startNode, moduleDir, io, disc, neg, bridge, natsFixture, natsSkip, stopAll, type NatsServer } from '../helpers/nats.js'

const skip = natsSkip

let server: NatsServer
let requester: PlNode
let viaLibp2p: PlNode
let natsOnly: PlNode
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  if (skip !== false) return
  const f = await natsFixture(cleanups)
  server = f.server
  const { runStep } = f
  const tmp = { dir: f.dir }
  requester = await startNode({ nats: { url: server.url } }, cleanups)
  viaLibp2p = await startNode({ bootstrap: requester.addrs(), runStep }, cleanups)
  natsOnly = await startNode({ nats: { url: server.url }, listen: [], runStep }, cleanups)
  await waitFor(() => bridge(requester).connected && bridge(natsOnly).connected, 30_000, 'both NATS nodes connected')
  await disc(viaLibp2p).publish({ name: 'Upper', version: '1.0.0', io, price: 5 }, { dir: await moduleDir(tmp.dir, 'upper-libp2p', "return { text: String(inputData.text).toUpperCase(), by: 'libp2p' }") })
  await disc(natsOnly).publish({ name: 'Upper', version: '1.0.0', io, price: 1 }, { dir: await moduleDir(tmp.dir, 'upper-nats', "context.progress(1, 2, 'half'); return { text: String(inputData.text).toUpperCase(), by: 'nats' }") })
  await disc(natsOnly).publish({ name: 'Lower', version: '1.0.0', io, price: 1 }, { dir: await moduleDir(tmp.dir, 'lower-nats', 'return { text: String(inputData.text).toLowerCase() }') })
  await waitFor(async () => (await disc(requester).find({ name: 'Upper' }, { localOnly: true })).length === 2, 60_000, 'the requester to hear both Upper ads (gossipsub and NATS)')
})

after(async () => { await stopAll(cleanups) })

test('a provider reachable only over NATS wins and runs a step for a requester on libp2p + NATS; the receipt verifies', { skip, timeout: 120_000 }, async () => {
  const heard = await disc(requester).find({ name: 'Upper' }, { localOnly: true })
  assert.deepEqual(heard.map(c => c.provider).sort(), [viaLibp2p.peerId, natsOnly.peerId].sort())
  const runner = neg(requester).runner as RemoteRunner
  const dag = dagOf([step('up', 'Upper')])
  const id = runId('nats')
  const ctx = ctxOf(dag, id, 'up')
  const res = await runner.run(dag.steps.up, { text: 'mesh' }, ctx)

  assert.deepEqual(res.output, { text: 'MESH', by: 'nats' })
  assert.equal(res.executor, natsOnly.peerId, 'the cheaper provider, on NATS only, wins')
  assert.deepEqual(ctx.events[0], [1, 2, 'half'], 'progress frames come back over the reply inbox')
  const signed = res.receipt as SignedReceipt
  verifySignedReceipt(signed, { requireRequester: true })
  assert.equal(signed.receipt.provider, natsOnly.peerId)
  assert.equal(signed.receipt.requester, requester.peerId)
  const exp = await neg(requester).explanation(id, 'up')
  assert.equal(exp.bids.length, 2, 'both providers bid: one over libp2p, one over NATS')
  assert.equal(requester.libp2p.getConnections(peerIdFromString(natsOnly.peerId)).length, 0, 'no libp2p connection to the NATS-only provider')
  assert.equal(natsOnly.libp2p.getConnections().length, 0, 'the NATS-only provider has no libp2p connection at all')
  const served = await natsOnly.components.metrics.rpc.get()
  const okIn = (protocol: string): number => served.values.find(v => v.labels.protocol === protocol && v.labels.direction === 'in' && v.labels.status === 'OK')?.value ?? 0
  assert.ok(okIn('/pl/negotiate/1.0.0') >= 1, 'the CFP was served over NATS')
  assert.equal(okIn('/pl/exec/1.0.0'), 1, 'the step was awarded (the award travels with the exec call) and executed over NATS')
})

test('a step input too large to send inline is fetched by the provider from the requester over NATS (/pl/fetch, granted to it)', { skip, timeout: 120_000 }, async () => {
  const runner = neg(requester).runner as RemoteRunner
  const dag = dagOf([step('up', 'Upper')])
  const text = 'nats '.repeat(30_000) // 150 kB: over the 64 KiB inline limit
  const res = await runner.run(dag.steps.up, { text }, ctxOf(dag, runId('nats-big'), 'up'))
  assert.equal(res.executor, natsOnly.peerId)
  assert.equal((res.output as { text: string }).text, text.toUpperCase())
  const fetched = (await requester.components.metrics.rpc.get()).values.find(v => v.labels.protocol === '/pl/fetch/1.0.0' && v.labels.direction === 'in' && v.labels.status === 'OK')?.value ?? 0
  assert.ok(fetched >= 1, 'the requester served the input block')
  assert.equal(requester.libp2p.getConnections(peerIdFromString(natsOnly.peerId)).length, 0, 'still no libp2p connection between them')
})

test('an open call on pl.v1.cfp.<name> reaches a NATS-only provider, which answers over NATS and runs the step', { skip, timeout: 120_000 }, async () => {
  // a requester that knows no provider (its finder finds nobody) publishes an open call
  const blind = await startNode({ nats: { url: server.url }, finder: { find: async () => [] } }, cleanups)
  await waitFor(() => bridge(blind).connected && bridge(natsOnly).subscribed().includes('pl.v1.cfp.Lower'), 60_000, 'the provider following pl.v1.cfp.Lower')
  const runner = neg(blind).runner as RemoteRunner
  const dag = dagOf([step('low', 'Lower')])
  const id = runId('nats-open')
  const res = await runner.run(dag.steps.low, { text: 'MESH' }, ctxOf(dag, id, 'low'))
  assert.deepEqual(res.output, { text: 'mesh' })
  assert.equal(res.executor, natsOnly.peerId)
  const exp = await neg(blind).explanation(id, 'low')
  assert.equal(exp.open, true, 'the bid came in answer to an open call')
  verifySignedReceipt(res.receipt, { requireRequester: true })
})
