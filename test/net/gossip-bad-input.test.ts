import { test } from 'node:test'
import { FakeClock } from '../../src/core/clock.js'
import assert from 'node:assert/strict'
import { TestMesh, waitFor } from '../helpers/mesh.js'
import { encodeCanonical, toBase64url } from '../../src/core/encoding.js'
import { unsignedBytes, createIdentity } from '../../src/core/index.js'

const cfpId = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const TOPIC = 'pl/v1/test-bad'

test('gossip refuses garbage, forged and stale envelopes, counts them, and still delivers good ones', async () => {
  const mesh = await TestMesh.start({ nodes: 2 })
  try {
    const got: string[] = []
    const [sender, receiver] = await mesh.gossipPair(TOPIC, (r) => { r.components.gossip.subscribe(TOPIC, { types: ['Decline.v1'], onMessage: (v) => { got.push(v.envelope.body.reason as string) } }) })

    const pubsub = sender.libp2p.services.pubsub
    const body = { cfp: cfpId, run: 'r', step: 's', reason: 'busy' }
    const good = sender.components.sign('Decline.v1', body)
    const mallory = await createIdentity()
    // garbage bytes
    await pubsub.publish(TOPIC, new Uint8Array([1, 2, 3, 4]))
    // a body changed after signing
    await pubsub.publish(TOPIC, encodeCanonical({ ...good, body: { ...body, reason: 'policy' } }))
    // signed by another key than `from`
    await pubsub.publish(TOPIC, encodeCanonical({ ...good, nonce: 'forged-nonce-1', sig: toBase64url(mallory.sign(unsignedBytes({ ...good, nonce: 'forged-nonce-1' }))) }))
    // expired
    await pubsub.publish(TOPIC, encodeCanonical(sender.components.sign('Decline.v1', body, { now: Date.now() - 20_000, ttlMs: 1000 })))
    // a type this topic does not carry
    await pubsub.publish(TOPIC, encodeCanonical(sender.components.sign('Decline.v1', body).body))
    // finally a good one
    await sender.components.gossip.publish(TOPIC, sender.components.sign('Decline.v1', { ...body, reason: 'other' }))

    await waitFor(() => got.includes('other'), 20_000, 'the good envelope')
    assert.deepEqual(got, ['other'])
    const counts = await receiver.components.metrics.rejections()
    assert.ok((counts['gossip/InvalidEncodingError'] ?? 0) >= 1, JSON.stringify(counts))
    assert.ok((counts['gossip/BadSignatureError'] ?? 0) >= 2, JSON.stringify(counts))
    assert.ok((counts['gossip/EnvelopeExpiredError'] ?? 0) >= 1, JSON.stringify(counts))
    assert.ok((counts['gossip/MalformedEnvelopeError'] ?? 0) >= 1, JSON.stringify(counts))
  } finally {
    await mesh.stop()
  }
})

test('the node publishes at most its configured rate, refilled by the node\'s clock', async () => {
  // a FakeClock: no time passes while the test signs and publishes, however loaded the machine
  const clock = new FakeClock()
  const mesh = await TestMesh.start({ nodes: 1, extra: () => ({ clock }) })
  try {
    const n = mesh.nodes[0]
    const burst = async (count: number): Promise<number> => {
      const envs = Array.from({ length: count }, () => n.components.sign('Decline.v1', { cfp: cfpId, run: 'r', step: 's', reason: 'busy' }))
      const results = await Promise.allSettled(envs.map(async (e) => { await n.components.gossip.publish(TOPIC, e) }))
      assert.deepEqual(results.filter(r => r.status === 'rejected' && (r.reason as Error).name !== 'GossipRateLimitedError'), [])
      return results.filter(r => r.status === 'rejected').length
    }
    // the default rate: 50 a second, all of them available at once
    assert.equal(await burst(80), 30)
    clock.advance(1_000)
    assert.equal(await burst(60), 10)
  } finally {
    await mesh.stop()
  }
})

test('the tests run on a maintained Node line (>= 22, where libp2p finds Promise.withResolvers)', () => {
  assert.ok(Number(process.versions.node.split('.')[0]) >= 22, `node ${process.version}: run through scripts/node.sh`)
  assert.equal(typeof Promise.withResolvers, 'function')
})
