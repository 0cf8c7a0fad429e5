/**
 * Where the DHT's provider records of `pl:cap:<name>` sit in an in-process
 * mesh, against the K peers closest to the key among all nodes, and whether
 * DHT-only finds from random nodes find the provider:
 *
 *   node dist/bench/scale/dht-placement.js --n 60 [--settle-ms 60000] [--queries 30]
 *
 * Prints, per name, how many nodes hold a record and how many of those are
 * among the K closest; for each find that found nothing, the same for its name.
 * A diagnostic for docs/SCALE.md, not part of `npm run bench`.
 */
import { mkdtemp, rm, mkdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { parseArgs } from 'node:util'
import { peerIdFromString } from '@libp2p/peer-id'
import { capNameKey } from '../../src/discovery/index.js'
import { MeshWorker, bounded, START_CONCURRENCY, BOOTSTRAP_PEERS, defaultInprocWorkers } from './inproc.js'
import { sleep } from './wait.js'

const K = 20
const { values } = parseArgs({ options: { n: { type: 'string', default: '60' }, 'settle-ms': { type: 'string', default: '60000' }, queries: { type: 'string', default: '30' }, 'walk-again': { type: 'boolean', default: false } } })
const n = Number(values.n)
const settleMs = Number(values['settle-ms'])
const queries = Number(values.queries)

const kadKey = (bytes: Uint8Array): bigint => BigInt('0x' + createHash('sha256').update(bytes).digest('hex'))

const root = await mkdtemp(join(tmpdir(), 'pl-dht-placement-'))
const modDir = join(root, 'echo-module')
await mkdir(modDir, { recursive: true })
await writeFile(join(modDir, 'function.mjs'), 'export default class Echo { eval (parameters, inputData) { return { echoed: inputData.n ?? null } } }\n')
const signal = new AbortController().signal
const w = defaultInprocWorkers(n)
const workers = Array.from({ length: w }, (_, k) => new MeshWorker(k, { root, modDir }))
const at = (i: number): MeshWorker => workers[i % w]
try {
  const addrs: string[][] = []
  const started: number[] = []
  const rnd = (k: number): number => Math.floor(Math.random() * k)
  const startNode = async (i: number): Promise<void> => {
    const pool = [...started]
    const bootstrap: string[] = []
    while (bootstrap.length < BOOTSTRAP_PEERS && pool.length > 0) bootstrap.push(...addrs[pool.splice(rnd(pool.length), 1)[0]])
    const r = await at(i).request<{ addrs: string[] }>({ op: 'start', i, bootstrap, publish: [`ScaleNode${i}`] }, signal)
    addrs[i] = r.addrs.filter(a => a.includes('/tcp/') && !a.includes('/ws'))
    started.push(i)
  }
  const t0 = performance.now()
  await startNode(0)
  await bounded(n - 1, START_CONCURRENCY, async (k) => { await startNode(k + 1) })
  console.log(`${n} nodes started in ${((performance.now() - t0) / 1000).toFixed(0)} s; settling ${settleMs / 1000} s`)
  await sleep(settleMs)

  const names = Array.from({ length: n }, (_, i) => `ScaleNode${i}`)
  const rows = (await Promise.all(workers.map(async x => await x.request<Array<[number, string, string[]]>>({ op: 'holders', names }, signal)))).flat()
  const peer = new Map<number, bigint>(rows.map(([i, id]) => [i, kadKey(peerIdFromString(id).toMultihash().bytes)]))
  const ids = new Map<number, string>(rows.map(([i, id]) => [i, id]))
  const placement = (name: string, owner: number): { holders: number, inTopK: number, topKHeld: number, ranks: number[] } => {
    const key = kadKey(capNameKey(name).multihash.bytes)
    const order = [...peer.entries()].filter(([i]) => i !== owner).sort((a, b) => (a[1] ^ key) < (b[1] ^ key) ? -1 : 1).map(([i]) => i)
    const holders = rows.filter(([, , held]) => held.includes(name)).map(([i]) => i)
    const ranks = holders.map(i => order.indexOf(i)).sort((a, b) => a - b)
    return { holders: holders.length, inTopK: ranks.filter(r => r < K).length, topKHeld: ranks.filter(r => r < K).length, ranks }
  }
  const all = names.map((name, i) => placement(name, i))
  const sum = (f: (p: typeof all[number]) => number): number => all.reduce((a, p) => a + f(p), 0)
  console.log(`records per name: mean ${(sum(p => p.holders) / n).toFixed(1)}; of the K=${K} closest, holding: mean ${(sum(p => p.inTopK) / n).toFixed(1)}, names with none of the K closest holding: ${all.filter(p => p.inTopK === 0).length}, names with < 5: ${all.filter(p => p.inTopK < 5).length}`)
  let misses = 0
  for (let q = 0; q < queries; q++) {
    const asker = rnd(n)
    let target = rnd(n - 1)
    if (target >= asker) target++
    const r = await at(asker).request<{ count: number, ms: number, end?: string }>({ op: 'find', i: asker, name: `ScaleNode${target}`, dhtOnly: true }, signal)
    if (r.count < 1) {
      misses++
      const p = all[target]
      console.log(`  miss: node ${asker} → ScaleNode${target} (${r.ms.toFixed(0)} ms, walk end: ${r.end ?? '?'}): ${p.holders} holders, ${p.inTopK} of the K closest, holder ranks ${p.ranks.slice(0, 12).join(',')}`)
      if (values['walk-again'] !== true) continue
      const wk = await at(asker).request<{ ms: number, answered: string[], errors: Record<string, number>, providers: number, rt: number }>({ op: 'walk', i: asker, name: `ScaleNode${target}` }, signal)
      const key = kadKey(capNameKey(`ScaleNode${target}`).multihash.bytes)
      const order = [...peer.entries()].sort((a, b) => (a[1] ^ key) < (b[1] ^ key) ? -1 : 1).map(([i]) => ids.get(i))
      const ranks = wk.answered.map(id => order.indexOf(id)).sort((a, b) => a - b)
      console.log(`    kad walk again: ${wk.ms.toFixed(0)} ms, ${wk.providers} providers, rt ${wk.rt}, ${wk.answered.length} answered (ranks ${ranks.slice(0, 25).join(',')}), errors ${JSON.stringify(wk.errors)}`)
    }
  }
  console.log(`${queries} DHT-only finds, ${misses} found nothing`)
  const provides: Record<string, number> = {}
  for (const part of await Promise.all(workers.map(async x => await x.request<Record<string, number>>({ op: 'provides' }, signal)))) {
    for (const [k, v] of Object.entries(part)) provides[k] = (provides[k] ?? 0) + v
  }
  console.log(`DHT provides of the ${n} nodes (kind/result): ${Object.entries(provides).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`)
} finally {
  await Promise.allSettled(workers.map(async x => { await x.close() }))
  await rm(root, { recursive: true, force: true })
}
