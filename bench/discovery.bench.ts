/**
 * Discovery benchmarks: time from publish to findable on every node of a
 * 10-node mesh (vs a bare gossip envelope reaching every node), DHT-only
 * lookups on 20 nodes (findProviders vs a ping; whole and limit-1 dhtOnly
 * finds vs findProviders to the first provider; the whole find also vs the
 * whole findProviders walk, drained), and the heap of 10k catalog entries (vs their
 * dag-cbor size), measured in a fresh process.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PlNode } from '../src/node.js'
import { Store } from '../src/store/index.js'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { cidStringOf, encodeCanonical } from '../src/core/encoding.js'
import { discovery, capNameKey, Catalog, CATALOG_TOPIC, type Discovery } from '../src/discovery/index.js'
import type { CapabilityDescriptor, CatalogEntry } from '../src/discovery/types.js'
import { latencyFigure, type Bench } from './harness.js'

const execFileP = promisify(execFile)

const PROVIDER = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'

function descriptor (name: string, provider = PROVIDER): CapabilityDescriptor {
  return {
    name,
    version: '1.0.0',
    provider,
    io: {
      input: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
      output: { type: 'object', properties: { summary: { type: 'string' } }, required: ['summary'] }
    },
    limits: { wall_ms: 30_000, mem_mb: 256 },
    price: 2,
    attrs: { readability: 0.9, coverage: 0.6 },
    policies: ['cid:pol-PII-no-exfil']
  }
}

async function startMesh (n: number, gossip: boolean): Promise<{ nodes: PlNode[], cleanup: () => Promise<void> }> {
  const nodes: PlNode[] = []
  const dirs: string[] = []
  try {
    for (let i = 0; i < n; i++) {
      const dir = await mkdtemp(join(tmpdir(), 'pl-bench-disc-'))
      dirs.push(dir)
      const node = await PlNode.create({
        dataDir: dir,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: i === 0 ? [] : [nodes[0].addrs()[0]],
        localSwarm: true,
        controlApi: false,
        gossip,
        services: { discovery: discovery({ gossip, ttlMs: 60_000, provideRetryMs: 100, provideRetryMaxMs: 1_000 }) }
      })
      await node.start()
      nodes.push(node)
    }
  } catch (err) {
    await Promise.allSettled(nodes.map(async x => { await x.stop() }))
    throw err
  }
  return { nodes, cleanup: async () => { await Promise.allSettled(nodes.map(async x => { await x.stop() })); for (const d of dirs) await rm(d, { recursive: true, force: true }) } }
}

async function until (cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, pollMs = 2): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, pollMs))
  }
}

const d = (n: PlNode): Discovery => n.service<Discovery>('discovery')

const publishToFindable: Bench = {
  name: 'discovery-publish-to-findable',
  run: async () => {
    const { nodes, cleanup } = await startMesh(10, true)
    try {
      await until(() => nodes.every(n => n.libp2p.services.pubsub.getSubscribers(CATALOG_TOPIC).length >= 2), 30_000, 'catalog topic mesh', 50)
      await new Promise(resolve => setTimeout(resolve, 2_000)) // let gossipsub graft its meshes
      const subject: number[] = []
      const baseline: number[] = []
      const received = nodes.map(() => new Set<string>())
      nodes.forEach((n, i) => { n.components.gossip.subscribe('pl/v1/bench', { types: ['Decline.v1'], onMessage: (v) => { received[i].add(String(v.envelope.body.run)) } }) })
      await until(() => nodes.every(n => n.libp2p.services.pubsub.getSubscribers('pl/v1/bench').length >= 2), 30_000, 'bench topic mesh', 50)
      await new Promise(resolve => setTimeout(resolve, 2_000))
      const rounds = 30
      for (let r = 0; r < rounds; r++) {
        const from = nodes[r % nodes.length]
        const others = nodes.filter(n => n !== from)
        // subject: publish, then every other node's catalog holds it
        const name = `Bench${r}`
        const t0 = performance.now()
        await d(from).publish({ ...descriptor(name), provider: undefined })
        await until(() => others.every(n => d(n).catalog.find(name).length === 1), 20_000, `${name} on every node`)
        subject.push(performance.now() - t0)
        // baseline: a bare signed envelope on gossip reaching every node
        const run = `run-${r}`
        const t1 = performance.now()
        await from.components.gossip.publish('pl/v1/bench', from.components.sign('Decline.v1', { cfp: cidStringOf({ r }), run, step: 's', reason: 'busy' }))
        await until(() => others.every(n => received[nodes.indexOf(n)].has(run)), 20_000, `${run} on every node`)
        baseline.push(performance.now() - t1)
        await new Promise(resolve => setTimeout(resolve, 350)) // stay under the publish pacing (3/s)
      }
      return { figures: { 'publish → in the catalog of all 9 other nodes (10-node mesh)': latencyFigure(subject, { name: 'signed envelope on gossip → all 9 other nodes', samples: baseline }) } }
    } finally { await cleanup() }
  }
}

const dhtOnly: Bench = {
  name: 'discovery-dht-only',
  run: async () => {
    const { nodes, cleanup } = await startMesh(20, false)
    try {
      await until(() => nodes.every(n => n.libp2p.services.dht.routingTable.size >= 4), 180_000, 'DHT routing tables', 50)
      const providers = nodes.slice(17)
      for (const [i, p] of providers.entries()) await d(p).publish({ ...descriptor(`Dht${i}`), provider: undefined })
      const askers = nodes.slice(0, 10)
      // wait until each name is findable from one asker (the provide walks have finished)
      for (let i = 0; i < providers.length; i++) {
        await until(async () => (await d(askers[0]).find({ name: `Dht${i}` }, { dhtOnly: true, timeoutMs: 2_000 })).length === 1, 60_000, `Dht${i} via the DHT`, 200)
      }
      const findProviders: number[] = []
      const fullFind: number[] = []
      const ping: number[] = []
      const firstFind: number[] = []
      const wholeWalk: number[] = []
      // the walk alone, drained; taken before the whole find in half the rounds and after it in the others
      // (the first walk after a while pays more: peer store writes of the addresses it learns)
      const drain = async (asker: PlNode, i: number): Promise<void> => {
        const t4 = performance.now()
        for await (const info of asker.libp2p.contentRouting.findProviders(capNameKey(`Dht${i}`), { signal: AbortSignal.timeout(10_000) })) info.id.toString()
        wholeWalk.push(performance.now() - t4)
      }
      for (const [a, asker] of askers.entries()) {
        for (let i = 0; i < providers.length; i++) {
          const drainFirst = (a + i) % 2 === 0
          const t0 = performance.now()
          for await (const info of asker.libp2p.contentRouting.findProviders(capNameKey(`Dht${i}`), { signal: AbortSignal.timeout(10_000) })) {
            if (info.id.toString() !== asker.peerId) break
          }
          findProviders.push(performance.now() - t0)
          if (drainFirst) await drain(asker, i)
          const t1 = performance.now()
          const found = await d(asker).find({ name: `Dht${i}` }, { dhtOnly: true, timeoutMs: 10_000 })
          fullFind.push(performance.now() - t1)
          if (found.length !== 1) throw new Error(`node ${asker.peerId} found ${found.length} providers of Dht${i}`)
          const t3 = performance.now()
          if ((await d(asker).find({ name: `Dht${i}` }, { dhtOnly: true, limit: 1, timeoutMs: 10_000 })).length !== 1) throw new Error('limit-1 find found nothing')
          firstFind.push(performance.now() - t3)
          const t2 = performance.now()
          await asker.libp2p.services.ping.ping(providers[i].libp2p.peerId)
          ping.push(performance.now() - t2)
          if (!drainFirst) await drain(asker, i)
        }
      }
      return {
        figures: {
          'findProviders(pl:cap:<name>) first provider, 20 nodes': latencyFigure(findProviders, { name: 'libp2p ping to the provider', samples: ping }),
          'find dhtOnly (whole walk + /pl/caps + /pl/fetch), 20 nodes': latencyFigure(fullFind, { name: 'findProviders first provider', samples: findProviders }),
          'find dhtOnly whole walk vs the walk alone, 20 nodes': latencyFigure(fullFind, { name: 'findProviders drained (whole walk)', samples: wholeWalk }),
          'find dhtOnly limit 1 (first provider + /pl/caps + /pl/fetch), 20 nodes': latencyFigure(firstFind, { name: 'findProviders first provider', samples: findProviders })
        }
      }
    } finally { await cleanup() }
  }
}

/** Heap in use after full GCs (with pauses so concurrent sweeping finishes); needs --expose-gc. */
async function heapMiB (): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc == null) throw new Error('run with node --expose-gc')
  for (let i = 0; i < 3; i++) { gc(); await new Promise(resolve => setTimeout(resolve, 30)) }
  return process.memoryUsage().heapUsed / 2 ** 20
}

