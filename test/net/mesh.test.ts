import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TestMesh } from '../helpers/mesh.js'
import { until, type Listenable } from '../helpers/events.js'
import { defineProtocol, expectOk } from '../../src/net/rpc.js'
import type { VerifiedEnvelope } from '../../src/core/index.js'

const cfpId = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

// Every wait below is on an event (connections, routing-table additions, subscriptions, deliveries), never on
// elapsed time; the node:test timeout only turns a mesh that never forms into a failure instead of a hang.
test('three real nodes connect, fill their DHT tables, gossip a signed envelope and answer a request', { timeout: 300_000 }, async () => {
  const mesh = await TestMesh.start({ nodes: 3 })
  try {
    await Promise.all(mesh.nodes.map(async n => {
      await until(() => n.libp2p.getPeers().length >= 2, [[n.libp2p, ['peer:connect', 'peer:identify', 'connection:open']]])
    }))
    await Promise.all(mesh.nodes.map(async n => {
      const table = n.libp2p.services.dht.routingTable
      // the service's type hides that its routing table is an event emitter (kad-dht's RoutingTable emits peer:add)
      await until(() => table.size >= 2, [[table as unknown as Listenable, ['peer:add']]])
    }))

    const received: Array<Array<VerifiedEnvelope<any>>> = mesh.nodes.map(() => [])
    const delivered = [Promise.withResolvers<void>(), Promise.withResolvers<void>(), Promise.withResolvers<void>()]
    mesh.nodes.forEach((n, i) => {
      n.components.gossip.subscribe('pl/v1/test', { types: ['Decline.v1'], onMessage: (v) => { received[i].push(v); delivered[i].resolve() } })
    })
    // wait for node 1 to learn both subscriptions, then publish from it
    const pubsub = mesh.nodes[1].libp2p.services.pubsub
    await until(() => pubsub.getSubscribers('pl/v1/test').length >= 2, [[pubsub, ['subscription-change']]])
    const env = mesh.nodes[1].components.sign('Decline.v1', { cfp: cfpId, run: 'r', step: 's', reason: 'busy' })
    await mesh.nodes[1].components.gossip.publish('pl/v1/test', env)
    await Promise.all([delivered[0].promise, delivered[2].promise])
    assert.equal(received[0].length, 1)
    assert.equal(received[2].length, 1)
    assert.equal(received[1].length, 0, 'the publisher does not deliver to itself')
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
