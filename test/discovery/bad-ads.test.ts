/**
 * Hostile catalog ads, each its own test: the receiver's gossip validator
 * refuses them (Reject, so the sender loses score; Ignore for stale ones),
 * counts them in metrics, and its catalog never holds them.
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { cidStringOf, encodeCanonical, toBase64url } from '../../src/core/encoding.js'
import { signEnvelope, unsignedBytes, type Envelope, createIdentity } from '../../src/core/index.js'
import { CATALOG_TOPIC } from '../../src/discovery/index.js'
import type { AdvertiseCapability, CapabilityDescriptor } from '../../src/discovery/types.js'
import type { PlNode } from '../../src/node.js'
import type { TestMesh } from '../helpers/mesh.js'
import { discoMesh, disc, descriptorInput, waitFor } from './helpers.js'

const OTHER_PEER = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

function descriptorOf (node: PlNode, name: string, over: Partial<CapabilityDescriptor> = {}): CapabilityDescriptor {
  return { ...descriptorInput(name), limits: {}, provider: node.peerId, ...over }
}

function ad (node: PlNode, descriptor: CapabilityDescriptor, over: Partial<AdvertiseCapability> = {}, sign: { now?: number, ttlMs?: number } = {}): Envelope<AdvertiseCapability> {
  return node.components.sign('AdvertiseCapability.v1', { capability: cidStringOf(descriptor), descriptor, addrs: node.addrs(), ttl: sign.ttlMs ?? 60_000, ...over }, { ttlMs: sign.ttlMs ?? 60_000, now: sign.now })
}

async function sendRaw (sender: PlNode, env: unknown): Promise<void> {
  await sender.libp2p.services.pubsub.publish(CATALOG_TOPIC, encodeCanonical(env))
}

describe('hostile catalog ads', () => {
  // node 0 receives (descriptor limit 2048 bytes; per peer a burst of 20 ads, then one every 2 s); node 1 sends bad ads; node 2 floods
  let mesh: TestMesh
  let receiver: PlNode, sender: PlNode, flooder: PlNode
  let marker = 0

  const found = async (name: string): Promise<number> => (await disc(receiver).find({ name }, { localOnly: true })).length
  const rejections = async (): Promise<Record<string, number>> => await receiver.components.metrics.rejections()
  /** Sends a good ad after the bad one and waits for it: gossip from one peer arrives in order, so the bad one was handled. */
  const settle = async (): Promise<void> => {
    const name = `Marker${++marker}`
    await sendRaw(sender, ad(sender, descriptorOf(sender, name)))
    await waitFor(async () => await found(name) === 1, 20_000, `the ${name} ad`)
  }

  before(async () => {
    mesh = await discoMesh({ nodes: 3, ttlMs: 60_000, init: (i) => (i === 0 ? { maxDescriptorBytes: 2048, peerAdBurst: 20, peerAdRate: 0.5 } : {}) })
    ;[receiver, sender, flooder] = mesh.nodes
    await mesh.connected(1)
    for (const n of [sender, flooder]) {
      await waitFor(() => n.libp2p.services.pubsub.getSubscribers(CATALOG_TOPIC).some(p => p.toString() === receiver.peerId), 20_000, 'catalog subscription')
    }
  })
  after(async () => { await mesh.stop() })

  test('rejects an ad whose signature does not verify for its sender', async () => {
    const mallory = await createIdentity()
    const good = ad(sender, descriptorOf(sender, 'Forged'))
    await sendRaw(sender, { ...good, nonce: 'forged-nonce-1', sig: toBase64url(mallory.sign(unsignedBytes({ ...good, nonce: 'forged-nonce-1' }))) })
    await settle()
    assert.equal(await found('Forged'), 0)
    assert.equal((await rejections())['gossip/BadSignatureError'], 1)
  })

  test('rejects an ad signed by one peer that names another as provider', async () => {
    await sendRaw(sender, ad(sender, descriptorOf(sender, 'Mismatched', { provider: OTHER_PEER })))
    await settle()
    assert.equal(await found('Mismatched'), 0)
    const counts = await rejections()
    assert.equal(counts['discovery/ProviderMismatchError'], 1, JSON.stringify(counts))
    assert.equal(counts['gossip/ProviderMismatchError'], 1, 'the gossip validator rejected it')
  })

  test('rejects an ad whose descriptor does not hash to the capability CID it names', async () => {
    const d = descriptorOf(sender, 'Swapped')
    await sendRaw(sender, ad(sender, { ...d, price: 0 }, { capability: cidStringOf(d) }))
    await settle()
    assert.equal(await found('Swapped'), 0)
    assert.equal((await rejections())['discovery/CidMismatchError'], 1)
  })

  test('rejects an ad whose descriptor is over the size limit', async () => {
    await sendRaw(sender, ad(sender, descriptorOf(sender, 'Oversized', { description: 'x'.repeat(2000), attrs: { blob: 'y'.repeat(1000) } })))
    await settle()
    assert.equal(await found('Oversized'), 0)
    assert.equal((await rejections())['discovery/DescriptorTooLargeError'], 1)
  })

  test('ignores an expired ad', async () => {
    await sendRaw(sender, ad(sender, descriptorOf(sender, 'Expired'), {}, { now: Date.now() - 20_000, ttlMs: 1_000 }))
    await settle()
    assert.equal(await found('Expired'), 0)
    assert.equal((await rejections())['gossip/EnvelopeExpiredError'], 1)
  })

  test('a withdrawal signed by another peer than the provider cannot remove its entry', async () => {
    const d = descriptorOf(sender, 'Kept')
    await sendRaw(sender, ad(sender, d))
    await waitFor(async () => await found('Kept') === 1, 20_000, 'the ad')
    // validly signed, but by another key than the provider's
    const mallory = await createIdentity()
    await sendRaw(sender, signEnvelope(mallory, receiver.components.registry, 'AdvertiseCapability.v1', { capability: cidStringOf(d), descriptor: d, addrs: [], ttl: 60_000, withdraw: true }))
    await settle()
    assert.equal(await found('Kept'), 1)
    assert.equal((await rejections())['discovery/ProviderMismatchError'], 2)
  })

  test('rate-limits a flood of ads from one peer: the excess is rejected and the sender\'s score drops', async () => {
    const n = 60
    for (let i = 0; i < n; i++) await sendRaw(flooder, ad(flooder, descriptorOf(flooder, `Flood${i}`)))
    const accepted = async (): Promise<number> => {
      let sum = 0
      for (let i = 0; i < n; i++) sum += await found(`Flood${i}`)
      return sum
    }
    const limited = async (): Promise<number> => (await rejections())['discovery/AdRateLimitedError'] ?? 0
    await waitFor(async () => await accepted() + await limited() === n, 30_000, 'every flooded ad to be accepted or refused')
    const ok = await accepted()
    assert.ok(ok >= 20 && ok <= 40, `${ok} of ${n} flooded ads accepted (burst 20)`)
    assert.ok(await limited() >= 20)
    const gossip = await receiver.components.metrics.gossip.get()
    const rejected = gossip.values.find(v => v.labels.topic === CATALOG_TOPIC && v.labels.result === 'reject')?.value ?? 0
    assert.ok(rejected >= 20, `gossip validator rejected ${rejected}`)
    // gossipsub caches scores for one heartbeat
    const score = (): number => (receiver.libp2p.services.pubsub as unknown as { getScore: (peer: string) => number }).getScore(flooder.peerId)
    await waitFor(() => score() < 0, 5_000, 'the flooder\'s gossipsub score to drop')
    assert.ok(await found(`Marker${marker}`) === 1, 'the honest sender is unaffected')
  })
})
