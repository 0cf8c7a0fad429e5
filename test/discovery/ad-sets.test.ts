/**
 * Ad sets (`AdvertiseCapabilitySet.v1`): a node's capabilities go out in one
 * signed gossip message per re-ad, not one per capability. The advertiser
 * (fake clock, a gossip that records what is published), the receiving
 * validator and catalog (real registry, verifier and catalog), the sync
 * serving of sets, and hostile sets: each refused with a typed error,
 * counted, nothing of a refused set held.
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createIdentity, signEnvelope, EnvelopeVerifier, type Identity } from '../../src/core/index.js'
import { SchemaRegistry } from '../../src/spec/index.js'
import { cidStringOf, encodeCanonical } from '../../src/core/encoding.js'
import { FakeClock } from '../../src/core/clock.js'
import { silentLogger } from '../../src/core/logger.js'
import { Catalog } from '../../src/discovery/catalog.js'
import { CatalogListener } from '../../src/discovery/listener.js'
import { Advertiser } from '../../src/discovery/ads.js'
import { AD_SET_TYPE, AD_TYPE, adBody, adItems, groupAds, MAX_SET_ADS, SET_FILL_BYTES, type SignedAd } from '../../src/discovery/ad-set.js'
import { CatalogSync, checkSyncedAd } from '../../src/discovery/sync.js'
import type { Gossip } from '../../src/net/index.js'
import type { CapabilityDescriptor } from '../../src/discovery/types.js'
import { discoMesh, disc, descriptorInput, waitFor } from './helpers.js'

const reg = SchemaRegistry.loadSync()
const memoryDb = { put: async () => {}, del: async () => {}, batch: async () => {} } as any

function descriptor (who: Identity | string, name: string, over: Partial<CapabilityDescriptor> = {}): CapabilityDescriptor {
  return { name, version: '1', provider: typeof who === 'string' ? who : who.id, io: { input: {}, output: {} }, limits: {}, ...over }
}

function item (d: CapabilityDescriptor, withdraw = false): { capability: string, descriptor: CapabilityDescriptor, withdraw?: boolean } {
  return { capability: cidStringOf(d), descriptor: d, ...(withdraw ? { withdraw: true } : {}) }
}

function setOf (who: Identity, items: Array<ReturnType<typeof item>>, ttlMs = 60_000): SignedAd {
  return signEnvelope(who, reg, AD_SET_TYPE, { ads: items, addrs: ['/ip4/127.0.0.1/tcp/4001'], ttl: ttlMs }, { ttlMs })
}

describe('grouping and bodies', () => {
  test('one capability is a single ad (what older nodes read), several a set', () => {
    const a = item(descriptor('p', 'A'))
    const b = item(descriptor('p', 'B'))
    assert.equal(adBody([a], [], 1000).type, AD_TYPE)
    const set = adBody([a, b], ['/ip4/1.2.3.4/tcp/1'], 1000)
    assert.equal(set.type, AD_SET_TYPE)
    assert.deepEqual(set.body, { ads: [a, b], addrs: ['/ip4/1.2.3.4/tcp/1'], ttl: 1000 })
  })

  test('groups hold at most MAX_SET_ADS capabilities and SET_FILL_BYTES of descriptors; a larger one goes alone; order kept', () => {
    const many = Array.from({ length: 2 * MAX_SET_ADS + 3 }, (_, i) => ({ i, size: 100 }))
    assert.deepEqual(groupAds(many, x => x.size).map(g => g.length), [MAX_SET_ADS, MAX_SET_ADS, 3])
    const big = [{ i: 0, size: 10 }, { i: 1, size: SET_FILL_BYTES + 1 }, { i: 2, size: SET_FILL_BYTES / 2 }, { i: 3, size: SET_FILL_BYTES / 2 }, { i: 4, size: 1 }]
    assert.deepEqual(groupAds(big, x => x.size).map(g => g.map(x => x.i)), [[0], [1], [2, 3], [4]])
    assert.deepEqual(groupAds([], () => 1), [])
    assert.deepEqual(groupAds(many.slice(0, 3), x => x.size, 1).map(g => g.length), [1, 1, 1], 'adSets: false')
  })
})

describe('the advertiser', () => {
  async function advertiser (publishBurst = 16, perSet?: number): Promise<{ adv: Advertiser, sent: SignedAd[], clock: FakeClock, me: Identity, peers: { n: number } }> {
    const me = await createIdentity()
    const clock = new FakeClock(Date.now())
    const sent: SignedAd[] = []
    /** how many peers each publish reaches */
    const peers = { n: 3 }
    const gossip = { publish: async (_topic: string, env: SignedAd) => { sent.push(env); return peers.n } } as unknown as Gossip
    const adv = new Advertiser({
      gossip,
      sign: (type, body, options) => signEnvelope(me, reg, type, body, { ...options, now: clock.now() }),
      addrs: () => ['/ip4/127.0.0.1/tcp/4001'],
      logger: silentLogger(),
      ttlMs: 60_000,
      publishRate: 1,
      publishBurst,
      perSet,
      clock
    })
    adv.start()
    return { adv, sent, clock, me, peers }
  }
  const names = (env: SignedAd): string[] => adItems(env).map(i => i.descriptor.name)
  /** lets queued microtasks and the sends' promises run */
  const settled = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

  test('capabilities advertised together go out as one set, and are re-sent together at half the ttl', async () => {
    const { adv, sent, clock, me } = await advertiser()
    const ds = ['A', 'B', 'C'].map(n => descriptor(me, n))
    // advertised in the same turn: the first send takes them all
    for (const d of ds) adv.advertise(cidStringOf(d), d)
    await settled()
    assert.equal(sent.length, 1)
    assert.equal(sent[0].type, AD_SET_TYPE)
    assert.deepEqual(names(sent[0]), ['A', 'B', 'C'])
    assert.equal(adv.expiryOf(cidStringOf(ds[1])), sent[0].exp)
    assert.deepEqual(adv.currentAds(), [sent[0]])
    clock.advance(29_999)
    await settled()
    assert.equal(sent.length, 1, 'nothing before ttl/2')
    clock.advance(1)
    await settled()
    assert.equal(sent.length, 2, 'one re-ad for all three')
    assert.deepEqual(names(sent[1]), ['A', 'B', 'C'])
    assert.deepEqual(adv.currentAds(), [sent[1]])
    await adv.stop(ds.map(d => ({ cid: cidStringOf(d), descriptor: d })))
    assert.equal(sent.length, 3)
    assert.equal(sent[2].type, AD_SET_TYPE, 'the stop withdraws all three in one set')
    assert.ok(adItems(sent[2]).every(i => i.withdraw === true))
    assert.equal(clock.pending, 0, 'no timer left')
  })

  test('a withdrawal goes first, then the others in a new set that no longer names it; the old set is not served meanwhile', async () => {
    const { adv, sent, me } = await advertiser()
    const ds = ['A', 'B', 'C'].map(n => descriptor(me, n))
    for (const d of ds) adv.advertise(cidStringOf(d), d)
    await settled()
    adv.withdraw(cidStringOf(ds[1]), ds[1])
    assert.deepEqual(adv.currentAds(), [], 'the set naming B is no longer served')
    await settled()
    assert.equal(sent.length, 3)
    assert.equal(sent[1].type, AD_TYPE)
    assert.equal(adItems(sent[1])[0].withdraw, true)
    assert.deepEqual(names(sent[2]), ['A', 'C'])
    assert.deepEqual(adv.currentAds(), [sent[2]])
    assert.equal(adv.expiryOf(cidStringOf(ds[1])), undefined)
    await adv.stop([])
  })

  test('with adSets off (a network that still has nodes from before sets) each capability goes in its own AdvertiseCapability.v1', async () => {
    const { adv, sent, me } = await advertiser(16, 1)
    const ds = ['A', 'B', 'C'].map(n => descriptor(me, n))
    for (const d of ds) adv.advertise(cidStringOf(d), d)
    await settled()
    assert.deepEqual(sent.map(env => [env.type, ...names(env)]), [[AD_TYPE, 'A'], [AD_TYPE, 'B'], [AD_TYPE, 'C']])
    await adv.stop(ds.map(d => ({ cid: cidStringOf(d), descriptor: d })))
    assert.deepEqual(sent.slice(3).map(env => env.type), [AD_TYPE, AD_TYPE, AD_TYPE])
  })

  test('an ad that reached no peer (a node just started) is sent again after 1 s, 2 s, 4 s…, and at ttl/2 once heard', async () => {
    const { adv, sent, clock, me, peers } = await advertiser()
    peers.n = 0
    const d = descriptor(me, 'Lonely')
    adv.advertise(cidStringOf(d), d)
    await settled()
    const times = [clock.now()]
    for (const wait of [1_000, 2_000, 4_000]) {
      clock.advance(wait - 1)
      await settled()
      assert.equal(sent.length, times.length, `nothing before ${wait} ms`)
      clock.advance(1)
      await settled()
      assert.equal(sent.length, times.length + 1, `re-sent after ${wait} ms`)
      times.push(clock.now())
    }
    peers.n = 2
    clock.advance(8_000)
    await settled()
    assert.equal(sent.length, 5, 'heard at last')
    clock.advance(29_999)
    await settled()
    assert.equal(sent.length, 5)
    clock.advance(1)
    await settled()
    assert.equal(sent.length, 6, 'then at ttl/2')
    await adv.stop([])
  })

  test('a capability withdrawn after its group was formed is not named by the send', async () => {
    const { adv, sent, me, clock } = await advertiser(1)
    // a burst of 1 token: the first send takes it, the set for the others waits for the pacer
    const d1 = descriptor(me, 'First')
    adv.advertise(cidStringOf(d1), d1)
    await settled()
    const more = ['X', 'Y'].map(n => descriptor(me, n))
    for (const d of more) adv.advertise(cidStringOf(d), d)
    // the send's group {First, X, Y} is formed now, and waits for a token
    await settled()
    assert.equal(sent.length, 1)
    adv.withdraw(cidStringOf(more[0]), more[0])
    await settled()
    for (let s = 0; s < 5; s++) {
      clock.advance(1_000)
      await settled()
    }
    const after = sent.slice(1)
    assert.ok(after.length >= 2, 'the withdrawal and the waiting send went out')
    assert.ok(after.every(env => adItems(env).every(i => i.withdraw === true || i.descriptor.name !== 'X')), JSON.stringify(after.map(names)))
    assert.ok(after.some(env => names(env).includes('Y')))
    await adv.stop([])
  })
})

