/**
 * One worker thread of the scale bench's in-process mesh (bench/scale/inproc.ts):
 * it runs some of the mesh's PlNodes (real libp2p over TCP on 127.0.0.1,
 * LevelDB, gossip on, discovery and the negotiation provider side), each
 * offering `ScaleEcho` and `ScaleNode<i>`, and answers the main thread's
 * requests (`WorkerRequest`) about them: start a node, publish, catalog
 * counts, gossip counters, peers, a find, the CFP→award rounds, stop. A
 * request's answer is `{ id, ok, result }` or `{ id, ok: false, error }`.
 * Several workers spread the mesh over several event loops: 100 nodes in one
 * took 1 427 s to start and starved (docs/SCALE.md).
 */
import { parentPort, workerData } from 'node:worker_threads'
import { mkdtemp } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { PlNode } from '../../src/node.js'
import { discovery, capNameKey, type Discovery, type FinderFindOptions } from '../../src/discovery/index.js'
import { negotiation, type LocalOffer, type Candidate } from '../../src/negotiation/index.js'
import { moduleSpecOf } from '../../src/core/index.js'
import type { CapabilityDescriptorInput } from '../../src/discovery/types.js'
import { cfpRounds, connectedCandidates, type CfpStageResult } from './cfp-stage.js'
import { sumCounter } from './stats.js'
import type { CID } from 'multiformats/cid'

export interface WorkerInit { root: string, modDir: string }

export type WorkerRequest =
  | { id: number, op: 'start', i: number, bootstrap: string[], publish: string[] }
  | { id: number, op: 'publish', i: number, name: string }
  | { id: number, op: 'counts', name: string }
  | { id: number, op: 'gossip' }
  | { id: number, op: 'peers' }
  | { id: number, op: 'heap' }
  | { id: number, op: 'find', i: number, name: string, dhtOnly: boolean }
  | { id: number, op: 'cfp', i: number, capability: string, candidates: number, rounds: number, warm: number }
  | { id: number, op: 'diag', i: number }
  | { id: number, op: 'holders', names: string[] }
  | { id: number, op: 'walk', i: number, name: string }
  | { id: number, op: 'provides' }
  | { id: number, op: 'stop' }

const init = workerData as WorkerInit
const port = parentPort
if (port == null) throw new Error('bench/scale/inproc-worker.ts runs as a worker thread')
const module = await moduleSpecOf('echo', init.modDir)
const nodes = new Map<number, PlNode>()
const offers = new Map<number, LocalOffer[]>()
const d = (x: PlNode): Discovery => x.service<Discovery>('discovery')

function nodeOf (i: number): PlNode {
  const node = nodes.get(i)
  if (node == null) throw new Error(`node ${i} is not in this worker`)
  return node
}

function descriptor (name: string, i: number): CapabilityDescriptorInput {
  return { name, version: '1.0.0', io: { input: { type: 'object' }, output: { type: 'object' } }, limits: { wall_ms: 10_000, mem_mb: 128 }, price: 1 + (i % 7) / 2, attrs: { quality: (i % 5) / 5 } }
}

async function start (i: number, bootstrap: string[], publishNames: string[]): Promise<{ addrs: string[] }> {
  const dir = await mkdtemp(join(init.root, `node-${i}-`))
  offers.set(i, [])
  const node = await PlNode.create({
    dataDir: dir,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap,
    localSwarm: true,
    controlApi: false,
    services: {
      discovery: discovery({}),
      negotiation: negotiation({
        local: { localOffer: (name: string) => offers.get(i)?.find(x => x.descriptor.name === name) },
        runStep: async () => { throw new Error('the scale bench awards steps without running them') },
        maxActive: 100_000
      })
    }
  })
  nodes.set(i, node)
  await node.start()
  for (const name of publishNames) await publish(i, name)
  return { addrs: node.addrs() }
}

async function publish (i: number, name: string): Promise<void> {
  const { cid, descriptor: desc } = await d(nodeOf(i)).publish(descriptor(name, i))
  offers.get(i)?.push({ cid, descriptor: desc, module })
}

async function find (i: number, name: string, dhtOnly: boolean): Promise<{ count: number, ms: number, end?: string }> {
  const t = performance.now()
  let end: string | undefined
  // the finder's hooks pass through the service's find (as test/discovery/find-hedge.test.ts uses them)
  const options: FinderFindOptions = dhtOnly ? { dhtOnly: true, limit: 1, timeoutMs: 15_000, onProgress: (e) => { end = e.reason } } : { limit: 1 }
  const found = await d(nodeOf(i)).find({ name }, options)
  return { count: found.length, ms: performance.now() - t, end }
}

/**
 * CFP→award rounds from node `i` over `want` providers of `capability` from
 * its catalog, connected before the first round (bench/scale/cfp-stage.ts).
 */
