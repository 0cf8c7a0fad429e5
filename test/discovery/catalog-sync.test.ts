/**
 * Catalog sync on join (/pl/catalog-sync/1.0.0), on real nodes sharing one
 * fake clock, so no ad is ever re-sent during the test: a node that joins
 * after a capability was advertised finds it at once, from the peers it
 * connects to (the provider itself or a node that heard the ad), although it
 * hears no catalog gossip. A hostile peer's forged ads, oversized pages and
 * pages with too many ads are refused with typed errors, counted, and
 * nothing of such a page is merged; malformed requests are refused too.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { FakeClock } from '../../src/core/clock.js'
import { cidStringOf } from '../../src/core/encoding.js'
import type { Envelope } from '../../src/core/index.js'
import { defineProtocol } from '../../src/net/index.js'
import { PlNode, type ServiceFactory } from '../../src/node.js'
import { CATALOG_TOPIC, CATALOG_SYNC_PROTOCOL, MAX_SYNC_PAGE_ADS, catalogSyncProtocol, catalogSyncProtocolId, discovery, type DiscoveryInit } from '../../src/discovery/index.js'
import type { AdvertiseCapability, CapabilityDescriptor } from '../../src/discovery/types.js'
import type { AdvertiseCapabilitySet } from '../../src/discovery/ad-set.js'
import { tempDir } from '../helpers/tmp.js'
import { disc, descriptorInput, waitFor } from './helpers.js'

const clock = new FakeClock(Date.now())
const nodes: PlNode[] = []
const cleanups: Array<() => Promise<void>> = []
/** R: the bootstrap node, hears ads over gossip · A: the provider */
let r: PlNode
let a: PlNode

async function startNode (init: { bootstrap?: PlNode, discovery?: DiscoveryInit | false, gossip?: boolean, network?: string }): Promise<PlNode> {
  const { dir, cleanup } = await tempDir('pl-catalog-sync-')
  cleanups.push(cleanup)
  const services: Record<string, ServiceFactory> = init.discovery === false ? {} : { discovery: discovery({ ttlMs: 60_000, ...init.discovery }) }
  const node = await PlNode.create({
    dataDir: dir,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: init.bootstrap?.addrs() ?? [],
    localSwarm: true,
    controlApi: false,
    gossip: init.gossip ?? true,
    ...(init.network != null ? { net: { network: init.network } } : {}),
    clock,
    services
  })
  nodes.push(node)
  await node.start()
  return node
}

const connectedTo = async (node: PlNode, peer: PlNode): Promise<void> => {
  await waitFor(() => node.libp2p.getPeers().some(p => p.toString() === peer.peerId), 20_000, `${node.peerId} to connect to ${peer.peerId}`)
}

const counted = async (node: PlNode, name: string): Promise<number> => (await node.components.metrics.rejections())[name] ?? 0

function descriptorOf (node: PlNode, name: string, over: Partial<CapabilityDescriptor> = {}): CapabilityDescriptor {
  return { ...descriptorInput(name), limits: {}, provider: node.peerId, ...over }
}

function ad (node: PlNode, descriptor: CapabilityDescriptor, over: Partial<AdvertiseCapability> = {}): Envelope<AdvertiseCapability> {
  return node.components.sign('AdvertiseCapability.v1', { capability: cidStringOf(descriptor), descriptor, addrs: node.addrs(), ttl: 60_000, ...over }, { ttlMs: 60_000 })
}

before(async () => {
  r = await startNode({})
  a = await startNode({ bootstrap: r })
  await connectedTo(a, r)
  // A's ads are sent once (the clock never reaches their re-send): R must be subscribed before A publishes
  await waitFor(() => a.libp2p.services.pubsub.getSubscribers(CATALOG_TOPIC).some(p => p.toString() === r.peerId), 20_000, 'R in the catalog topic')
  await disc(a).publish(descriptorInput('Summarize'))
  await disc(a).publish(descriptorInput('Translate'))
  await waitFor(() => disc(r).catalog.size === 2, 20_000, 'R to hear both ads')
})

