import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TestMesh, waitFor } from '../helpers/mesh.js'
import { defineProtocol, expectOk } from '../../src/net/rpc.js'
import type { VerifiedEnvelope } from '../../src/core/envelope.js'

const cfpId = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

test('three real nodes connect, fill their DHT tables, gossip a signed envelope and answer a request', async () => {
  const mesh = await TestMesh.start({ nodes: 3 })
  try {
    await mesh.connected(2)
    await waitFor(() => mesh.nodes.every(n => n.libp2p.services.dht.routingTable.size >= 2), 20_000, 'DHT routing tables to fill')

    const received: Array<Array<VerifiedEnvelope<any>>> = mesh.nodes.map(() => [])
    mesh.nodes.forEach((n, i) => {
      n.components.gossip.subscribe('pl/v1/test', { types: ['Decline.v1'], onMessage: (v) => { received[i].push(v) } })
    })
    // wait for the mesh to form on the topic, then publish from node 1
    await waitFor(() => mesh.nodes[1].libp2p.services.pubsub.getSubscribers('pl/v1/test').length >= 2, 20_000, 'topic subscribers')
    const env = mesh.nodes[1].components.sign('Decline.v1', { cfp: cfpId, run: 'r', step: 's', reason: 'busy' })
    await mesh.nodes[1].components.gossip.publish('pl/v1/test', env)
    await waitFor(() => received[0].length === 1 && received[2].length === 1, 20_000, 'gossip delivery')
    assert.equal(received[0][0].envelope.from, mesh.nodes[1].peerId)

    const echo = defineProtocol<{ n: number }, { n: number, peer: string }>({
      id: '/pl/test-echo/1.0.0',
      handler: async (req, ctx) => ({ status: 'OK', body: { n: req.n + 1, peer: ctx.peer } })
    })
    await mesh.nodes[2].components.rpc.handle(echo)
    const res = await mesh.nodes[0].components.rpc.request(mesh.nodes[2].peerId, echo, { n: 41 })
    assert.deepEqual(expectOk(res, echo.id), { n: 42, peer: mesh.nodes[0].peerId })
  } finally {
    await mesh.stop()
  }
})
