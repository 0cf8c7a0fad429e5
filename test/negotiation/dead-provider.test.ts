/**
 * A provider dies without a goodbye (its ad stays in the catalog, its DHT
 * records stay, dials to it hang like dials to a killed container's
 * address): later negotiated runs must not wait for it. Behaviour is
 * asserted on the award explanation and the requester's quarantine, with
 * the quarantine on an injected clock; never on durations.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { waitFor } from '../helpers/mesh.js'
import { discovery, type Discovery } from '../../src/discovery/index.js'
import { negotiation, DEFAULT_QUARANTINE_MS, type Negotiation, type RemoteRunner, type StepExplanation } from '../../src/negotiation/index.js'
import type { PlNode } from '../../src/node.js'
import { startPoolMesh, step, dagOf, ctxOf, runId, type PoolMesh } from './helpers.js'

let m: PoolMesh
let tarpit: Server | undefined
const held: Socket[] = []
let clock = Date.now()

const disc = (n: PlNode): Discovery => n.service<Discovery>('discovery')
const neg = (n: PlNode): Negotiation => n.service<Negotiation>('negotiation')
const dag = dagOf([step('s', 'Work')], { select: [{ attr: 'price', weight: 1 }] })

async function runOn (n: PlNode): Promise<{ executor: string, exp: StepExplanation }> {
  const id = runId('dead')
  const res = await (neg(n).runner as RemoteRunner).run(dag.steps.s, { n: 1 }, ctxOf(dag, id, 's'))
  return { executor: res.executor as string, exp: await neg(n).explanation(id, 's') }
}

/** Stops the peer's libp2p (no withdrawal: its ad and DHT records stay) and puts a listener that accepts and never answers on its port. */
async function kill (n: PlNode): Promise<void> {
  const port = Number(/\/tcp\/(\d+)/.exec(n.addrs()[0])?.[1])
  await n.libp2p.stop()
  tarpit = createServer((s) => { held.push(s) })
  await new Promise<void>((resolve, reject) => { tarpit?.once('error', reject); tarpit?.listen(port, '127.0.0.1', resolve) })
}

before(async () => {
  m = await startPoolMesh({
    name: 'pl-neg-dead-',
    nodes: 5,
    services: (i, runStep) => ({
      discovery: discovery({ ttlMs: 60_000, provideRetryMs: 100, provideRetryMaxMs: 1_000 }),
      // node 4 asks at most 2 candidates (the maxCandidates test); the quarantine runs on the test's clock
      negotiation: negotiation({ runStep, now: () => clock, ...(i === 4 ? { maxCandidates: 2 } : {}) })
    })
  })
  // the tarpit a test puts in place of the killed peer: closed once the nodes stopped, before the pool
  m.defer(async () => {
    for (const s of held) s.destroy()
    await new Promise<void>((resolve) => { if (tarpit == null) resolve(); else tarpit.close(() => { resolve() }) })
  })
  const dir = join(m.dir, 'work')
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'function.mjs'), 'export default class W {\n  eval (parameters, inputData) { return { n: inputData.n } }\n}\n')
  for (let i = 1; i <= 4; i++) await disc(m.nodes[i]).publish({ name: 'Work', version: '1.0.0', io: { input: {}, output: {} }, price: i }, { dir })
  await waitFor(async () => (await disc(m.nodes[0]).find({ name: 'Work' }, { localOnly: true })).length === 4, 30_000, 'node 0 to hear the 4 Work ads')
  await waitFor(async () => (await disc(m.nodes[4]).find({ name: 'Work' }, { localOnly: true })).length >= 3, 30_000, 'node 4 to hear the other Work ads')
})

after(async () => {
  await m?.close()
})

test('discovery resolves once maxCandidates live candidates are known: no DHT walk to wait for', async () => {
  const { exp } = await runOn(m.nodes[4])
  assert.equal(exp.outcome, 'ok')
  assert.equal(exp.finds?.[0]?.walk, 'limit', JSON.stringify(exp.finds))
  assert.equal(exp.answers.filter(a => a.round === 1 && a.kind !== 'excluded').length, 2, 'two candidates called')
})

test('a provider that died is quarantined after its first miss; later runs neither call it nor wait for discovery\'s budget on it', async () => {
  const victim = m.nodes[1]
  const first = await runOn(m.nodes[0])
  assert.equal(first.executor, victim.peerId, 'the cheapest provider wins while alive')
  await kill(victim)

  const a = await runOn(m.nodes[0])
  assert.notEqual(a.executor, victim.peerId)
  assert.equal(neg(m.nodes[0]).quarantine.has(victim.peerId), true, `the dead provider is quarantined: ${JSON.stringify(a.exp.answers)}`)

  for (let i = 0; i < 2; i++) {
    const b = await runOn(m.nodes[0])
    assert.notEqual(b.executor, victim.peerId)
    const fromVictim = b.exp.answers.filter(x => x.provider === victim.peerId)
    assert.deepEqual(fromVictim.map(x => x.kind), ['excluded'], 'the dead provider is still in the catalog but gets no call')
    assert.match(fromVictim[0].message ?? '', /quarantined/)
    assert.equal(b.exp.attempts.length, 1)
    const find = b.exp.finds?.[0]
    assert.ok(find != null && find.walk !== 'timeout' && find.walk !== 'aborted', `the walk did not wait out its budget: ${JSON.stringify(b.exp.finds)}`)
    assert.equal(find.quarantined, 1)
  }
})

test('when its period ends on the injected clock, the dead provider is tried again and quarantined for twice as long', async () => {
  const victim = m.nodes[1]
  const q = neg(m.nodes[0]).quarantine
  assert.equal(q.has(victim.peerId), true)
  clock += DEFAULT_QUARANTINE_MS
  assert.equal(q.has(victim.peerId), false)
  const c = await runOn(m.nodes[0])
  assert.notEqual(c.executor, victim.peerId)
  // free again, it is dialed again (by the DHT walk or a call) and found dead again
  assert.equal(c.exp.answers.filter(x => x.provider === victim.peerId).length, 1)
  const e = q.get(victim.peerId)
  assert.ok(e != null, 'quarantined again')
  assert.equal(e.strikes, 2)
  assert.equal(e.until - e.since, 2 * DEFAULT_QUARANTINE_MS)
})

test('a quarantined peer that connects again is released', async () => {
  const requester = m.nodes[0]
  const peer = m.nodes[3]
  const q = neg(requester).quarantine
  q.add(peer.peerId, 'unreachable')
  await requester.libp2p.hangUp(peer.libp2p.peerId)
  assert.equal(q.has(peer.peerId), true)
  await peer.libp2p.dial(requester.libp2p.getMultiaddrs()[0])
  await waitFor(() => !q.has(peer.peerId), 20_000, 'the peer to leave the quarantine')
})