after(async () => {
  for (const n of nodes.reverse()) await n.stop().catch(() => {})
  for (const c of cleanups) await c()
})

test('a node that joins later, without catalog gossip, finds a capability advertised before it joined, at once', async () => {
  const b = await startNode({ bootstrap: r, discovery: { gossip: false } })
  await waitFor(async () => (await disc(b).find({ name: 'Summarize' }, { localOnly: true })).length === 1, 20_000, 'B to learn Summarize from a peer')
  const [found] = await disc(b).find({ name: 'Summarize' }, { localOnly: true })
  assert.equal(found.provider, a.peerId)
  assert.equal(found.source, 'gossip')
  await waitFor(async () => (await disc(b).find({ name: 'Translate' }, { localOnly: true })).length === 1, 20_000, 'B to learn Translate')
  assert.equal(disc(a).adsSent, 2, 'A sent each ad once: no re-send could have told B')
  const rejected = await b.components.metrics.rejections()
  assert.deepEqual(Object.keys(rejected).filter(k => k.startsWith('discovery/')), [], JSON.stringify(rejected))
})

test('a connected node of another network never takes this network\'s ads: the sync protocol is named per network', async () => {
  const o = await startNode({ bootstrap: r, network: 'other' })
  await connectedTo(o, r)
  assert.equal(o.libp2p.getProtocols().includes(catalogSyncProtocolId('other')), true)
  assert.equal(r.libp2p.getProtocols().includes(catalogSyncProtocolId('other')), false)
  assert.equal(r.libp2p.getProtocols().includes(CATALOG_SYNC_PROTOCOL), true)
  // asked on demand too, R does not speak the other network's sync, so nothing can be merged
  await assert.rejects(disc(o).syncCatalog(r.peerId))
  assert.equal(disc(o).catalog.size, 0)
})

test('a node hears ads a peer relays from its catalog (charged to that peer), once: a second sync merges nothing', async () => {
  const d = await startNode({ bootstrap: r, discovery: { gossip: false, catalogSync: false } })
  await connectedTo(d, r)
  assert.equal(disc(d).catalog.size, 0, 'asking is off: nothing yet')
  const first = await disc(d).syncCatalog(r.peerId)
  // A's second publish sent both capabilities in one set, which now stands for both entries at R
  assert.deepEqual(first, { pages: 1, ads: 1, merged: 2, skipped: 0 })
  const entries = disc(d).catalogEntries(10)
  assert.deepEqual(entries.map(e => [e.name, e.provider, e.via]).sort(), [['Summarize', a.peerId, r.peerId], ['Translate', a.peerId, r.peerId]])
  assert.equal(disc(d).catalog.bytesVia(r.peerId) > 0, true)
  const again = await disc(d).syncCatalog(r.peerId)
  assert.deepEqual(again, { pages: 1, ads: 1, merged: 0, skipped: 2 }, 'the same signed set is a replay (its two capabilities skipped)')
})

test('pages follow the cursor; malformed requests are refused with CatalogSyncRequestError, counted', async () => {
  const d = nodes.find(n => n !== r && n !== a && disc(n).settings.catalogSync === false) as PlNode
  const def = catalogSyncProtocol()
  const one = await d.components.rpc.request(r.peerId, def, { limit: 1 })
  assert.equal(one.status, 'OK')
  // R holds A's two capabilities from one set: the first page carries it, the cursor moves past both
  const p1 = one.body as { ads: Array<Envelope<AdvertiseCapabilitySet>>, next?: string }
  assert.equal(p1.ads.length, 1)
  assert.equal(p1.ads[0].body.ads.length, 2)
  assert.equal(typeof p1.next, 'string')
  const two = await d.components.rpc.request(r.peerId, def, { limit: 1, after: p1.next })
  assert.deepEqual(two.body, { ads: [] })
  const before = await counted(r, `${CATALOG_SYNC_PROTOCOL}/CatalogSyncRequestError`)
  for (const bad of [{ limit: MAX_SYNC_PAGE_ADS + 1 }, { limit: 0 }, { after: 7 }, { after: 'x'.repeat(300) }, { everything: true }]) {
    const res = await d.components.rpc.request(r.peerId, def, bad as any)
    assert.deepEqual([res.status, res.error?.name], ['REJECTED', 'CatalogSyncRequestError'], JSON.stringify(bad))
  }
  assert.equal(await counted(r, `${CATALOG_SYNC_PROTOCOL}/CatalogSyncRequestError`) - before, 5)
})

