/**
 * The in-process size of the scale bench: N PlNodes in this process (real
 * libp2p over TCP on 127.0.0.1, LevelDB, gossip on; node 0 the bootstrap),
 * each with discovery and the negotiation provider side, each offering
 * `ScaleEcho` and `ScaleNode<i>`. One process holds them all, so memory and
 * CPU are the process's growth divided by N (shared code and heap counted
 * once), not a process's own footprint.
 */
import { pollUntil, sleep } from './wait.js'
import { cfpAwardRig } from '../cfp-award.js'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { PlNode } from '../../src/node.js'
import { discovery, type Discovery } from '../../src/discovery/index.js'
import { negotiation, type LocalOffer, type Candidate } from '../../src/negotiation/index.js'
import { moduleSpecOf } from '../../src/core/index.js'
import type { CapabilityDescriptorInput } from '../../src/discovery/types.js'
import { sumCounter, type ScaleRunOptions } from './stats.js'
import { CFP_CANDIDATES } from './procs.js'

export type InprocOptions = ScaleRunOptions

export interface InprocResult {
  startS: number
  catalogFullS: number
  /** the fewest ScaleEcho ads (own included) a node knew when the wait ended */
  catalogMin: number
  joinsIncomplete: number
  rssMiBPerNode: number
  heapMiBPerNode: number
  cpuPctPerNode: number
  gossipInPerS: number[]
  gossipOutPerS: number[]
  peers: number[]
  findMs: number[]
  findDhtMs: number[]
  cfpMs: number[]
  pingMs: number[]
  joinMs: number[]
}

async function settledMemory (): Promise<{ rss: number, heap: number }> {
  const gc = (globalThis as { gc?: () => void }).gc
  for (let i = 0; i < 3; i++) { gc?.(); await new Promise(resolve => setTimeout(resolve, 50)) }
  const m = process.memoryUsage()
  return { rss: m.rss, heap: m.heapUsed }
}

function descriptor (name: string, i: number): CapabilityDescriptorInput {
  return { name, version: '1.0.0', io: { input: { type: 'object' }, output: { type: 'object' } }, limits: { wall_ms: 10_000, mem_mb: 128 }, price: 1 + (i % 7) / 2, attrs: { quality: (i % 5) / 5 } }
}

