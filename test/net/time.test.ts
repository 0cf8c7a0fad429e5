/**
 * /pl/time and `GET /net/clock`: a node measures its peers' clocks (what
 * `pl-node doctor` reports), a peer whose clock is off shows as skewed, and
 * a peer answering nonsense is an error of that peer, not of the measurement.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { TestMesh } from '../helpers/mesh.js'
import { ControlClient } from '../../src/api/client.js'
import { defineProtocol } from '../../src/net/rpc.js'
import { CLOCK_WARN_MS, measurePeerClocks, summarizeClockOffsets, TIME_PROTOCOL, timeProtocol } from '../../src/net/time.js'
import { systemClock, type Clock } from '../../src/core/clock.js'

const AHEAD_MS = 90_000
let mesh: TestMesh

before(async () => {
  mesh = await TestMesh.start({ nodes: 3, controlApi: true })
  await mesh.connected(2)
  // node 1's clock is 90 s ahead (its /pl/time answers from a shifted clock)
  const ahead: Clock = { ...systemClock, now: () => Date.now() + AHEAD_MS }
  await mesh.nodes[1].libp2p.unhandle(TIME_PROTOCOL)
  await mesh.nodes[1].components.rpc.handle(timeProtocol(ahead))
})
after(async () => { await mesh?.stop() })

test('GET /net/clock measures every connected peer: the shifted one is ahead by ~90 s and named as skewed', async () => {
  const client = await ControlClient.fromDataDir(mesh.nodes[0].components.dataDir)
  const report = await client.request<any>('GET', '/net/clock')
  assert.equal(report.peers, 2, JSON.stringify(report))
  const byPeer = new Map<string, any>(report.samples.map((s: any) => [s.peer, s]))
  const shifted = byPeer.get(mesh.nodes[1].peerId.toString())
  const honest = byPeer.get(mesh.nodes[2].peerId.toString())
  // the offset is good to ± half the round trip (reported with it)
  assert.ok(Math.abs(shifted.offsetMs - AHEAD_MS) <= shifted.rttMs / 2 + 1, `node 1 is ahead by ${String(shifted.offsetMs)} ms (rtt ${String(shifted.rttMs)} ms)`)
  assert.ok(Math.abs(honest.offsetMs) <= honest.rttMs / 2 + 1, `node 2 is on time: ${String(honest.offsetMs)} ms (rtt ${String(honest.rttMs)} ms)`)
  assert.deepEqual(report.skewed, [mesh.nodes[1].peerId.toString()])
})

test('a peer that answers /pl/time with nonsense, or does not serve it, is an error of that peer only', async () => {
  const peers = [mesh.nodes[1].peerId.toString(), mesh.nodes[2].peerId.toString()]
  await mesh.nodes[1].libp2p.unhandle(TIME_PROTOCOL)
  await mesh.nodes[1].components.rpc.handle(defineProtocol({ id: TIME_PROTOCOL, handler: async () => ({ status: 'OK', body: { now: 'soon' } }) }))
  await mesh.nodes[2].libp2p.unhandle(TIME_PROTOCOL)
  // streams node 0 keeps open for reuse are still served by the handlers they were opened with: new connections
  for (const i of [1, 2]) await mesh.nodes[0].libp2p.hangUp(mesh.nodes[i].libp2p.peerId)
  const samples = await measurePeerClocks(mesh.nodes[0].components.rpc, peers)
  assert.match(samples[0].error ?? '', /InvalidTimeAnswerError/)
  assert.match(samples[1].error ?? '', /RpcDialError|UnsupportedProtocol/)
  assert.deepEqual(summarizeClockOffsets(samples), { peers: 0, skewed: [] })
  // and the node that asked still answers
  const client = await ControlClient.fromDataDir(mesh.nodes[0].components.dataDir)
  assert.equal((await client.request<any>('GET', '/health')).ok, true)
})

test('summarizeClockOffsets: median of the measured peers, largest |offset|, peers beyond the warning bound', () => {
  const s = summarizeClockOffsets([
    { peer: 'a', offsetMs: -10, rttMs: 2 },
    { peer: 'b', offsetMs: 30, rttMs: 2 },
    { peer: 'c', error: 'RpcDialError: gone' },
    { peer: 'd', offsetMs: -(CLOCK_WARN_MS + 1), rttMs: 2 },
    { peer: 'e', offsetMs: 4, rttMs: 2 }
  ])
  assert.deepEqual(s, { peers: 4, medianMs: -3, maxAbsMs: CLOCK_WARN_MS + 1, skewed: ['d'] })
  assert.equal(summarizeClockOffsets([{ peer: 'a', offsetMs: 7 }]).medianMs, 7)
})
