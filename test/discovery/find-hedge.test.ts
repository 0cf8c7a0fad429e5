/**
 * A DHT find asks providers as the walk turns them up. With a `limit`, the
 * walk is not pulled further while the providers being asked could meet it:
 * a find the local provider records satisfy sends no DHT query; a provider
 * that does not answer holds the walk only FIND_HEDGE_MS (on the asker's
 * clock), then the walk goes on and the silent one is dropped once the limit
 * is met. Without a limit, a silent provider does not hold the find past its
 * deadline. The asker and the providers run on FakeClocks that only the
 * test moves (no request times out by itself); everything waits on events.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { CID } from 'multiformats/cid'
import { FakeClock } from '../../src/core/clock.js'
import { TestMesh } from '../helpers/mesh.js'
import { discovery, capNameKey, CAPS_PROTOCOL } from '../../src/discovery/index.js'
import { FIND_HEDGE_MS } from '../../src/discovery/constants.js'
import type { FinderFindOptions, WalkEndReason } from '../../src/discovery/finder.js'
import type { PlNode } from '../../src/node.js'
import { disc, dhtReady, descriptorInput, waitFor } from './helpers.js'

const NAME = 'Hedge'
const ASKER = 3
const clock = new FakeClock()
/** the providers' clock, never moved: their /pl/caps requests do not time out */
const frozen = new FakeClock()
let mesh: TestMesh
let asker: PlNode
let providers: PlNode[]

/** A provider's /pl/caps, held while its gate is closed (the real answer once it opens). */
interface Gate { asked: number, open: () => void, closed: boolean, opened: Promise<void> }
const gates = new Map<string, Gate>()

function gate (): Gate {
  let open = (): void => {}
  const opened = new Promise<void>((resolve) => { open = resolve })
  const g: Gate = { asked: 0, closed: true, opened, open: () => { g.closed = false; open() } }
  return g
}

async function gateCaps (node: PlNode): Promise<void> {
  const served = node.components.rpc.served(CAPS_PROTOCOL)
  assert.ok(served != null)
  await node.libp2p.unhandle(CAPS_PROTOCOL)
  await node.components.rpc.handle({
    ...served.def,
    handler: async (req, ctx) => {
      const g = gates.get(node.peerId)
      if (g != null) {
        g.asked++
        if (g.closed) await g.opened
      }
      return await served.handler(req, ctx)
    }
  })
}

/** Waits until the asker holds both provider records itself (kad-dht yields them before any query). */
async function localRecords (key: CID): Promise<void> {
  let checks = 0
  await waitFor(async () => {
    let held: string[] = []
    for await (const ev of asker.libp2p.services.dht.findProviders(key, { signal: AbortSignal.timeout(5_000) })) {
      if (ev.name === 'PROVIDER') {
        if (ev.from.equals(asker.libp2p.peerId)) held = ev.providers.map(x => x.id.toString())
        break
      }
    }
    if (providers.every(p => held.includes(p.peerId))) return true
    // a provider's one ADD_PROVIDER may have gone out before the asker was in its routing table, and
    // its retries run on the frozen clock: provide again now and then (the find is what is tested)
    if (++checks % 20 === 0) {
      await Promise.allSettled(providers.filter(p => !held.includes(p.peerId)).map(async p => { for await (const _ of p.libp2p.services.dht.provide(key, { signal: AbortSignal.timeout(5_000) })) { /* drain */ } }))
    }
    return false
  }, 60_000, 'the asker to hold both provider records')
}

before(async () => {
  // gossip off: the asker learns providers only through the DHT
  mesh = await TestMesh.start({
    nodes: 4,
    gossip: () => false,
    services: () => ({ discovery: discovery({ ttlMs: 60_000, sweepMs: 100, provideRetryMs: 100, provideRetryMaxMs: 1_000, gossip: false }) }),
    extra: (i) => i === ASKER ? { clock } : i > 0 ? { clock: frozen } : {}
  })
  await mesh.connected(1)
  await dhtReady(mesh, 2)
  asker = mesh.nodes[ASKER]
  providers = [mesh.nodes[1], mesh.nodes[2]]
  for (const p of providers) {
    await gateCaps(p)
    await disc(p).publish(descriptorInput(NAME))
  }
  await localRecords(capNameKey(NAME))
})

