/**
 * Issue 17 item 6: one hostile peer floods ads signed by many fresh keys,
 * each descriptor padded through an inline io schema description. The
 * catalog is bounded in bytes (per forwarding peer, per provider, in total),
 * the flood is refused by name and counted, and the forwarder loses
 * gossipsub score. No RSS or time is asserted: only the catalog's own
 * byte accounting and an independent sum of what it holds.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TestMesh, waitFor } from '../helpers/mesh.js'
import { createIdentity, type Identity, signEnvelope } from '../../src/core/index.js'
import { cidStringOf, encodeCanonical } from '../../src/core/encoding.js'
import { CATALOG_TOPIC, discovery, type Discovery } from '../../src/discovery/index.js'
import type { PlNode } from '../../src/node.js'

const PAD = 12_000
const KEYS = 64
const ROUNDS = 6
const MAX_SOURCE_BYTES = 512 * 1024
const MAX_PROVIDER_BYTES = 40 * 1024
const MAX_CATALOG_BYTES = 2 * 1024 * 1024

function paddedAd (node: PlNode, who: Identity, name: string): Uint8Array {
  const descriptor = {
    name,
    version: '1.0.0',
    provider: who.id,
    io: { input: { type: 'object', description: 'x'.repeat(PAD) }, output: { type: 'object' } },
    limits: {}
  }
  const env = signEnvelope(who, node.components.registry, 'AdvertiseCapability.v1', { capability: cidStringOf(descriptor), descriptor, addrs: [], ttl: 60_000 }, { ttlMs: 60_000 })
  return encodeCanonical(env)
}

/** Descriptor bytes the catalog holds, summed independently of its own accounting. */
function heldDescriptorBytes (d: Discovery, names: string[]): number {
  let sum = 0
  for (const name of names) for (const e of d.catalog.find(name)) sum += encodeCanonical(e.descriptor).byteLength
  return sum
}

test('a peer flooding padded ads from many fresh keys stays within the catalog byte budgets, is refused by name and loses score', async () => {
  const clock = Date.now() // frozen: the rate limiters do not refill, whatever the machine's load
  const mesh = await TestMesh.start({
    nodes: 2,
    services: (i) => i === 0
      ? { discovery: discovery({ ttlMs: 60_000, sweepMs: 60_000, maxSourceBytes: MAX_SOURCE_BYTES, maxProviderBytes: MAX_PROVIDER_BYTES, maxCatalogBytes: MAX_CATALOG_BYTES, now: () => clock }) }
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- without it the two branches' union is not a Record<string, ServiceFactory>
      : {} as Record<string, never>
  })
  try {
    const [victim, hostile] = mesh.nodes
    const d = victim.service<Discovery>('discovery')
    const pubsub = hostile.libp2p.services.pubsub
    pubsub.subscribe(CATALOG_TOPIC) // joins the mesh; its own validator-less copies are never delivered to a handler
    await waitFor(() => pubsub.getSubscribers(CATALOG_TOPIC).some(p => p.toString() === victim.peerId), 20_000, 'the victim to subscribe')

    const keys = await Promise.all(Array.from({ length: KEYS }, async () => await createIdentity()))
    const names: string[] = []
    for (let k = 0; k < KEYS; k++) {
      for (let r = 0; r < ROUNDS; r++) {
        const name = `Pad${k}x${r}`
        names.push(name)
        await pubsub.publish(CATALOG_TOPIC, paddedAd(hostile, keys[k], name)).catch(() => {}) // publishes may fail once the victim graylists it
      }
    }
    const offered = KEYS * ROUNDS * PAD
    assert.ok(offered > 4 * MAX_SOURCE_BYTES, 'the flood offers far more than the budget')

    const rejected = async (name: string): Promise<number> => (await victim.components.metrics.rejections())[`discovery/${name}`] ?? 0
    await waitFor(async () => await rejected('SourceBudgetExceededError') >= 1, 60_000, 'the per-source budget to refuse ads')
      .catch(async (err) => { throw new Error(`${(err as Error).message}; rejections ${JSON.stringify(await victim.components.metrics.rejections())}, catalog ${d.catalog.size} entries, ${d.catalog.bytes} bytes`) })
    // accepted ads still being delivered settle inside the budget (upsert re-checks it)
    await waitFor(() => d.catalog.bytesVia(hostile.peerId) > MAX_SOURCE_BYTES - 2 * (PAD + 1024), 60_000, 'the accepted ads to be stored')

    const held = heldDescriptorBytes(d, names)
    assert.ok(held > 0 && held <= MAX_SOURCE_BYTES, `the catalog holds ${held} descriptor bytes of the flood (budget ${MAX_SOURCE_BYTES})`)
    assert.ok(d.catalog.bytesVia(hostile.peerId) <= MAX_SOURCE_BYTES, `source accounting ${d.catalog.bytesVia(hostile.peerId)}`)
    assert.ok(d.catalog.bytes <= MAX_CATALOG_BYTES)
    assert.ok(d.catalog.largest().provider <= MAX_PROVIDER_BYTES, `largest provider ${d.catalog.largest().provider}`)
    for (const k of keys) assert.ok(d.catalog.bytesOfProvider(k.id) <= MAX_PROVIDER_BYTES)
    // the independent sum and the accounting agree (the accounting adds addrs and a fixed overhead per entry)
    assert.ok(d.catalog.bytes >= held, `accounting ${d.catalog.bytes} ≥ descriptor bytes ${held}`)

    assert.ok(await rejected('ProviderBudgetExceededError') + await rejected('SourceBudgetExceededError') >= 2)
    // gossipsub refreshes its score cache on its heartbeat: wait for the next refresh rather than reading a stale 0
    const score = (): number => (victim.libp2p.services.pubsub as unknown as { getScore: (peer: string) => number }).getScore(hostile.peerId)
    await waitFor(() => score() < 0, 30_000, 'the forwarder to lose gossipsub score')
      .catch((err) => { throw new Error(`${(err as Error).message} (score ${score()})`) })
  } finally {
    await mesh.stop()
  }
})
