/**
 * Where a node at rest in a mesh spends its CPU (docs/SCALE.md, "Idle cost of
 * a node at rest in a mesh"): N PlNodes in this one thread (real libp2p over
 * TCP on 127.0.0.1, LevelDB, gossip on, `localSwarm`, discovery and the
 * negotiation provider side, each offering `ScaleEcho` and `ScaleNode<i>`,
 * as bench/scale/inproc-worker.ts runs them), started 4 at once, each
 * bootstrapping from 3 random started ones. Once every catalog is full and
 * a warm-up has passed, an idle window is measured: the process's CPU per
 * node, gossipsub RPCs received per node and second by kind (messages,
 * IHAVE / IWANT / GRAFT / PRUNE / IDONTWANT entries, subscriptions) and their
 * bytes, libp2p streams opened per node and second by protocol, and (with
 * `--profile`) a V8 CPU profile of the window, summarised by self time per
 * function and per package.
 *
 *   bash scripts/node.sh --expose-gc dist/bench/scale/idle-profile.js --n 20 --idle-ms 60000 [--profile out.cpuprofile]
 *
 * A diagnostic tool, not a bench row: its figures go to docs/SCALE.md by hand.
 */
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Session } from 'node:inspector/promises'
import { parseArgs } from 'node:util'
import { PlNode } from '../../src/node.js'
import { discovery, type Discovery } from '../../src/discovery/index.js'
import { negotiation, type LocalOffer } from '../../src/negotiation/index.js'
import { moduleSpecOf } from '../../src/core/index.js'
import { pollUntil, sleep } from './wait.js'
import { summariseProfile, type CpuProfile } from './profile-summary.js'

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '20' },
    'idle-ms': { type: 'string', default: '60000' },
    'warm-ms': { type: 'string', default: '10000' },
    'catalog-wait-ms': { type: 'string', default: '120000' },
    profile: { type: 'string' },
    /** start the idle window at this time (epoch ms) instead of after the warm-up: two runs started together (one per build) measure the same seconds of a shared machine */
    'window-at': { type: 'string' },
    top: { type: 'string', default: '30' },
    /** a gossipsub option set on every node before it starts, `name=value` (JSON value), for A/B runs; repeatable */
    gs: { type: 'string', multiple: true, default: [] }
  }
})
const N = Number(args.n)
const IDLE_MS = Number(args['idle-ms'])
const WARM_MS = Number(args['warm-ms'])

/** gossipsub RPC contents received, summed over every node */
const rpcIn: Record<string, number> = { rpcs: 0, bytes: 0, messages: 0, subscriptions: 0, ihave: 0, ihaveIds: 0, iwant: 0, iwantIds: 0, graft: 0, prune: 0, idontwant: 0 }
/** streams opened (either side), by protocol, summed over every node */
const streams: Record<string, number> = {}

interface GossipInternals {
  decodeRpc: (bytes: Uint8Array) => Rpc
  handleReceivedRpc: (from: unknown, rpc: Rpc) => Promise<void>
}
interface Rpc {
  subscriptions?: unknown[]
  messages?: unknown[]
  control?: { ihave?: Array<{ messageIDs?: unknown[] }>, iwant?: Array<{ messageIDs?: unknown[] }>, graft?: unknown[], prune?: unknown[], idontwant?: unknown[] }
}

function countGossip (node: PlNode): void {
  const g = node.libp2p.services.pubsub as unknown as GossipInternals
  const decode = g.decodeRpc.bind(g)
  g.decodeRpc = (bytes) => {
    rpcIn.rpcs++
    rpcIn.bytes += bytes.byteLength
    const rpc = decode(bytes)
    rpcIn.messages += rpc.messages?.length ?? 0
    rpcIn.subscriptions += rpc.subscriptions?.length ?? 0
    const c = rpc.control
    if (c != null) {
      rpcIn.ihave += c.ihave?.length ?? 0
      rpcIn.iwant += c.iwant?.length ?? 0
      for (const x of c.ihave ?? []) rpcIn.ihaveIds += x.messageIDs?.length ?? 0
      for (const x of c.iwant ?? []) rpcIn.iwantIds += x.messageIDs?.length ?? 0
      rpcIn.graft += c.graft?.length ?? 0
      rpcIn.prune += c.prune?.length ?? 0
      rpcIn.idontwant += c.idontwant?.length ?? 0
    }
    return rpc
  }
}

function countStreams (node: PlNode): void {
  node.libp2p.addEventListener('connection:open', (evt) => {
    const conn = evt.detail as unknown as { newStream: (p: string | string[], o?: unknown) => Promise<{ protocol?: string }> }
    const open = conn.newStream.bind(conn)
    conn.newStream = async (p, o) => {
      const s = await open(p, o)
      streams[s.protocol ?? String(p)] = (streams[s.protocol ?? String(p)] ?? 0) + 1
      return s
    }
  })
}

function setGossipOptions (node: PlNode): void {
  const opts = (node.libp2p.services.pubsub as unknown as { opts: Record<string, unknown> }).opts
  for (const kv of args.gs ?? []) {
    const at = kv.indexOf('=')
    opts[kv.slice(0, at)] = JSON.parse(kv.slice(at + 1))
  }
}

