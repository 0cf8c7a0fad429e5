import test from 'node:test'
import assert from 'node:assert/strict'
import { BootstrapKeeper, type KeeperLibp2p } from '../../src/net/bootstrap-keeper.js'
import { FakeClock } from '../../src/core/clock.js'
import { silentLogger } from '../../src/core/logger.js'
import { PlNode } from '../../src/node.js'
import { tempDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/mesh.js'

const PEER = '12D3KooWLUR4bJeTjDRsVjmHkWFTDGPMLoMxhXe2B3o5gcFnRmve'

/** A libp2p stand-in whose dials fail until `up` is set; events are fired by hand. */
function fakeLibp2p (): KeeperLibp2p & { up: boolean, dials: string[], connected: Set<string>, emit: (type: string, id: string) => void } {
  const listeners = new Map<string, Set<(ev: any) => void>>()
  const self = {
    up: false,
    dials: [] as string[],
    connected: new Set<string>(),
    dial: async (addr: any) => {
      self.dials.push(addr.toString())
      if (!self.up) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
      self.connected.add(PEER)
      return { remotePeer: { toString: () => PEER }, close: async () => {} }
    },
    getConnections: () => [...self.connected].map(id => ({ remotePeer: { toString: () => id } })),
    addEventListener: (type: string, fn: (ev: any) => void) => { listeners.set(type, (listeners.get(type) ?? new Set()).add(fn)) },
    removeEventListener: (type: string, fn: (ev: any) => void) => { listeners.get(type)?.delete(fn) },
    emit: (type: string, id: string) => { for (const fn of listeners.get(type) ?? []) fn(new CustomEvent(type, { detail: { toString: () => id } })) }
  }
  return self
}

/** Lets the keeper's pending dial promises settle (no timers involved). */
async function settle (): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise(resolve => setImmediate(resolve))
}

test('an unreachable bootstrap is redialed with doubling backoff, capped, and joined once it answers', async () => {
  const clock = new FakeClock()
  const libp2p = fakeLibp2p()
  // random() = 1: the jitter takes the whole ceiling, so the doubling shows as is
  const keeper = new BootstrapKeeper({ libp2p, logger: silentLogger(), clock }, { addrs: [`/ip4/10.0.0.1/tcp/4001/p2p/${PEER}`], minBackoffMs: 1000, maxBackoffMs: 4000, random: () => 1 })
  keeper.start()
  await settle()
  // a pinned dial that fails is followed by one id-less diagnostic dial
  assert.equal(libp2p.dials.length, 2)
  assert.match(keeper.problems()[0], /unreachable: ECONNREFUSED/)
  const delays: number[] = []
  for (let i = 0; i < 4; i++) {
    const s = keeper.status()[0]
    delays.push(s.nextDialAt! - clock.now())
    clock.advance(s.nextDialAt! - clock.now())
    await settle()
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 4000])
  assert.equal(keeper.status()[0].attempts, 5)
  libp2p.up = true
  clock.advance(keeper.status()[0].nextDialAt! - clock.now())
  await settle()
  assert.equal(keeper.status()[0].connected, true)
  assert.equal(keeper.status()[0].attempts, 0)
  assert.deepEqual(keeper.problems(), [])
  assert.equal(clock.pending, 0, 'no retry is pending once joined')
  keeper.stop()
})

test('redial delays are jittered between half and all of the backoff ceiling', async () => {
  const delaysWith = async (random: number): Promise<number[]> => {
    const clock = new FakeClock()
    const libp2p = fakeLibp2p()
    const keeper = new BootstrapKeeper({ libp2p, logger: silentLogger(), clock }, { addrs: [`/ip4/10.0.0.1/tcp/4001/p2p/${PEER}`], minBackoffMs: 1000, maxBackoffMs: 4000, random: () => random })
    keeper.start()
    await settle()
    const delays: number[] = []
    for (let i = 0; i < 4; i++) {
      const s = keeper.status()[0]
      delays.push(s.nextDialAt! - clock.now())
      clock.advance(s.nextDialAt! - clock.now())
      await settle()
    }
    keeper.stop()
    return delays
  }
  assert.deepEqual(await delaysWith(0), [500, 1000, 2000, 2000])
  assert.deepEqual(await delaysWith(0.5), [750, 1500, 3000, 3000])
})

