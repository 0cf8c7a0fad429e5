/** Issue 17 item 10: an oversized gossip message is refused and counted by its own name, on both sides (and not counted as published). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TestMesh, waitFor } from '../helpers/mesh.js'
import { encodeCanonical } from '../../src/core/encoding.js'

const cfpId = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const TOPIC = 'pl/v1/test-large'

test('a gossip message over the size limit is refused as GossipMessageTooLargeError, and publishing one throws it', async () => {
  const mesh = await TestMesh.start({ nodes: 2 })
  try {
    await mesh.connected(1)
    const [sender, receiver] = mesh.nodes
    const got: string[] = []
    receiver.components.gossip.subscribe(TOPIC, { types: ['Decline.v1'], onMessage: (v) => { got.push(v.envelope.body.reason as string) } })
    sender.libp2p.services.pubsub.subscribe(TOPIC)
    await waitFor(() => sender.libp2p.services.pubsub.getSubscribers(TOPIC).length >= 1, 20_000, 'subscription to propagate')
    // and the other way: the sender's subscription reached the receiver over the sender's outbound stream, so that
    // stream is open (gossipsub drops, silently, what it publishes to a peer it has no outbound stream to yet)
    await waitFor(() => receiver.libp2p.services.pubsub.getSubscribers(TOPIC).some(p => p.equals(sender.libp2p.peerId)), 20_000, 'the sender\'s subscription to reach the receiver')

    const body = { cfp: cfpId, run: 'r', step: 's', reason: 'busy' as const }
    const small = sender.components.sign('Decline.v1', { ...body, reason: 'other' })
    // the receiver checks the size before decoding: any bytes over 256 KiB
    const big = { ...sender.components.sign('Decline.v1', body), padding: 'x'.repeat(300 * 1024) }
    await assert.rejects(sender.components.gossip.publish(TOPIC, big), { name: 'GossipMessageTooLargeError' })
    // sent raw, past the sender's own check
    await sender.libp2p.services.pubsub.publish(TOPIC, encodeCanonical(big))
    await sender.components.gossip.publish(TOPIC, small)
    await waitFor(() => got.includes('other'), 20_000, 'the small envelope')
    await waitFor(async () => ((await receiver.components.metrics.rejections())['gossip/GossipMessageTooLargeError'] ?? 0) >= 1, 20_000, 'the refusal to be counted')
    const counts = await receiver.components.metrics.rejections()
    assert.equal(counts['gossip/PlError'], undefined, JSON.stringify(counts))
    assert.deepEqual(got, ['other'])
    // pl_gossip_published_total counts what this node published through Gossip: the refused envelope is not counted
    const published = (await sender.components.metrics.gossipPublished.get()).values
    assert.deepEqual(published.map(v => [v.labels.topic, v.value]), [[TOPIC, 1]])
  } finally {
    await mesh.stop()
  }
})
