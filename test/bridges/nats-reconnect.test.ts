/**
 * The NATS server going away and coming back: the nodes keep running, calls
 * meanwhile fail with a typed retryable error instead of hanging, a node
 * started while the server is down starts anyway, and once the server is
 * back every node reconnects and steps run over NATS again.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { waitFor } from '../helpers/mesh.js'
import type { PlNode } from '../../src/node.js'
import type { RemoteRunner } from '../../src/negotiation/index.js'
import { verifySignedReceipt } from '../../src/receipts/index.js'
import { step, dagOf, ctxOf, runId } from '../negotiation/helpers.js'
import { startNode, moduleDir, io, disc, neg, bridge, fetchProtocolCall, natsFixture, natsSkip, stopAll, type NatsServer } from '../helpers/nats.js'

const skip = natsSkip

let server: NatsServer
let provider: PlNode
let requester: PlNode
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  if (skip !== false) return
  const f = await natsFixture(cleanups)
  server = f.server
  const tmp = { dir: f.dir }
  provider = await startNode({ nats: { url: server.url }, listen: [], runStep: f.runStep }, cleanups)
  requester = await startNode({ nats: { url: server.url }, listen: [] }, cleanups)
  await disc(provider).publish({ name: 'Echo', version: '1.0.0', io }, { dir: await moduleDir(tmp.dir, 'echo', 'return { echo: inputData.x }') })
  await waitFor(async () => (await disc(requester).find({ name: 'Echo' }, { localOnly: true })).length === 1, 60_000, 'the Echo ad heard over NATS')
})

after(async () => { await stopAll(cleanups) })

test('the server going away and coming back does not crash the nodes; they reconnect and serve again', { skip, timeout: 180_000 }, async () => {
  const runner = neg(requester).runner as RemoteRunner
  const dag = dagOf([step('e', 'Echo')])
  const first = await runner.run(dag.steps.e, { x: 1 }, ctxOf(dag, runId('rc'), 'e'))
  assert.deepEqual(first.output, { echo: 1 })

  await server.stop()
  await waitFor(() => !bridge(provider).connected && !bridge(requester).connected, 60_000, 'both nodes to notice the server is gone')
  // a call meanwhile fails at once with a typed, retryable error
  await assert.rejects(fetchProtocolCall(requester, provider.peerId), (err: Error & { retryable?: boolean }) => err.name === 'RpcDialError' && err.retryable === true)
  // a node started while the server is down starts anyway, and waits for it
  const late = await startNode({ nats: { url: server.url }, listen: [] }, cleanups)
  assert.equal(bridge(late).connected, false)
  assert.equal(provider.isStarted && requester.isStarted, true)

  await server.restart()
  await waitFor(() => bridge(provider).connected && bridge(requester).connected && bridge(late).connected, 90_000, 'every node back on NATS')
  assert.ok((bridge(provider).status().reconnects as number) >= 1)
  const again = await runner.run(dag.steps.e, { x: 2 }, ctxOf(dag, runId('rc'), 'e'))
  assert.deepEqual(again.output, { echo: 2 })
  assert.equal(again.executor, provider.peerId)
  verifySignedReceipt(again.receipt, { requireRequester: true })
})