describe('receiving sets', () => {
  async function receiver (init: { maxPerProvider?: number, peerAdBurst?: number } = {}): Promise<{ catalog: Catalog, listener: CatalogListener, verifier: EnvelopeVerifier, rejected: string[] }> {
    const me = await createIdentity()
    const verifier = new EnvelopeVerifier(reg, undefined, { self: me.id })
    const catalog = new Catalog(memoryDb, { maxEntries: 1000, maxPerProvider: init.maxPerProvider ?? 100 })
    const rejected: string[] = []
    const listener = new CatalogListener({ identity: me, metrics: { reject: (_area: string, name: string) => { rejected.push(name) } }, logger: silentLogger(), libp2p: { peerStore: { merge: async () => {} } } } as any,
      { catalog, peerAdRate: 1, peerAdBurst: init.peerAdBurst ?? 50, maxDescriptorBytes: 4096 })
    return { catalog, listener, verifier, rejected }
  }

  test('a set puts each capability in the catalog, each entry with the set as its signed ad; a set item withdraws', async () => {
    const { catalog, listener, verifier } = await receiver()
    const p = await createIdentity()
    const ds = ['A', 'B', 'C'].map(n => descriptor(p, n))
    const set = verifier.verifyStateless(setOf(p, ds.map(d => item(d))))
    const h = listener.handler()
    assert.equal(h.validate?.(set, 'fwd'), undefined)
    await h.onMessage(set, 'fwd')
    assert.equal(catalog.size, 3)
    assert.deepEqual(catalog.find('B').map(e => [e.provider, e.via, e.addrs[0]]), [[p.id, 'fwd', '/ip4/127.0.0.1/tcp/4001']])
    const served = catalog.signedAds({ limit: 10, signedSince: 0 })
    assert.equal(served.length, 3)
    assert.ok(served.every(s => s.ad === (set.envelope as unknown)))
    // a later set withdraws B and re-sends A: the old set is no longer served (it names B, no longer held from it)
    const next = verifier.verifyStateless(setOf(p, [item(ds[1], true), item(ds[0])]))
    h.validate?.(next, 'fwd')
    await h.onMessage(next, 'fwd')
    assert.deepEqual(catalog.find('B'), [])
    assert.equal(catalog.size, 2)
    const now = catalog.signedAds({ limit: 10, signedSince: 0 })
    assert.deepEqual(now.map(s => s.ad === (next.envelope as unknown)), [true], 'C\'s entry still comes from the old set, which names B: not served')
  })

  test('hostile sets are refused with typed errors, counted, nothing of them held', async () => {
    const { catalog, listener, verifier, rejected } = await receiver()
    const p = await createIdentity()
    const h = listener.handler()
    const a = descriptor(p, 'A')
    const other = descriptor((await createIdentity()).id, 'NotMine')
    const swapped = { ...item(descriptor(p, 'Swapped')), descriptor: descriptor(p, 'Swapped', { version: '2' }) }
    const cases: Array<[string, SignedAd, string]> = [
      ['the same capability twice', setOf(p, [item(a), item(a)]), 'DuplicateAdError'],
      ['an item naming another provider', setOf(p, [item(a), item(other)]), 'ProviderMismatchError'],
      ['an item whose descriptor does not hash to its CID', setOf(p, [item(a), swapped]), 'CidMismatchError'],
      ['an item over the descriptor size limit', setOf(p, [item(a), item(descriptor(p, 'Big', { description: 'x'.repeat(1500), attrs: { a: 'y'.repeat(900), b: 'y'.repeat(900), c: 'y'.repeat(900) } }))]), 'DescriptorTooLargeError']
    ]
    for (const [what, env, name] of cases) {
      const v = verifier.verifyStateless(env)
      assert.throws(() => h.validate?.(v, 'fwd'), (err: Error) => err.name === name, what)
    }
    assert.deepEqual(rejected, cases.map(c => c[2]))
    assert.equal(catalog.size, 0)
    // the schema refuses an empty set, more than MAX_SET_ADS items, an unknown field in an item
    const many = Array.from({ length: MAX_SET_ADS + 1 }, (_, i) => item(descriptor(p, `M${i}`)))
    for (const body of [{ ads: [], addrs: [], ttl: 1000 }, { ads: many, addrs: [], ttl: 1000 }, { ads: [{ ...item(a), extra: 1 }], addrs: [], ttl: 1000 }]) {
      assert.throws(() => signEnvelope(p, reg, AD_SET_TYPE, body), { name: 'InvalidBodyError' })
    }
  })

  test('a set costs the rate limits one token per capability', async () => {
    const { listener, verifier } = await receiver({ peerAdBurst: 5 })
    const p = await createIdentity()
    const h = listener.handler()
    h.validate?.(verifier.verifyStateless(setOf(p, ['A', 'B', 'C'].map(n => item(descriptor(p, n))))), 'fwd')
    assert.throws(() => h.validate?.(verifier.verifyStateless(setOf(p, ['D', 'E', 'F'].map(n => item(descriptor(p, n))))), 'fwd'), (err: Error) => err.name === 'AdRateLimitedError')
  })

  test('a full provider budget refuses the rest of the set: entries that fit are kept, the message is rejected', async () => {
    const { catalog, listener, verifier, rejected } = await receiver({ maxPerProvider: 2 })
    const p = await createIdentity()
    const v = verifier.verifyStateless(setOf(p, ['A', 'B', 'C'].map(n => item(descriptor(p, n)))))
    assert.throws(() => listener.handler().validate?.(v, 'fwd'), (err: Error) => err.name === 'ProviderBudgetExceededError')
    assert.equal(catalog.size, 2)
    assert.deepEqual(rejected, ['ProviderBudgetExceededError'])
  })

  test('catalog sync: a set is checked item by item; one carrying a withdrawal is forged', async () => {
    const { listener, verifier } = await receiver()
    const p = await createIdentity()
    const ds = ['A', 'B'].map(n => descriptor(p, n))
    const ok = checkSyncedAd(setOf(p, ds.map(d => item(d))), { verifier, listener }, 'peer', 0)
    assert.equal(ok?.sizes.length, 2)
    assert.deepEqual(ok?.sizes, ds.map(d => encodeCanonical(d).byteLength))
    assert.throws(() => checkSyncedAd(setOf(p, [item(ds[0]), item(ds[1], true)]), { verifier, listener }, 'peer', 3),
      (err: Error & { details?: { reason?: string, index?: number } }) => err.name === 'ForgedCatalogAdError' && err.details?.reason === 'withdraw' && err.details.index === 3)
    assert.throws(() => checkSyncedAd(setOf(p, [item(ds[0]), item(ds[0])]), { verifier, listener }, 'peer', 1),
      (err: Error & { details?: { reason?: string } }) => err.name === 'ForgedCatalogAdError' && err.details?.reason === 'DuplicateAdError')
    const results = await listener.merge(ok?.verified, 'peer', ok?.sizes)
    assert.deepEqual(results, ['added', 'added'])
  })
})