function descriptor (name: string, i: number): Record<string, unknown> {
  return { name, version: '1.0.0', io: { input: { type: 'object' }, output: { type: 'object' } }, limits: { wall_ms: 10_000, mem_mb: 128 }, price: 1 + (i % 7) / 2, attrs: { quality: (i % 5) / 5 } }
}

async function main (): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'pl-idle-profile-'))
  const modDir = join(root, 'echo-module')
  await mkdir(modDir, { recursive: true })
  await writeFile(join(modDir, 'function.mjs'), 'export default class Echo { eval (parameters, inputData) { return { echoed: inputData.n ?? null } } }\n')
  const module = await moduleSpecOf('echo', modDir)
  const nodes: PlNode[] = []
  const addrs: string[][] = []
  const d = (x: PlNode): Discovery => x.service<Discovery>('discovery')
  const signal = new AbortController().signal
  try {
    const startNode = async (i: number): Promise<void> => {
      const pool = addrs.map((_, k) => k).filter(k => addrs[k] != null)
      const boot: string[] = []
      while (boot.length < 3 && pool.length > 0) boot.push(...addrs[pool.splice(Math.floor(Math.random() * pool.length), 1)[0]])
      const offers: LocalOffer[] = []
      const node = await PlNode.create({
        dataDir: await mkdtemp(join(root, `node-${i}-`)),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: boot,
        localSwarm: true,
        controlApi: false,
        services: {
          discovery: discovery({}),
          negotiation: negotiation({
            local: { localOffer: (name: string) => offers.find(x => x.descriptor.name === name) },
            runStep: async () => { throw new Error('idle profile: no steps') },
            maxActive: 100_000
          })
        }
      })
      nodes[i] = node
      countStreams(node)
      setGossipOptions(node)
      await node.start()
      countGossip(node)
      for (const name of ['ScaleEcho', `ScaleNode${i}`]) {
        const { cid, descriptor: desc } = await d(node).publish(descriptor(name, i) as never)
        offers.push({ cid, descriptor: desc, module })
      }
      addrs[i] = node.addrs().filter(a => a.includes('/tcp/') && !a.includes('/ws'))
    }
    const t0 = performance.now()
    await startNode(0)
    let next = 1
    await Promise.all(Array.from({ length: 4 }, async () => { while (next < N) await startNode(next++) }))
    if ((args.gs ?? []).length > 0) console.log(`gossipsub options: ${(args.gs ?? []).join(' ')}`)
    console.log(`${N} nodes started in ${((performance.now() - t0) / 1000).toFixed(1)} s; load ${await loadavg()}`)
    const full = await pollUntil(() => nodes.every(x => d(x).catalog.find('ScaleEcho').length + 1 >= N), Number(args['catalog-wait-ms']), 500, signal)
    console.log(`catalogs ${full ? 'full' : 'NOT full'} ${((performance.now() - t0) / 1000).toFixed(1)} s after the first start; warm ${WARM_MS / 1000} s`)
    if (args['window-at'] != null) {
      const wait = Number(args['window-at']) - Date.now()
      if (wait < WARM_MS) throw new Error(`--window-at leaves ${wait} ms of warm-up, less than --warm-ms ${WARM_MS}`)
      await sleep(wait)
    } else await sleep(WARM_MS)

    console.log('streams opened before the window (all nodes, outbound): ' + Object.entries(streams).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', '))
    for (const k of Object.keys(rpcIn)) rpcIn[k] = 0
    for (const k of Object.keys(streams)) streams[k] = 0
    const session = new Session()
    if (args.profile != null) {
      session.connect()
      await session.post('Profiler.enable')
      await session.post('Profiler.setSamplingInterval', { interval: 500 })
      await session.post('Profiler.start')
    }
    const load0 = await loadavg()
    const c0 = process.cpuUsage()
    const w0 = performance.now()
    await sleep(IDLE_MS)
    const cpu = process.cpuUsage(c0)
    const windowS = (performance.now() - w0) / 1000
    const load1 = await loadavg()
    const perNodeS = (v: number): string => (v / N / windowS).toFixed(2)
    console.log(`idle ${windowS.toFixed(1)} s, load ${load0} → ${load1}`)
    console.log(`CPU per node: ${(100 * (cpu.user + cpu.system) / 1e6 / windowS / N).toFixed(3)} % of a core (user ${(100 * cpu.user / 1e6 / windowS / N).toFixed(3)}, system ${(100 * cpu.system / 1e6 / windowS / N).toFixed(3)})`)
    console.log(`peers per node: ${(nodes.reduce((a, x) => a + x.libp2p.getPeers().length, 0) / N).toFixed(1)}`)
    console.log('gossipsub received per node per s: ' + Object.entries(rpcIn).map(([k, v]) => `${k} ${perNodeS(v)}`).join(', '))
    console.log('streams opened per node per s: ' + Object.entries(streams).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${perNodeS(v)}`).join(', '))
    if (args.profile != null) {
      const { profile } = await session.post('Profiler.stop') as { profile: CpuProfile }
      session.disconnect()
      await writeFile(args.profile, JSON.stringify(profile))
      console.log(summariseProfile(profile, Number(args.top)))
    }
  } finally {
    await Promise.allSettled(nodes.map(async x => { await x.stop() }))
    await rm(root, { recursive: true, force: true })
  }
}

async function loadavg (): Promise<string> {
  const { readFile } = await import('node:fs/promises')
  return (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')
}

await main()