export async function runInproc (o: InprocOptions): Promise<InprocResult> {
  const { n, signal, log } = o
  const modDir = join(o.root, 'echo-module')
  await mkdir(modDir, { recursive: true })
  await writeFile(join(modDir, 'function.mjs'), 'export default class Echo { eval (parameters, inputData) { return { echoed: inputData.n ?? null } } }\n')
  const module = await moduleSpecOf('echo', modDir)
  const nodes: PlNode[] = []
  o.onCleanup(async () => { await Promise.allSettled(nodes.map(async x => { await x.stop() })) })
  const offers: LocalOffer[][] = []
  const d = (x: PlNode): Discovery => x.service<Discovery>('discovery')
  const before = await settledMemory()

  const add = async (i: number): Promise<PlNode> => {
    const dir = await mkdtemp(join(o.root, `node-${i}-`))
    offers[i] = []
    const node = await PlNode.create({
      dataDir: dir,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: i === 0 ? [] : nodes[0].addrs(),
      localSwarm: true,
      controlApi: false,
      services: {
        discovery: discovery({}),
        negotiation: negotiation({
          local: { localOffer: (name: string) => offers[i].find(x => x.descriptor.name === name) },
          runStep: async () => { throw new Error('the scale bench awards steps without running them') },
          maxActive: 100_000
        })
      }
    })
    nodes.push(node)
    await node.start()
    return node
  }
  const publish = async (node: PlNode, i: number, name: string): Promise<void> => {
    const { cid, descriptor: desc } = await d(node).publish(descriptor(name, i))
    offers[i].push({ cid, descriptor: desc, module })
  }

  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    const node = await add(i)
    await publish(node, i, 'ScaleEcho')
    await publish(node, i, `ScaleNode${i}`)
    if ((i + 1) % 25 === 0) log(`  in-process: ${i + 1}/${n} nodes started`)
  }
  const startS = (performance.now() - t0) / 1000
  const t1 = performance.now()
  const full = await pollUntil(() => nodes.every(x => d(x).catalog.find('ScaleEcho').length >= n - 1), o.catalogWaitMs, 500, signal)
  const catalogFullS = full ? (performance.now() - t1) / 1000 : NaN
  const catalogMin = Math.min(...nodes.map(x => d(x).catalog.find('ScaleEcho').length)) + 1
  log(`  in-process N=${n}: started in ${startS.toFixed(1)} s, catalogs ${full ? `full ${catalogFullS.toFixed(1)} s later` : `not full after ${o.catalogWaitMs / 1000} s (smallest ${catalogMin} of ${n})`}; idle ${o.idleMs / 1000} s`)
  await sleep(o.warmMs, undefined, { signal })

  const texts = async (): Promise<string[]> => await Promise.all(nodes.map(async x => await x.components.metrics.registry.metrics()))
  const m0 = await texts()
  const c0 = process.cpuUsage()
  const w0 = performance.now()
  await sleep(o.idleMs, undefined, { signal })
  const cpu = process.cpuUsage(c0)
  const windowMs = performance.now() - w0
  const m1 = await texts()
  const mem = await settledMemory()
  const perS = (a: number, b: number): number => (b - a) / (windowMs / 1000)
  const gossipIn = m0.map((t, i) => perS(sumCounter(t, 'pl_gossip_messages_total'), sumCounter(m1[i], 'pl_gossip_messages_total')))
  const gossipOut = m0.map((t, i) => perS(sumCounter(t, 'pl_gossip_published_total'), sumCounter(m1[i], 'pl_gossip_published_total')))

  const rnd = (k: number): number => Math.floor(Math.random() * k)
  const findMs: number[] = []
  const findDhtMs: number[] = []
  for (let q = 0; q < o.queries; q++) {
    const asker = rnd(n)
    let target = rnd(n - 1)
    if (target >= asker) target++
    const tf = performance.now()
    const a = await d(nodes[asker]).find({ name: `ScaleNode${target}` }, { limit: 1 })
    findMs.push(performance.now() - tf)
    if (a.length !== 1) throw new Error(`node ${asker} found ${a.length} providers of ScaleNode${target}`)
    const td = performance.now()
    const b = await d(nodes[asker]).find({ name: `ScaleNode${target}` }, { dhtOnly: true, limit: 1, timeoutMs: 15_000 })
    findDhtMs.push(performance.now() - td)
    if (b.length !== 1) throw new Error(`node ${asker} found ${b.length} providers of ScaleNode${target} through the DHT`)
  }

  // CFP→award from node 0 over 10 other nodes
  const requester = nodes[0]
  const found = await d(requester).find({ name: 'ScaleEcho' }, { localOnly: true })
  const candidates: Candidate[] = found.filter(f => f.provider !== requester.peerId).slice(0, Math.min(CFP_CANDIDATES, n - 1)).map(f => ({ cid: f.cid, descriptor: f.descriptor, provider: f.provider, addrs: f.addrs }))
  const exchange = await cfpAwardRig(requester, { capability: 'ScaleEcho', run: 'scale-bench', candidates, minBids: candidates.length, replyMs: 10_000 })
  const cfpMs: number[] = []
  const pingMs: number[] = []
  const warm = 5
  for (let i = 0; i < o.cfpRounds + warm; i++) {
    signal.throwIfAborted()
    const ts = performance.now()
    await exchange(`s${i}`, AbortSignal.any([signal, AbortSignal.timeout(30_000)]))
    const te = performance.now()
    await requester.libp2p.services.ping.ping(peerIdFromString(candidates[i % candidates.length].provider))
    if (i >= warm) { cfpMs.push(te - ts); pingMs.push(performance.now() - te) }
  }

  // joins: from the end of the new node's start (its ad goes out then) until every other catalog holds it
  const joinMs: number[] = []
  let joinsIncomplete = 0
  for (let k = 0; k < o.joins; k++) {
    const i = nodes.length
    const name = `ScaleJoin${k}`
    const node = await add(i)
    const tj = performance.now()
    await publish(node, i, name)
    const reached = await pollUntil(() => nodes.every(x => x === node || d(x).catalog.find(name).length > 0), o.catalogWaitMs, 20, signal)
    if (reached) joinMs.push(performance.now() - tj)
    else joinsIncomplete++
  }

  return {
    startS,
    catalogFullS,
    catalogMin,
    joinsIncomplete,
    rssMiBPerNode: (mem.rss - before.rss) / n / 2 ** 20,
    heapMiBPerNode: (mem.heap - before.heap) / n / 2 ** 20,
    cpuPctPerNode: 100 * (cpu.user + cpu.system) / 1000 / windowMs / n,
    gossipInPerS: gossipIn,
    gossipOutPerS: gossipOut,
    peers: nodes.slice(0, n).map(x => new Set(x.libp2p.getConnections().map(conn => conn.remotePeer.toString())).size),
    findMs,
    findDhtMs,
    cfpMs,
    pingMs,
    joinMs
  }
}

export async function removeRoot (root: string): Promise<void> {
  await rm(root, { recursive: true, force: true })
}
