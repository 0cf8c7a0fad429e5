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
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { parseArgs } from 'node:util'
import { peerIdFromString } from '@libp2p/peer-id'
import { capNameKey } from '../../src/discovery/index.js'
import { KAD_K as K } from '../../src/discovery/dht.js'
import { InprocMesh, defaultInprocWorkers } from './inproc.js'
import { sleep } from './wait.js'

const { values } = parseArgs({ options: { n: { type: 'string', default: '60' }, 'settle-ms': { type: 'string', default: '60000' }, queries: { type: 'string', default: '30' }, 'walk-again': { type: 'boolean', default: false } } })
const n = Number(values.n)
const settleMs = Number(values['settle-ms'])
const queries = Number(values.queries)

/** kad-dht's key space: the SHA-256 of a key's (a CID's or peer id's) multihash bytes */
const kadKey = (bytes: Uint8Array): bigint => BigInt('0x' + createHash('sha256').update(bytes).digest('hex'))
const nameKey = (name: string): bigint => kadKey(capNameKey(name).multihash.bytes)

const root = await mkdtemp(join(tmpdir(), 'pl-dht-placement-'))
const signal = new AbortController().signal
const mesh = await InprocMesh.open(root, defaultInprocWorkers(n), signal)
try {
  const startS = await mesh.startAll(n, i => [`ScaleNode${i}`])
  console.log(`${n} nodes started in ${startS.toFixed(0)} s; settling ${settleMs / 1000} s`)
  await sleep(settleMs)

  const names = Array.from({ length: n }, (_, i) => `ScaleNode${i}`)
  const rows = (await mesh.all<Array<[number, string, string[]]>>({ op: 'holders', names })).flat()
  const peers = rows.map(([i, id]) => ({ i, id, key: kadKey(peerIdFromString(id).toMultihash().bytes) }))
  /** the nodes by XOR distance to `key`, closest first */
  const byDistance = (key: bigint): typeof peers => [...peers].sort((a, b) => (a.key ^ key) < (b.key ^ key) ? -1 : 1)
  const placement = (name: string, owner: number): { holders: number, inTopK: number, ranks: number[] } => {
    const order = byDistance(nameKey(name)).filter(p => p.i !== owner).map(p => p.i)
    const ranks = rows.filter(([, , held]) => held.includes(name)).map(([i]) => order.indexOf(i)).sort((a, b) => a - b)
    return { holders: ranks.length, inTopK: ranks.filter(r => r < K).length, ranks }
  }
  const all = names.map((name, i) => placement(name, i))
  const sum = (f: (p: typeof all[number]) => number): number => all.reduce((a, p) => a + f(p), 0)
  console.log(`records per name: mean ${(sum(p => p.holders) / n).toFixed(1)}; of the K=${K} closest, holding: mean ${(sum(p => p.inTopK) / n).toFixed(1)}, names with none of the K closest holding: ${all.filter(p => p.inTopK === 0).length}, names with < 5: ${all.filter(p => p.inTopK < 5).length}`)
  let misses = 0
  for (let q = 0; q < queries; q++) {
    const asker = Math.floor(Math.random() * n)
    let target = Math.floor(Math.random() * (n - 1))
    if (target >= asker) target++
    const r = await mesh.at(asker).request<{ count: number, ms: number, end?: string }>({ op: 'find', i: asker, name: `ScaleNode${target}`, dhtOnly: true }, signal)
    if (r.count < 1) {
      misses++
      const p = all[target]
      console.log(`  miss: node ${asker} → ScaleNode${target} (${r.ms.toFixed(0)} ms, walk end: ${r.end ?? '?'}): ${p.holders} holders, ${p.inTopK} of the K closest, holder ranks ${p.ranks.slice(0, 12).join(',')}`)
      if (values['walk-again'] !== true) continue
      const wk = await mesh.at(asker).request<{ ms: number, answered: string[], errors: Record<string, number>, providers: number, rt: number }>({ op: 'walk', i: asker, name: `ScaleNode${target}` }, signal)
      const order = byDistance(nameKey(`ScaleNode${target}`)).map(p => p.id)
      const ranks = wk.answered.map(id => order.indexOf(id)).sort((a, b) => a - b)
      console.log(`    kad walk again: ${wk.ms.toFixed(0)} ms, ${wk.providers} providers, rt ${wk.rt}, ${wk.answered.length} answered (ranks ${ranks.slice(0, 25).join(',')}), errors ${JSON.stringify(wk.errors)}`)
    }
  }
  console.log(`${queries} DHT-only finds, ${misses} found nothing`)
  const provides: Record<string, number> = {}
  for (const part of await mesh.all<Record<string, number>>({ op: 'provides' })) {
    for (const [k, v] of Object.entries(part)) provides[k] = (provides[k] ?? 0) + v
  }
  console.log(`DHT provides of the ${n} nodes (kind/result): ${Object.entries(provides).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`)
} finally {
  await mesh.close()
  await rm(root, { recursive: true, force: true })
}
