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
    const got: string[] = []
    const [sender, receiver] = await mesh.gossipPair(TOPIC, (r) => { r.components.gossip.subscribe(TOPIC, { types: ['Decline.v1'], onMessage: (v) => { got.push(v.envelope.body.reason as string) } }) })

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
