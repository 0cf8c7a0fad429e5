/**
 * Ten real nodes in one process on 127.0.0.1: a capability published on
 * node 9 is found from node 0 via gossip, and — with gossip off on node 0 —
 * via the DHT alone; after node 9 is gone, node 0 stops finding it within
 * the ad TTL plus a margin.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CATALOG_TOPIC } from '../../src/discovery/index.js'
import { discoMesh, disc, dhtReady, descriptorInput, waitFor } from './helpers.js'

const TTL = 2_000
const MARGIN = 7_000

test('10 nodes: published on node 9, found from node 0 via gossip; gone within TTL + margin after node 9 dies', async () => {
  const mesh = await discoMesh({ nodes: 10, ttlMs: TTL })
  try {
    await mesh.connected(1)
    const [n0] = mesh.nodes
    const n9 = mesh.nodes[9]
    const { cid } = await disc(n9).publish(descriptorInput())
    await waitFor(async () => (await disc(n0).find({ name: 'Summarize' }, { localOnly: true })).length === 1, 20_000, 'node 0 to hear the ad')
    const [hit] = await disc(n0).find({ name: 'Summarize' }, { localOnly: true })
    assert.equal(hit.cid, cid)
    assert.equal(hit.provider, n9.peerId)
    assert.equal(hit.source, 'gossip')
    await waitFor(async () => {
      for (const n of mesh.nodes.slice(0, 9)) if ((await disc(n).find({ name: 'Summarize' }, { localOnly: true })).length !== 1) return false
      return true
    }, 20_000, 'every node to hear the ad')

    // node 9 dies without a word: its transport goes first, so no withdrawal reaches anyone
    await n9.libp2p.stop()
    const died = Date.now()
    await n9.stop()
    await waitFor(async () => (await disc(n0).find({ name: 'Summarize' }, { timeoutMs: 2_000 })).length === 0, TTL + MARGIN, 'node 0 to stop finding the dead provider')
    assert.ok(Date.now() - died <= TTL + MARGIN)
  } finally { await mesh.stop() }
})

test('10 nodes, gossip off on node 0: found via the DHT alone (provider record, /pl/caps, /pl/fetch); gone after node 9 stops', async () => {
  const mesh = await discoMesh({ nodes: 10, ttlMs: TTL, gossip: (i) => i !== 0 })
  try {
    await mesh.connected(1)
    await dhtReady(mesh, 3)
    const [n0] = mesh.nodes
    const n9 = mesh.nodes[9]
    assert.equal(n0.libp2p.services.pubsub.getTopics().includes(CATALOG_TOPIC), false, 'node 0 is not on the catalog topic')
    const { cid, descriptor } = await disc(n9).publish(descriptorInput())
    await waitFor(async () => (await disc(n0).find({ name: 'Summarize' }, { dhtOnly: true, timeoutMs: 3_000 })).length === 1, 30_000, 'node 0 to find it through the DHT')
    const [hit] = await disc(n0).find({ name: 'Summarize' }, { dhtOnly: true, timeoutMs: 3_000 })
    assert.equal(hit.cid, cid)
    assert.equal(hit.provider, n9.peerId)
    assert.equal(hit.source, 'dht')
    assert.deepEqual(hit.descriptor, descriptor)
    assert.equal(await n0.components.store.blocks.has(cid), true, 'the descriptor was fetched by CID and kept')
    assert.equal((await disc(n0).find({ name: 'Summarize' }, { dhtOnly: true, limit: 1, timeoutMs: 3_000 })).length, 1, 'a walk that stops at the first provider')
    // also by descriptor CID (provider record under the CID itself)
    const byCid = await disc(n0).findByCid(cid, { dhtOnly: true, timeoutMs: 3_000 })
    assert.deepEqual(byCid.map(f => f.provider), [n9.peerId])

    await n9.stop()
    const stopped = Date.now()
    await waitFor(async () => (await disc(n0).find({ name: 'Summarize' }, { timeoutMs: 2_000 })).length === 0, TTL + MARGIN, 'node 0 to stop finding it')
    assert.ok(Date.now() - stopped <= TTL + MARGIN)
  } finally { await mesh.stop() }
})