after(async () => {
  for (const g of gates.values()) g.open()
  await mesh.stop()
})

test('a limit-1 find the local provider records satisfy sends no DHT query', async () => {
  const dht = asker.libp2p.services.dht
  const original = dht.findProviders
  const events: string[] = []
  dht.findProviders = async function * (key, options) {
    for await (const ev of original.call(dht, key, options)) {
      events.push(ev.name)
      yield ev
    }
  }
  try {
    let reason: WalkEndReason | undefined
    const options: FinderFindOptions = { dhtOnly: true, limit: 1, timeoutMs: 60_000, onProgress: (e) => { reason = e.reason } }
    const found = await disc(asker).find({ name: NAME }, options)
    assert.equal(found.length, 1)
    assert.equal(reason, 'limit')
    assert.deepEqual(events.filter(e => e !== 'PEER_RESPONSE' && e !== 'PROVIDER'), [], `walk events: ${events.join(', ')}`)
  } finally {
    dht.findProviders = original
  }
})

test('a provider that does not answer holds a limit-1 find only FIND_HEDGE_MS: the walk goes on and the silent one is dropped', async () => {
  for (const p of providers) gates.set(p.peerId, gate())
  try {
    let reason: WalkEndReason | undefined
    const options: FinderFindOptions = { dhtOnly: true, limit: 1, timeoutMs: 60_000, onProgress: (e) => { reason = e.reason } }
    let settled = false
    const finding = disc(asker).find({ name: NAME }, options).finally(() => { settled = true })
    // whichever provider is asked first stays silent; the other answers once asked
    await waitFor(() => providers.some(p => (gates.get(p.peerId)?.asked ?? 0) > 0), 30_000, 'a provider to be asked')
    const silent = providers.find(p => (gates.get(p.peerId)?.asked ?? 0) > 0) as PlNode
    const live = providers.find(p => p !== silent) as PlNode
    gates.get(live.peerId)?.open()
    clock.advance(FIND_HEDGE_MS)
    // on a frozen clock nothing else times out: only the hedge lets the walk go on
    await waitFor(() => settled, 30_000, 'the find to return past the silent provider')
    const found = await finding
    assert.deepEqual(found.map(f => f.provider), [live.peerId])
    assert.equal(reason, 'limit')
    assert.equal(gates.get(silent.peerId)?.closed, true, 'the silent provider never answered')
  } finally {
    for (const g of gates.values()) g.open()
    gates.clear()
  }
})

test('without a limit, a provider that never answers does not hold the find past its deadline', async () => {
  const silent = providers[0]
  const live = providers[1]
  gates.set(silent.peerId, gate())
  // the live provider's answer is in once this find has written it to the catalog (earlier tests left an entry there)
  const catalog = disc(asker).catalog
  const upsert = catalog.upsert
  let liveKept = false
  catalog.upsert = async (entry, options) => {
    const r = await upsert.call(catalog, entry, options)
    if (entry.provider === live.peerId) liveKept = true
    return r
  }
  try {
    let reason: WalkEndReason | undefined
    const unreachable: string[] = []
    const options: FinderFindOptions = { dhtOnly: true, timeoutMs: 1_000, onProgress: (e) => { reason = e.reason }, onUnreachable: (p) => { unreachable.push(p) } }
    let settled = false
    const finding = disc(asker).find({ name: NAME }, options).finally(() => { settled = true })
    await waitFor(() => (gates.get(silent.peerId)?.asked ?? 0) > 0, 30_000, 'the silent provider to be asked')
    await waitFor(() => liveKept, 30_000, 'the live provider\'s answer')
    clock.advance(1_000)
    await waitFor(() => settled, 30_000, 'the find to return at its deadline')
    const found = await finding
    assert.deepEqual(found.map(f => f.provider), [live.peerId])
    assert.equal(reason, 'timeout')
    assert.deepEqual(unreachable, [], 'a connected provider that is slow is not reported unreachable')
  } finally {
    catalog.upsert = upsert
    for (const g of gates.values()) g.open()
    gates.clear()
  }
})

