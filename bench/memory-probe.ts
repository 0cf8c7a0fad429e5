/**
 * Child process for the memory benchmark: prints RSS after loading the code
 * (baseline) and after starting N nodes that have idled for a few seconds.
 * Usage: node memory-probe.js <nodes>
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PlNode } from '../src/node.js'

const n = Number(process.argv[2] ?? '1')
global.gc?.()
const baseline = process.memoryUsage().rss
const nodes: PlNode[] = []
const dirs: string[] = []
for (let i = 0; i < n; i++) {
  const dir = await mkdtemp(join(tmpdir(), 'pl-mem-'))
  dirs.push(dir)
  const node = await PlNode.create({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: i === 0 ? [] : nodes[0].addrs(), localSwarm: true, controlApi: false })
  await node.start()
  nodes.push(node)
}
await new Promise(resolve => setTimeout(resolve, 4000))
global.gc?.()
const loaded = process.memoryUsage().rss
process.stdout.write(JSON.stringify({ baseline, loaded, peers: nodes.map(x => x.libp2p.getPeers().length) }) + '\n')
await Promise.all(nodes.map(async x => { await x.stop() }))
for (const d of dirs) await rm(d, { recursive: true, force: true })