describe('serving sets over /pl/catalog-sync', () => {
  test('each held or own ad goes out once, pages follow the cursor to the end whatever the page size and key order', async () => {
    // provider ids are random, so own and held keys interleave differently each round: 20 rounds of fresh keys
    for (let round = 0; round < 20; round++) await servesAll()
  })

  async function servesAll (): Promise<void> {
    const me = await createIdentity()
    const verifier = new EnvelopeVerifier(reg, undefined, { self: me.id })
    const catalog = new Catalog(memoryDb, { maxEntries: 1000, maxPerProvider: 100 })
    const listener = new CatalogListener({ identity: me, metrics: { reject: () => {} }, logger: silentLogger(), libp2p: { peerStore: { merge: async () => {} } } } as any,
      { catalog, peerAdRate: 100, peerAdBurst: 100, maxDescriptorBytes: 4096 })
    const p1 = await createIdentity()
    const p2 = await createIdentity()
    const held = [
      setOf(p1, ['A', 'B', 'C'].map(n => item(descriptor(p1, n)))),
      setOf(p2, ['D', 'E'].map(n => item(descriptor(p2, n)))),
      signEnvelope(p2, reg, AD_TYPE, { ...item(descriptor(p2, 'F')), addrs: [], ttl: 60_000 }, { ttlMs: 60_000 }) as SignedAd
    ]
    for (const env of held) {
      const v = verifier.verifyStateless(env)
      listener.handler().validate?.(v, 'fwd')
      await listener.handler().onMessage(v, 'fwd')
    }
    assert.equal(catalog.size, 6)
    const own = [setOf(me, ['G', 'H'].map(n => item(descriptor(me, n))))]
    const clock = new FakeClock(Date.now())
    const sync = new CatalogSync({ clock, verifier, identity: me, logger: silentLogger(), metrics: { reject: () => {} } } as any,
      { catalog, listener, ownAds: () => own, intervalMs: 60_000, ask: false })
    const serve = (req: { after?: string, limit: number }): { ads: SignedAd[], next?: string } => (sync as any).serve(req, `asker${req.limit}`)
    for (const limit of [1, 2, 3, 128]) {
      const seen: SignedAd[] = []
      let after: string | undefined
      for (let pages = 0; ; pages++) {
        assert.ok(pages < 20, 'the pages end')
        const page = serve({ ...(after != null ? { after } : {}), limit })
        assert.ok(page.ads.length <= limit)
        seen.push(...page.ads)
        if (page.next == null) break
        assert.ok(after == null || page.next > after, 'the cursor moves forward')
        after = page.next
      }
      assert.deepEqual(new Set(seen), new Set([...held, ...own]), `limit ${limit}: every ad`)
      if (limit >= 4) assert.equal(seen.length, 4, 'one page: each ad once')
    }
  }
})

