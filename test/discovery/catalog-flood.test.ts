/**
 * Free signer keys cannot fill the catalog for long: the forwarding peer is
 * rate-limited too, ads are kept at most a local maximum, and withdrawals
 * leave tombstones only for entries that were held, and only so many.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createIdentity, type Identity, signEnvelope, EnvelopeVerifier } from '../../src/core/index.js'
import { SchemaRegistry } from '../../src/spec/index.js'
import { cidStringOf } from '../../src/core/encoding.js'
import { silentLogger } from '../../src/core/logger.js'
import { Catalog } from '../../src/discovery/catalog.js'
import { CatalogListener } from '../../src/discovery/listener.js'
import type { CatalogEntry } from '../../src/discovery/types.js'

const reg = SchemaRegistry.loadSync()
const memoryDb = { put: async () => {}, del: async () => {}, batch: async () => {} } as any

async function setup (init: { maxTombstones?: number, maxTtlMs?: number } = {}): Promise<{ catalog: Catalog, listener: CatalogListener, me: Identity, verifier: EnvelopeVerifier }> {
  const me = await createIdentity()
  const verifier = new EnvelopeVerifier(reg, undefined, { self: me.id })
  const catalog = new Catalog(memoryDb, { maxEntries: 1000, maxPerProvider: 100, ...(init.maxTombstones != null ? { maxTombstones: init.maxTombstones } : {}) })
  const listener = new CatalogListener({ identity: me, metrics: { reject: () => {} }, logger: silentLogger(), libp2p: { peerStore: { merge: async () => {} } } } as any,
    { catalog, peerAdRate: 1, peerAdBurst: 2, maxDescriptorBytes: 65536, ...(init.maxTtlMs != null ? { maxTtlMs: init.maxTtlMs } : {}) })
  return { catalog, listener, me, verifier }
}

function adOf (who: Identity, name: string, extra: Record<string, unknown> = {}, ttlMs = 86_400_000): any {
  const descriptor = { name, version: '1', provider: who.id, io: { input: {}, output: {} }, limits: {} }
  return signEnvelope(who, reg, 'AdvertiseCapability.v1', { capability: cidStringOf(descriptor), descriptor, addrs: [], ttl: 86_400_000, ...extra }, { ttlMs })
}

test('ads from many fresh signers forwarded by one peer are rate-limited on that peer', async () => {
  const { listener, verifier } = await setup()
  const h = listener.handler()
  // signed and verified up front: the source bucket refills 10 tokens/s, so the validate loop must not wait on key generation
  const ads = []
  for (let i = 0; i < 25; i++) ads.push(verifier.verifyStateless(adOf(await createIdentity(), `junk${i}`)))
  let accepted = 0
  let limited: any
  for (const v of ads) {
    try { h.validate?.(v, 'forwarder'); accepted++ } catch (err) { limited = err; break }
  }
  assert.equal(accepted, 20, 'the source burst is 10 × the signer burst')
  assert.equal(limited?.name, 'AdRateLimitedError')
  assert.equal(limited?.details.by, 'source')
  // another forwarder is not affected
  h.validate?.(verifier.verifyStateless(adOf(await createIdentity(), 'fine')), 'other')
})

test('an ad with a day-long ttl is kept at most the local maximum', async () => {
  const { catalog, listener, verifier } = await setup({ maxTtlMs: 60_000 })
  const v = verifier.verifyStateless(adOf(await createIdentity(), 'Long'))
  await listener.handler().onMessage(v, 'p')
  const [e] = catalog.find('Long')
  assert.ok(e.expires <= v.envelope.ts + 60_000, `kept until ${e.expires - v.envelope.ts} ms after its ts`)
})

function entry (provider: string, cid: string): CatalogEntry {
  return { cid, name: 'S', version: '1', provider, descriptor: { name: 'S', version: '1', provider, io: { input: {}, output: {} }, limits: {} }, addrs: [], ts: 1000, expires: Date.now() + 60_000, source: 'gossip' }
}

test('a withdrawal of an entry never held leaves no tombstone', async () => {
  const { catalog } = await setup()
  const who = await createIdentity()
  assert.equal(await catalog.withdraw(who.id, cidStringOf({ x: 1 }), 2000, Date.now() + 10 * 365 * 86_400_000), false)
  assert.equal(catalog.tombstoneCount, 0)
})

test('tombstones are capped, the oldest dropped first', async () => {
  const { catalog } = await setup({ maxTombstones: 3 })
  const who = await createIdentity()
  for (let i = 0; i < 5; i++) {
    const cid = cidStringOf({ i })
    await catalog.upsert(entry(who.id, cid))
    assert.equal(await catalog.withdraw(who.id, cid, 2000, Date.now() + 60_000), true)
  }
  assert.equal(catalog.tombstoneCount, 3)
  assert.equal(await catalog.upsert(entry(who.id, cidStringOf({ i: 4 }))), 'withdrawn', 'the newest tombstone is kept')
})
