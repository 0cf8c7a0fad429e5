/**
 * A provider record follows the network's growth: a key provided while the
 * provider knew few DHT peers is provided again, early, once its routing
 * table has grown by a quarter (checked every PROVIDE_GROWTH_CHECK_MS on the
 * node's clock), so that peers which joined since (and may be closer to the
 * key) hold the record too. Real nodes on loopback; the provider runs on a
 * FakeClock that only the test moves.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { CID } from 'multiformats/cid'
import { FakeClock } from '../../src/core/clock.js'
import { TestMesh } from '../helpers/mesh.js'
import { discovery, capNameKey } from '../../src/discovery/index.js'
import { earlyReprovideDue, KAD_K, PROVIDE_GROWTH_CHECK_MS, type ProvideReach } from '../../src/discovery/dht.js'
import type { PlNode } from '../../src/node.js'
import { disc, descriptorInput, waitFor } from './helpers.js'

const NAME = 'Growth'
const PROVIDER = 1
const LATE = 2
const LATER = 3
const clock = new FakeClock()
let mesh: TestMesh

/** whether `node` holds a provider record of `key` for `provider` (kad-dht's own store; no query sent) */
async function holds (node: PlNode, key: CID, provider: PlNode): Promise<boolean> {
  const store = (node.libp2p.services.dht as unknown as { providers: { getProviders: (cid: CID) => Promise<Array<{ toString: () => string }>> } }).providers
  return (await store.getProviders(key)).some(p => p.toString() === provider.peerId)
}

/** `pl_dht_provides_total{area="discovery",kind,result="ok"}` of `node`, read from the counter (not its text form) */
async function provideCount (node: PlNode, kind: string): Promise<number> {
  const counter = node.components.metrics.registry.getSingleMetric('pl_dht_provides_total')
  const values = (await counter?.get())?.values ?? []
  return values.find(v => v.labels.area === 'discovery' && v.labels.kind === kind && v.labels.result === 'ok')?.value ?? 0
}

test('earlyReprovideDue: after its wait, when the routing table grew by a quarter or could reach a quarter more peers than took the record', () => {
  const at = 1_000
  const reach = (stored: number, rt: number, earlyWait = PROVIDE_GROWTH_CHECK_MS): ProvideReach => ({ at, stored, rt, earlyWait })
  // the wait comes first, whatever the growth
  assert.equal(earlyReprovideDue(reach(1, 1), 100, at + PROVIDE_GROWTH_CHECK_MS - 1), false)
  assert.equal(earlyReprovideDue(reach(1, 1), 100, at + PROVIDE_GROWTH_CHECK_MS), true)
  assert.equal(earlyReprovideDue(reach(1, 1, 120_000), 100, at + 119_999), false)
  const later = at + PROVIDE_GROWTH_CHECK_MS
  // a full provide in a table that did not grow: never early
  assert.equal(earlyReprovideDue(reach(KAD_K, 60), 60, later), false)
  assert.equal(earlyReprovideDue(reach(KAD_K, 60), 74, later), false)
  assert.equal(earlyReprovideDue(reach(KAD_K, 60), 75, later), true)
  // a small network, every peer took it: nothing to gain until a peer more joins
  assert.equal(earlyReprovideDue(reach(8, 8), 8, later), false)
  assert.equal(earlyReprovideDue(reach(8, 8), 9, later), false)
  assert.equal(earlyReprovideDue(reach(8, 8), 10, later), true)
  // few peers took it though the table then held more: reach is capped at K
  assert.equal(earlyReprovideDue(reach(2, 10), 10, later), true)
  assert.equal(earlyReprovideDue(reach(17, 60), 60, later), false)
  assert.equal(earlyReprovideDue(reach(16, 60), 60, later), true)
  // a table that shrank (peers left) is no reason
  assert.equal(earlyReprovideDue(reach(KAD_K, 60), 30, later), false)
})

before(async () => {
  // gossip off: only the DHT; the late nodes start with no bootstrap peer, so they miss the first provide
  mesh = await TestMesh.start({
    nodes: 4,
    gossip: () => false,
    services: () => ({ discovery: discovery({ ttlMs: 60 * 60_000, sweepMs: 60_000, provideRetryMs: 100, provideRetryMaxMs: 1_000, gossip: false }) }),
    extra: (i) => i === PROVIDER ? { clock } : i === LATE || i === LATER ? { bootstrap: [] } : {}
  })
})

after(async () => { await mesh.stop() })

test('a key provided while the provider knew one DHT peer is provided again once its routing table grows, and the new peer holds it; the next early provide waits twice as long', async () => {
  const [first, provider, late, later] = mesh.nodes
  const key = capNameKey(NAME)
  const dht = provider.libp2p.services.dht
  await waitFor(() => dht.routingTable.size === 1 && late.libp2p.getPeers().length === 0, 20_000, 'the provider to know only the bootstrap node')
  let provides = 0
  const original = dht.provide
  dht.provide = async function * (cid, options) {
    if (cid.equals(key)) provides++
    yield * original.call(dht, cid, options)
  }
  try {
    await disc(provider).publish(descriptorInput(NAME))
    await waitFor(async () => await holds(first, key, provider), 20_000, 'the bootstrap node to hold the record')
    assert.equal(provides, 1)

    // the late node joins the provider's routing table: 1 → 2 peers, grown by more than a quarter
    await provider.libp2p.dial(late.libp2p.getMultiaddrs()[0])
    await waitFor(() => dht.routingTable.size === 2, 20_000, 'the provider\'s routing table to hold the late node')
    assert.equal(await holds(late, key, provider), false, 'the late node missed the first provide')

    // not before the growth check
    clock.advance(PROVIDE_GROWTH_CHECK_MS - 1)
    assert.equal(provides, 1)
    clock.advance(1)
    await waitFor(() => provides === 2, 20_000, 'the growth check to provide the key again')
    await waitFor(async () => await holds(late, key, provider), 20_000, 'the late node to hold the record after the early re-provide')
    // both keys (the name key and the descriptor CID) done: their reach is recorded at the end of the walk
    await waitFor(async () => await provideCount(provider, 'early') === 2, 20_000, 'both early re-provides to end')

    // the table grows again at once (2 → 3 peers), but the early wait doubled as the last one started: 60 s, not 30
    await provider.libp2p.dial(later.libp2p.getMultiaddrs()[0])
    await waitFor(() => dht.routingTable.size === 3, 20_000, 'the provider\'s routing table to hold the later node')
    clock.advance(PROVIDE_GROWTH_CHECK_MS)
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(provides, 2, 'an early re-provide 30 s after the last one, whose wait had doubled to 60 s')
    clock.advance(PROVIDE_GROWTH_CHECK_MS)
    await waitFor(() => provides === 3, 20_000, 'the growth check to provide the key again after the doubled wait')
    await waitFor(async () => await holds(later, key, provider), 20_000, 'the later node to hold the record')
    await waitFor(async () => await provideCount(provider, 'early') === 4, 20_000, 'the second early re-provides to end')

    // no further growth: later checks leave the key alone
    clock.advance(8 * PROVIDE_GROWTH_CHECK_MS)
    assert.equal(provides, 3)
    // counted, by why each provide ran (the name key and the descriptor CID: two early re-provides each)
    assert.equal(await provideCount(provider, 'first'), 2)
    assert.equal(await provideCount(provider, 'early'), 4)
  } finally {
    dht.provide = original
  }
})