describe('on real nodes', () => {
  test('a provider\'s three capabilities travel as one set; after an unpublish, neither the mesh nor a later sync brings the withdrawn one back', async () => {
    // 0: hears the catalog topic · 1: the provider · 2: no catalog gossip, no sync on connect: asks by hand · 3: a provider with adSets off
    const mesh = await discoMesh({ nodes: 4, ttlMs: 60_000, gossip: (i) => i !== 2, init: (i) => (i === 2 ? { catalogSync: false } : i === 3 ? { adSets: false } : {}) })
    try {
      const [b, a, c, old] = mesh.nodes
      await mesh.connected(1)
      await waitFor(() => a.libp2p.services.pubsub.getSubscribers('pl/v1/catalog').some(p => p.toString() === b.peerId), 20_000, 'B in the catalog topic')
      const published = await Promise.all(['SetX', 'SetY', 'SetZ'].map(async name => await disc(a).publish(descriptorInput(name))))
      await waitFor(() => disc(b).catalog.size === 3, 20_000, 'B to hold all three')
      const held = disc(b).catalog.signedAds({ limit: 10, signedSince: 0 })
      assert.equal(new Set(held.map(h => h.ad)).size, 1, 'one signed set stands for the three entries')
      assert.equal(held[0].ad.type, AD_SET_TYPE)

      await disc(a).unpublish(published[1].cid)
      await waitFor(async () => (await disc(b).find({ name: 'SetY' }, { localOnly: true })).length === 0, 20_000, 'B to drop SetY')
      await waitFor(() => disc(b).catalog.signedAds({ limit: 10, signedSince: 0 }).length === 2, 20_000, 'B to hold the new set of two')

      await waitFor(() => c.libp2p.getPeers().some(p => p.toString() === b.peerId), 20_000, 'C connected to B')
      const fromB = await disc(c).syncCatalog(b.peerId)
      assert.deepEqual(fromB, { pages: 1, ads: 1, merged: 2, skipped: 0 })
      assert.deepEqual((await disc(c).find({ name: 'SetY' }, { localOnly: true })).length, 0)
      assert.deepEqual((await disc(c).find({ name: 'SetX' }, { localOnly: true })).map(f => f.provider), [a.peerId])
      const rejected = await c.components.metrics.rejections()
      assert.deepEqual(Object.keys(rejected).filter(k => k.startsWith('discovery/')), [], JSON.stringify(rejected))

      // adSets off: one AdvertiseCapability.v1 per capability, as nodes from before sets send and read
      await waitFor(() => old.libp2p.services.pubsub.getSubscribers('pl/v1/catalog').some(p => p.toString() === b.peerId), 20_000, 'B in the catalog topic, seen from the old-style node')
      await Promise.all(['Old1', 'Old2'].map(async name => await disc(old).publish(descriptorInput(name))))
      await waitFor(async () => (await disc(b).find({ name: 'Old2' }, { localOnly: true })).length === 1 && (await disc(b).find({ name: 'Old1' }, { localOnly: true })).length === 1, 20_000, 'B to hear Old1 and Old2')
      const fromOld = disc(b).catalog.signedAds({ limit: 10, signedSince: 0 }).filter(h => h.ad.from === old.peerId)
      assert.deepEqual(fromOld.map(h => h.ad.type), [AD_TYPE, AD_TYPE])
      assert.equal(fromOld[0].ad === fromOld[1].ad, false, 'two envelopes')
    } finally {
      await mesh.stop()
    }
  })
})
