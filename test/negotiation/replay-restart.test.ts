/**
 * Calls and awards on /pl/negotiate are recorded in the replay store with
 * the write deferred (ReplayStore `add` with `defer`): a replay is still
 * refused, at once and after the provider restarts on its data dir.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { TestMesh } from '../helpers/mesh.js'
import { negotiation, negotiateProtocol, type CallForProposal } from '../../src/negotiation/index.js'
import { cidOfBytes, encodeCanonical } from '../../src/core/encoding.js'
import type { RpcResponse } from '../../src/net/index.js'
import type { ServiceFactory } from '../../src/node.js'
import type { Envelope } from '../../src/core/index.js'

let mesh: TestMesh
const negotiate = negotiateProtocol()

before(async () => {
  // node 1 serves /pl/negotiate without offers: it declines calls, after verifying and recording them
  mesh = await TestMesh.start({ nodes: 2, services: (i): Record<string, ServiceFactory> => i === 1 ? { negotiation: negotiation({ openCalls: false }) } : {} })
})

after(async () => {
  await mesh?.stop()
})

function cfp (): CallForProposal {
  const now = Date.now()
  return { run: 'run-r', step: 's', capability: { name: 'Echo' }, input: cidOfBytes(encodeCanonical({ x: 1 })).toString(), input_size: 8, deadline: now + 60_000, reply_by: now + 5_000, limits: {} }
}

async function send (envelope: Envelope<any>): Promise<RpcResponse<any>> {
  return await mesh.nodes[0].components.rpc.request(mesh.nodes[1].peerId, negotiate, { envelope })
}

test('a replayed call is refused with its record deferred, and again after the provider restarts', async () => {
  const calls = [0, 1, 2].map(() => mesh.nodes[0].components.sign('CallForProposal.v1', cfp(), { to: mesh.nodes[1].peerId }))
  for (const env of calls) assert.equal((await send(env)).status, 'OK')
  const replay = mesh.nodes[1].components.replay
  assert.ok(replay.stats.deferred >= 1, `some records deferred: ${JSON.stringify(replay.stats)}`)
  for (const env of calls) {
    const res = await send(env)
    assert.equal(res.status, 'REJECTED')
    assert.equal(res.error?.name, 'ReplayError')
  }
  const counted = (await mesh.nodes[1].components.metrics.rejected.get()).values.find(v => v.labels.area === 'envelope' && v.labels.reason === 'ReplayError')?.value
  assert.equal(counted, calls.length, 'each refused replay is counted')
  await mesh.restart(1)
  // it listens on a new port
  await mesh.nodes[0].libp2p.dial(mesh.nodes[1].libp2p.getMultiaddrs()[0])
  for (const env of calls) {
    const res = await send(env)
    assert.equal(res.status, 'REJECTED', 'refused from the disk record after a restart')
    assert.equal(res.error?.name, 'ReplayError')
  }
  // a fresh call is answered as before
  assert.equal((await send(mesh.nodes[0].components.sign('CallForProposal.v1', cfp(), { to: mesh.nodes[1].peerId }))).status, 'OK')
})
