/**
 * A local swarm (many nodes on 127.0.0.1) turns off gossipsub's IP-colocation
 * penalty (`localSwarmScoring`): with gossipsub's defaults every peer sharing
 * an IP with more than 10 others scores -5 × (peers − 10)², below the gossip,
 * publish and graylist thresholds at 50–100 nodes, and ads stop flowing
 * (docs/SCALE.md, "Open finding"). Production keeps the penalty. It also
 * sends no IDONTWANT (`localSwarmGossip`): on loopback they arrive after every
 * copy was sent (docs/SCALE.md, "Idle cost of a node at rest").
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { defaultLogger } from '@libp2p/logger'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { PeerScore, createPeerScoreParams, validatePeerScoreParams, defaultPeerScoreParams } from '@libp2p/gossipsub/score'
import { createPlLibp2p, localSwarmScoring, localSwarmGossip, LOCAL_SWARM_IDONTWANT_MIN_BYTES, type PlLibp2p } from '../../src/net/libp2p.js'
import { until } from '../helpers/events.js'

/** the scores a peer scorer gives `peers` peers all on one IP */
function colocatedScores (params: Parameters<typeof createPeerScoreParams>[0], peers: number, ip: string): number[] {
  const score = new PeerScore(createPeerScoreParams(params), null, defaultLogger(), { scoreCacheValidityMs: 0 })
  const ids = Array.from({ length: peers }, (_, i) => `peer-${i}`)
  for (const id of ids) { score.addPeer(id); score.addIP(id, ip) }
  return ids.map(id => score.score(id))
}

test('localSwarmScoring: the IP-colocation factor weighs nothing, the params are valid', () => {
  const s = localSwarmScoring()
  assert.equal(s.scoreParams.IPColocationFactorWeight, 0)
  validatePeerScoreParams(createPeerScoreParams(s.scoreParams))
  // a fresh object each call: a caller changing it does not change the next node's
  assert.notEqual(localSwarmScoring().scoreParams, s.scoreParams)
})

test('100 peers on 127.0.0.1: 0 with localSwarmScoring, graylisted with gossipsub defaults (what production keeps)', () => {
  const { scoreThresholds } = localSwarmScoring()
  for (const ip of ['127.0.0.1', '::1']) {
    assert.deepEqual(new Set(colocatedScores(localSwarmScoring().scoreParams, 100, ip)), new Set([0]))
    const defaults = colocatedScores({}, 100, ip)
    // -5 × (100 − 10)² = -40 500: below even the lowered local graylist threshold
    assert.equal(defaults[0], defaultPeerScoreParams.IPColocationFactorWeight * (100 - defaultPeerScoreParams.IPColocationFactorThreshold) ** 2)
    assert.ok(defaults.every(x => x < (scoreThresholds.graylistThreshold ?? 0)))
  }
  // at or under the threshold (10 peers per IP) the defaults do not penalise either
  assert.deepEqual(new Set(colocatedScores({}, 10, '127.0.0.1')), new Set([0]))
})

test('real nodes on loopback: a localSwarm hub scores its 12 colocated peers ≥ 0, a production hub < 0', { timeout: 120_000 }, async (t) => {
  const make = async (localSwarm: boolean): Promise<PlLibp2p> => {
    const node = await createPlLibp2p({ privateKey: await generateKeyPair('Ed25519'), localSwarm })
    t.after(async () => { await node.stop() })
    await node.start()
    return node
  }
  const local = await make(true)
  const prod = await make(false)
  const spokes = await Promise.all(Array.from({ length: 12 }, async () => await make(true)))
  // the hubs dial out: a production node resets inbound connections past 5/s per host (libp2p's default)
  await Promise.all(spokes.flatMap(s => [local, prod].map(async hub => await hub.dial(s.getMultiaddrs()))))
  // gossipsub adds a peer (and its IP) once their pubsub streams are open: wait for all 12 at both hubs, then for
  // 3 heartbeats (a score is cached for one heartbeat interval, so none computed before the last peer is left)
  for (const hub of [local, prod]) {
    const pubsub = hub.services.pubsub
    await until(() => pubsub.getPeers().length >= spokes.length, [[pubsub, ['gossipsub:heartbeat']]])
    for (let i = 0; i < 3; i++) await new Promise(resolve => { pubsub.addEventListener('gossipsub:heartbeat', resolve, { once: true }) })
  }
  // getScore is on gossipsub's implementation, not on its exported interface
  const scores = (hub: PlLibp2p): number[] => spokes.map(s => (hub.services.pubsub as unknown as { getScore: (id: string) => number }).getScore(s.peerId.toString()))
  assert.ok(scores(local).every(x => x >= 0), `local swarm scores: ${scores(local).join(', ')}`)
  // 12 peers on one IP, 2 over the threshold: -5 × 2² = -20 each
  assert.ok(scores(prod).every(x => x < 0), `production scores: ${scores(prod).join(', ')}`)
})

test('localSwarmGossip: a local swarm sends no IDONTWANT, production keeps gossipsub\'s 512-byte threshold', async () => {
  assert.equal(localSwarmGossip().idontwantMinDataSize, LOCAL_SWARM_IDONTWANT_MIN_BYTES)
  assert.deepEqual(localSwarmGossip().scoreParams, localSwarmScoring().scoreParams)
  // the options as the node's gossipsub holds them (not started: nothing listens)
  const threshold = async (localSwarm: boolean): Promise<number> => {
    const node = await createPlLibp2p({ privateKey: await generateKeyPair('Ed25519'), localSwarm })
    return (node.services.pubsub as unknown as { opts: { idontwantMinDataSize: number } }).opts.idontwantMinDataSize
  }
  // gossipsub sends IDONTWANT for a message when its data length is >= the threshold: never, for any message size
  assert.ok(!(256 * 1024 >= await threshold(true)))
  assert.equal(await threshold(false), 512)
})
