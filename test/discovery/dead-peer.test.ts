/**
 * A find whose caller knows a peer is dead (negotiation's quarantine): the
 * DHT walk neither asks it nor waits for kad-dht to give up on it. The dead
 * provider leaves without a goodbye: its DHT records stay and dials to its
 * address hang (a listener that accepts and never answers on its port).
 * Asserted on the walk's end reason and on who was reported, never on time.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import type { TestMesh } from '../helpers/mesh.js'
import type { FinderFindOptions, WalkEndReason } from '../../src/discovery/finder.js'
import { discoMesh, disc, dhtReady, descriptorInput, waitFor } from './helpers.js'

let mesh: TestMesh
let tarpit: Server | undefined
const held: Socket[] = []
let dead: string

before(async () => {
  // gossip off everywhere: node 0 learns providers only through the DHT walk
  mesh = await discoMesh({ nodes: 4, ttlMs: 60_000, gossip: () => false })
  await mesh.connected(1)
  await dhtReady(mesh, 2)
  for (const n of mesh.nodes.slice(1)) await disc(n).publish(descriptorInput('Dead'))
  await waitFor(async () => (await disc(mesh.nodes[0]).find({ name: 'Dead' }, { dhtOnly: true, timeoutMs: 3_000 })).length === 3, 30_000, 'node 0 to find the 3 providers through the DHT')
  const victim = mesh.nodes[1]
  dead = victim.peerId
  const port = Number(/\/tcp\/(\d+)/.exec(victim.addrs()[0])?.[1])
  await victim.libp2p.stop()
  tarpit = createServer((s) => { held.push(s) })
  await new Promise<void>((resolve, reject) => { tarpit?.once('error', reject); tarpit?.listen(port, '127.0.0.1', resolve) })
})

after(async () => {
  await mesh.stop()
  for (const s of held) s.destroy()
  await new Promise<void>((resolve) => { if (tarpit == null) resolve(); else tarpit.close(() => { resolve() }) })
})

test('a find that runs out of budget on a dead provider reports it unreachable, and no live one', async () => {
  const unreachable = new Set<string>()
  const options: FinderFindOptions = { dhtOnly: true, timeoutMs: 3_000, onUnreachable: (p) => { unreachable.add(p) } }
  const found = await disc(mesh.nodes[0]).find({ name: 'Dead' }, options)
  assert.equal(unreachable.has(dead), true, `reported: ${[...unreachable].join(', ')}`)
  for (const n of mesh.nodes.slice(2)) assert.equal(unreachable.has(n.peerId), false, 'a live provider is not reported')
  assert.deepEqual(found.map(f => f.provider).sort(), mesh.nodes.slice(2).map(n => n.peerId).sort())
})

test('with the dead provider excluded, the walk ends as soon as it waits only for it (not at the budget) and finds the live ones', async () => {
  for (let i = 0; i < 2; i++) {
    let reason: WalkEndReason | undefined
    const unreachable: string[] = []
    const options: FinderFindOptions = {
      dhtOnly: true,
      timeoutMs: 60_000,
      exclude: (p) => p === dead,
      onUnreachable: (p) => { unreachable.push(p) },
      onProgress: (e) => { reason = e.reason }
    }
    const found = await disc(mesh.nodes[0]).find({ name: 'Dead' }, options)
    assert.equal(reason, 'stalled')
    assert.deepEqual(found.map(f => f.provider).sort(), mesh.nodes.slice(2).map(n => n.peerId).sort())
    assert.deepEqual(unreachable, [], 'the excluded peer is not dialed over /pl/caps')
  }
})

test('with a limit, the walk stops once that many live providers are known; the excluded one does not count', async () => {
  let reason: WalkEndReason | undefined
  const options: FinderFindOptions = { dhtOnly: true, timeoutMs: 60_000, limit: 2, exclude: (p) => p === dead, onProgress: (e) => { reason = e.reason } }
  const found = await disc(mesh.nodes[0]).find({ name: 'Dead' }, options)
  assert.ok(reason === 'limit' || reason === 'stalled', String(reason))
  assert.equal(found.filter(f => f.provider !== dead).length, 2)
})