async function cfp (i: number, capability: string, want: number, rounds: number, warm: number): Promise<CfpStageResult> {
  const node = nodeOf(i)
  const found = await d(node).find({ name: capability }, { localOnly: true })
  const all: Candidate[] = found.filter(f => f.provider !== node.peerId).map(f => ({ cid: f.cid, descriptor: f.descriptor, provider: f.provider, addrs: f.addrs }))
  const never = new AbortController().signal
  const candidates = await connectedCandidates(node, all, want, never)
  if (candidates.length < want) throw new Error(`node ${i} could connect to only ${candidates.length} of ${want} ${capability} providers (catalog: ${all.length})`)
  return await cfpRounds(node, capability, candidates, rounds, warm, never)
}

/** For each node of this worker: [node, its peer id, the names whose `pl:cap:<name>` provider record it holds (of others)]. */
async function holders (names: string[]): Promise<Array<[number, string, string[]]>> {
  return await Promise.all([...nodes].map(async ([i, x]) => {
    const dht = x.libp2p.services.dht as unknown as { providers: { getProviders: (cid: CID) => Promise<Array<{ toString: () => string }>> } }
    const held: string[] = []
    for (const name of names) {
      const ps = await dht.providers.getProviders(capNameKey(name))
      if (ps.some(p => p.toString() !== x.peerId)) held.push(name)
    }
    return [i, x.peerId, held] as [number, string, string[]]
  }))
}

/** kad-dht's own findProviders walk of `pl:cap:<name>` from node `i`, drained: who answered, what failed, how long it took. */
async function walk (i: number, name: string): Promise<{ ms: number, answered: string[], errors: Record<string, number>, providers: number, rt: number }> {
  const x = nodeOf(i)
  const t = performance.now()
  const answered: string[] = []
  const errors: Record<string, number> = {}
  let providers = 0
  for await (const ev of x.libp2p.services.dht.findProviders(capNameKey(name), { signal: AbortSignal.timeout(30_000) })) {
    if (ev.name === 'PEER_RESPONSE') answered.push(ev.from.toString())
    if (ev.name === 'QUERY_ERROR') { const k = `${ev.error.name}: ${ev.error.message.slice(0, 60)}`; errors[k] = (errors[k] ?? 0) + 1 }
    if (ev.name === 'PROVIDER') providers += ev.providers.length
  }
  return { ms: performance.now() - t, answered, errors, providers, rt: x.libp2p.services.dht.routingTable.size }
}

/** This worker's nodes' DHT provides so far, summed by `kind/result` (pl_dht_provides_total). */
async function provides (): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const x of nodes.values()) {
    const counter = x.components.metrics.registry.getSingleMetric('pl_dht_provides_total')
    for (const v of (await counter?.get())?.values ?? []) {
      const k = `${String(v.labels.kind)}/${String(v.labels.result)}`
      out[k] = (out[k] ?? 0) + v.value
    }
  }
  return out
}

async function settledHeap (): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc
  for (let k = 0; k < 3; k++) { gc?.(); await sleep(50) }
  return process.memoryUsage().heapUsed
}

async function stopAll (): Promise<void> {
  await Promise.allSettled([...nodes.values()].map(async x => { await x.stop() }))
}

async function metricsText (node: PlNode): Promise<string> {
  return await node.components.metrics.registry.metrics()
}

async function handle (req: WorkerRequest): Promise<unknown> {
  switch (req.op) {
    case 'start': return await start(req.i, req.bootstrap, req.publish)
    case 'publish': return await publish(req.i, req.name)
    case 'counts': return [...nodes].map(([i, x]) => [i, d(x).catalog.find(req.name).length])
    case 'gossip': return await Promise.all([...nodes].map(async ([i, x]) => {
      const text = await metricsText(x)
      return [i, sumCounter(text, 'pl_gossip_messages_total'), sumCounter(text, 'pl_gossip_published_total')]
    }))
    case 'peers': return [...nodes].map(([i, x]) => [i, new Set(x.libp2p.getConnections().map(c => c.remotePeer.toString())).size])
    case 'heap': return await settledHeap()
    case 'find': return await find(req.i, req.name, req.dhtOnly)
    case 'cfp': return await cfp(req.i, req.capability, req.candidates, req.rounds, req.warm)
    case 'diag': return (await metricsText(nodeOf(req.i))).split('\n').filter(l => /^pl_(rejected_total|gossip_messages_total)\{/.test(l) && !/ 0$/.test(l))
    case 'holders': return await holders(req.names)
    case 'walk': return await walk(req.i, req.name)
    case 'provides': return await provides()
    case 'stop': return await stopAll()
  }
}

port.on('message', (req: WorkerRequest) => {
  handle(req).then(
    (result) => { port.postMessage({ id: req.id, ok: true, result }) },
    (err: Error) => { port.postMessage({ id: req.id, ok: false, error: err?.stack ?? String(err) }) }
  )
})