test('relays are kept like bootstrap peers (reported as relays); an address listed as both is kept once', async () => {
  const clock = new FakeClock()
  const libp2p = fakeLibp2p()
  const relay = `/ip4/10.0.0.2/tcp/4001/p2p/${PEER}`
  const keeper = new BootstrapKeeper({ libp2p, logger: silentLogger(), clock }, { addrs: [], relays: [relay, relay], random: () => 1 })
  keeper.start()
  await settle()
  assert.deepEqual(keeper.status().map(s => [s.kind, s.addr, s.connected]), [['relay', relay, false]])
  assert.match(keeper.problems()[0], /^relay \/ip4\/10\.0\.0\.2\/tcp\/4001\/p2p\/\S+: unreachable: ECONNREFUSED/)
  libp2p.up = true
  clock.advance(keeper.status()[0].nextDialAt! - clock.now())
  await settle()
  assert.equal(keeper.status()[0].connected, true)
  // the relay drops: redialed after the first (jittered) backoff
  libp2p.connected.clear()
  libp2p.emit('peer:disconnect', PEER)
  assert.equal(keeper.status()[0].connected, false)
  clock.advance(keeper.status()[0].nextDialAt! - clock.now())
  await settle()
  assert.equal(keeper.status()[0].connected, true)
  keeper.stop()
  assert.equal(clock.pending, 0)
  const both = new BootstrapKeeper({ libp2p, logger: silentLogger(), clock }, { addrs: [relay], relays: [relay] })
  assert.deepEqual(both.status().map(s => s.kind), ['bootstrap'])
})

test('a lost bootstrap is redialed after the first backoff; stop clears every timer', async () => {
  const clock = new FakeClock()
  const libp2p = fakeLibp2p()
  libp2p.up = true
  const keeper = new BootstrapKeeper({ libp2p, logger: silentLogger(), clock }, { addrs: ['/dns4/bootstrap/tcp/4001'], learnIds: true, minBackoffMs: 500, random: () => 1 })
  keeper.start()
  await settle()
  assert.equal(keeper.status()[0].peerId, PEER, 'the id is learned from the peer that answered')
  libp2p.connected.clear()
  libp2p.up = false
  libp2p.emit('peer:disconnect', PEER)
  assert.equal(keeper.status()[0].connected, false)
  assert.equal(keeper.status()[0].nextDialAt, clock.now() + 500)
  clock.advance(500)
  await settle()
  assert.equal(keeper.status()[0].attempts, 1)
  assert.ok(clock.pending > 0)
  keeper.stop()
  assert.equal(clock.pending, 0)
})

test('an id-less bootstrap address is refused without learnIds', () => {
  assert.throws(() => new BootstrapKeeper({ libp2p: fakeLibp2p(), logger: silentLogger() }, { addrs: ['/dns4/bootstrap/tcp/4001'] }), { name: 'InvalidBootstrapAddressError', message: /has no peer id.*--learn-bootstrap-ids/ })
  assert.throws(() => new BootstrapKeeper({ libp2p: fakeLibp2p(), logger: silentLogger() }, { addrs: ['not-a-multiaddr'], learnIds: true }), { name: 'InvalidBootstrapAddressError' })
})

test('a node joins a bootstrap given without peer id, and rejoins it after the bootstrap restarts', { timeout: 180_000 }, async (t) => {
  const a = await tempDir('pl-keeper-a-')
  const b = await tempDir('pl-keeper-b-')
  const nodes: PlNode[] = []
  t.after(async () => {
    for (const n of nodes) await n.stop().catch(() => {})
    await a.cleanup()
    await b.cleanup()
  })
  const startBootstrap = async (port: number): Promise<PlNode> => {
    const n = await PlNode.create({ dataDir: a.dir, listen: [`/ip4/127.0.0.1/tcp/${port}`], controlApi: false, localSwarm: true })
    nodes.push(n)
    await n.start()
    return n
  }
  let boot = await startBootstrap(0)
  const port = Number(/\/tcp\/(\d+)/.exec(boot.addrs()[0])![1])
  const node = await PlNode.create({ dataDir: b.dir, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [`/ip4/127.0.0.1/tcp/${port}`], learnBootstrapIds: true, controlApi: false, localSwarm: true })
  nodes.push(node)
  await node.start()
  const joined = (): boolean => node.libp2p.getPeers().some(p => p.toString() === boot.peerId)
  await waitFor(joined, 60_000, 'the node joins the id-less bootstrap')
  await boot.stop()
  await waitFor(() => node.libp2p.getPeers().length === 0, 60_000, 'the node notices the lost bootstrap')
  boot = await startBootstrap(port)
  await waitFor(joined, 120_000, 'the node rejoins the restarted bootstrap')
})