test('forged ads, withdrawals, too many ads and oversized pages from a hostile peer: typed errors, counted, nothing of the page merged', async () => {
  const v = await startNode({ bootstrap: r, discovery: { gossip: false, catalogSync: false } })
  const h = await startNode({ bootstrap: v, discovery: false })
  await connectedTo(v, h)
  const good = ad(h, descriptorOf(h, 'HostileGood'))
  const tampered = ad(h, descriptorOf(h, 'Tampered'))
  tampered.body.descriptor = { ...tampered.body.descriptor, price: 0 }
  tampered.body.capability = cidStringOf(tampered.body.descriptor)
  const pages: Record<string, unknown> = {
    forged: { ads: [good, tampered] },
    impostor: { ads: [good, ad(h, descriptorOf(a, 'NotMine'))] },
    wrongCid: { ads: [good, ad(h, descriptorOf(h, 'WrongCid'), { capability: cidStringOf(descriptorOf(h, 'Other')) })] },
    withdrawal: { ads: [good, ad(h, descriptorOf(h, 'Gone'), { withdraw: true })] },
    tooMany: { ads: Array.from({ length: MAX_SYNC_PAGE_ADS + 1 }, () => good) },
    notAList: { ads: 'all of them' },
    huge: { ads: [good], pad: 'x'.repeat(1536 * 1024) }
  }
  let mode = 'forged'
  await h.components.rpc.handle(defineProtocol({ id: CATALOG_SYNC_PROTOCOL, maxResponseBytes: 4 * 1024 * 1024, handler: async () => ({ status: 'OK', body: pages[mode] }) }))
  const held = disc(v).catalog.size
  const expect: Array<[string, string, string?]> = [
    ['forged', 'ForgedCatalogAdError', 'BadSignatureError'],
    ['impostor', 'ForgedCatalogAdError', 'ProviderMismatchError'],
    ['wrongCid', 'ForgedCatalogAdError', 'CidMismatchError'],
    ['withdrawal', 'ForgedCatalogAdError', 'withdraw'],
    ['tooMany', 'CatalogSyncAnswerError'],
    ['notAList', 'CatalogSyncAnswerError'],
    ['huge', 'FrameTooLargeError']
  ]
  for (const [m, name, reason] of expect) {
    mode = m
    const before = await counted(v, `discovery/${name}`)
    await assert.rejects(disc(v).syncCatalog(h.peerId), (err: Error & { details?: Record<string, unknown> }) => {
      assert.equal(err.name, name, `${m}: ${err.name}: ${err.message}`)
      if (reason != null) assert.equal(err.details?.reason, reason, m)
      return true
    })
    assert.equal(await counted(v, `discovery/${name}`) - before, 1, `${m} counted`)
    assert.equal(disc(v).catalog.size, held, `${m}: nothing merged`)
    assert.deepEqual(await disc(v).find({ name: 'HostileGood' }, { localOnly: true }), [], `${m}: not even the good ad of the page`)
  }
  // the same peer answering honestly is heard
  mode = 'honest'
  pages.honest = { ads: [good] }
  assert.deepEqual(await disc(v).syncCatalog(h.peerId), { pages: 1, ads: 1, merged: 1, skipped: 0 })
  assert.equal((await disc(v).find({ name: 'HostileGood' }, { localOnly: true }))[0]?.provider, h.peerId)
})