const CATALOG_N = 10_000

function catalogEntry (i: number, now: number): CatalogEntry {
  const provider = `12D3KooW${String(i % 500).padStart(44, 'x')}`
  const desc = descriptor(`Cap${i % 2000}`, provider)
  return { cid: cidStringOf({ i }), name: desc.name, version: desc.version, provider, descriptor: desc, addrs: ['/ip4/127.0.0.1/tcp/4001'], ts: now, expires: now + 3_600_000, source: 'gossip' }
}

/**
 * Runs in a fresh process (`--catalog-probe`): heap growth of a Catalog
 * (LevelDB write-through, as in the node) holding 10k entries, the
 * dag-cbor size of those entries, and a find by name.
 */
async function catalogProbe (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pl-bench-catalog-'))
  const store = await Store.open(dir)
  try {
    const now = Date.now()
    const catalog = new Catalog(store.json('catalog'), { maxEntries: CATALOG_N * 2, maxPerProvider: CATALOG_N })
    await catalog.upsert(catalogEntry(-1, now)) // warm the code paths
    const before = await heapMiB()
    for (let i = 0; i < CATALOG_N; i++) await catalog.upsert(catalogEntry(i, now))
    const after = await heapMiB()
    let encoded = 0
    for (let i = 0; i < CATALOG_N; i++) encoded += encodeCanonical(catalogEntry(i, now)).byteLength
    const t0 = performance.now()
    let hits = 0
    for (let i = 0; i < 2000; i++) hits += catalog.find(`Cap${i}`).length
    const findMs = (performance.now() - t0) / 2000
    if (hits !== CATALOG_N) throw new Error(`found ${hits} entries`)
    process.stdout.write(JSON.stringify({ heapMiB: after - before, encodedMiB: encoded / 2 ** 20, findMs, size: catalog.size }) + '\n')
  } finally {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  }
}

const catalogMemory: Bench = {
  name: 'discovery-catalog-memory',
  run: async () => {
    const { stdout } = await execFileP(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--catalog-probe'], { timeout: 120_000 })
    const r = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { heapMiB: number, encodedMiB: number, findMs: number }
    return {
      figures: {
        'catalog heap per 10k entries (MiB, fresh process)': { unit: 'MiB', p50: r.heapMiB, p95: r.heapMiB, baseline: { name: 'dag-cbor bytes of the 10k entries', p50: r.encodedMiB, p95: r.encodedMiB } },
        'catalog.find by name, 10k entries (ms)': { unit: 'ms', p50: r.findMs, p95: r.findMs }
      }
    }
  }
}

if (process.argv.includes('--catalog-probe')) {
  await catalogProbe()
  process.exit(0)
}

export async function benches (): Promise<Bench[]> {
  return [publishToFindable, dhtOnly, catalogMemory]
}
