/**
 * One size of the scale bench on real `pl-node` processes (src/swarm
 * launcher, bounded concurrent starts, readiness by each node's `started`
 * event). Every node offers `ScaleEcho` (the capability of the CFP figure)
 * and `ScaleNode<i>` (its own, for the discovery figures). Measured:
 * idle RSS / CPU / gossip per node over a window, find from a random node,
 * CFP→award over 10 candidates from an in-process requester joined to the
 * swarm, and the time for a newly started node's capability to reach the
 * catalog of every node.
 */
import { pollUntil, sleep, waitUntil } from './wait.js'
import { cfpRounds, connectedCandidates, type CfpStageResult } from './cfp-stage.js'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Swarm } from '../../src/swarm/index.js'
import { ControlClient } from '../../src/api/client.js'
import { PlNode } from '../../src/node.js'
import { discovery, type Discovery } from '../../src/discovery/index.js'
import { type Candidate } from '../../src/negotiation/index.js'
import { CONTROL_FILE } from '../../src/api/control-file.js'
import { coreShare, parseCpuTicks, parseIo, parseVmRss, sumCounter, type ScaleRunOptions } from './stats.js'

export const CFP_CANDIDATES = 10

export interface ProcsOptions extends ScaleRunOptions {
  /** Hz of /proc/<pid>/stat ticks */
  hz: number
}

export interface ProcSample { rss: number, ticks: number, rchar: number, wchar: number }

async function sample (pid: number): Promise<ProcSample> {
  const [status, stat, io] = await Promise.all([readFile(`/proc/${pid}/status`, 'utf8'), readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/io`, 'utf8')])
  const rssKiB = parseVmRss(status)
  if (rssKiB == null) throw new Error(`no VmRSS for pid ${pid} (exited?)`)
  return { rss: rssKiB * 1024, ticks: parseCpuTicks(stat), ...parseIo(io) }
}

async function writeCaps (root: string): Promise<{ echo: string, own: (name: string) => Promise<string> }> {
  const mod = join(root, 'echo-module')
  await mkdir(mod, { recursive: true })
  await writeFile(join(mod, 'function.mjs'), 'export default class Echo { eval (parameters, inputData) { return { echoed: inputData.n ?? null } } }\n')
  const cap = (name: string): string => [
    `name: ${name}`, 'version: 1.0.0', 'description: scale bench capability',
    'io:', '  input: { type: object }', '  output: { type: object }',
    'limits: { wall_ms: 10000, mem_mb: 128 }', 'price: 1', `impl: ${mod}`, ''
  ].join('\n')
  const caps = join(root, 'caps')
  await mkdir(caps, { recursive: true })
  const echo = join(caps, 'ScaleEcho.yaml')
  await writeFile(echo, cap('ScaleEcho'))
  return {
    echo,
    own: async (name) => {
      const f = join(caps, `${name}.yaml`)
      await writeFile(f, cap(name))
      return f
    }
  }
}

function nodeConfig (echo: string, own: string, i: number, bootstrap?: string): Record<string, unknown> {
  return {
    network: 'local',
    ...(bootstrap != null ? { bootstrap: [bootstrap] } : {}),
    services: {
      // different prices and a quality attr: the requester ranks real alternatives
      capabilities: [{ file: echo, price: 1 + (i % 7) / 2, attrs: { quality: (i % 5) / 5 } }, { file: own }],
      // CFP→award rounds award without executing: each award holds a slot until awardHoldMs
      negotiation: { maxActive: 100_000 }
    }
  }
}

export interface ProcsResult {
  startS: number
  catalogFullS: number
  /** the fewest ScaleEcho ads a node's catalog held when the wait ended (N when full) */
  catalogMin: number
  /** new nodes whose ad did not reach every catalog within catalogWaitMs */
  joinsIncomplete: number
  /** finds (catalog, DHT only) that found no provider */
  findMisses: number
  findDhtMisses: number
  /** CFP→award rounds that failed (counted, not timed) */
  cfpFailedRounds: number
  rssMiB: number[]
  cpuPct: number[]
  gossipInPerS: number[]
  gossipOutPerS: number[]
  readKiBs: number[]
  writeKiBs: number[]
  peers: number[]
  findMs: number[]
  findDhtMs: number[]
  healthMs: number[]
  cfpMs: number[]
  pingMs: number[]
  joinMs: number[]
  joinStartMs: number[]
}

export async function runProcs (o: ProcsOptions): Promise<ProcsResult> {
  const { n, signal, log } = o
  const caps = await writeCaps(o.root)
  const ownFiles: string[] = []
  for (let i = 0; i < n; i++) ownFiles.push(await caps.own(`ScaleNode${i}`))
  const t0 = performance.now()
  const swarm = await Swarm.start({ nodes: n, root: join(o.root, 'swarm'), logLevel: 'warn', startConcurrency: 2, spec: (i) => ({ config: nodeConfig(caps.echo, ownFiles[i], i) }) })
  const swarms: Swarm[] = [swarm]
  o.onCleanup(async () => { await Promise.allSettled(swarms.map(async s => { await s.stop() })) })
  const startS = (performance.now() - t0) / 1000
  log(`  N=${n}: ${n} processes started in ${startS.toFixed(1)} s`)
  const clients = await Promise.all(swarm.members.map(async m => await ControlClient.fromDataDir(m.dataDir)))
  const pids = swarm.members.map(m => m.proc?.pid ?? NaN)

  // every node's catalog holds every node's ScaleEcho ad — bounded: on a loaded machine some catalogs may stay short,
  // which is itself a figure (the smallest catalog), not a reason to lose the size's other figures
  const t1 = performance.now()
  const sizes = new Array<number>(n).fill(0)
  const count = async (): Promise<boolean> => {
    await Promise.all(clients.map(async (c, i) => {
      if (sizes[i] >= n) return
      sizes[i] = (await c.request<unknown[]>('POST', '/caps/find', { query: { name: 'ScaleEcho' }, options: { localOnly: true }, limit: 1000 })).length
    }))
    return sizes.every(x => x >= n)
  }
  const catalogFull = await pollUntil(count, o.catalogWaitMs, 1_000, signal)
  const catalogFullS = catalogFull ? (performance.now() - t1) / 1000 : NaN
  const catalogMin = Math.min(...sizes)
  log(catalogFull
    ? `  N=${n}: catalogs full ${catalogFullS.toFixed(1)} s after the last start; warming ${o.warmMs / 1000} s, then idle for ${o.idleMs / 1000} s`
    : `  N=${n}: after ${o.catalogWaitMs / 1000} s ${sizes.filter(x => x < n).length} catalogs still miss ads (smallest ${catalogMin} of ${n}); measuring anyway`)
  if (!catalogFull) await logShortCatalogs(swarm, sizes, n, log)
  await sleep(o.warmMs, undefined, { signal })

  // idle window: /proc and /metrics read at both ends only
  const metricsText = async (): Promise<string[]> => await Promise.all(swarm.members.map(async m => await metricsOf(m.dataDir)))
  const m0 = await metricsText()
  const s0 = await Promise.all(pids.map(sample))
  const w0 = performance.now()
  await sleep(o.idleMs, undefined, { signal })
  const s1 = await Promise.all(pids.map(sample))
  const windowMs = performance.now() - w0
  const m1 = await metricsText()
  const perS = (a: number, b: number): number => (b - a) / (windowMs / 1000)
  const gossipIn = m0.map((t, i) => perS(sumCounter(t, 'pl_gossip_messages_total'), sumCounter(m1[i], 'pl_gossip_messages_total')))
  const gossipOut = m0.map((t, i) => perS(sumCounter(t, 'pl_gossip_published_total'), sumCounter(m1[i], 'pl_gossip_published_total')))
  const peers = await Promise.all(clients.map(async c => new Set((await c.request<Array<{ peerId: string }>>('GET', '/peers')).map(x => x.peerId)).size))
  const rssMiB = s1.map(s => s.rss / 2 ** 20)
  const cpuPct = s0.map((s, i) => 100 * coreShare(s.ticks, s1[i].ticks, o.hz, windowMs))
  const readKiBs = s0.map((s, i) => perS(s.rchar, s1[i].rchar) / 1024)
  const writeKiBs = s0.map((s, i) => perS(s.wchar, s1[i].wchar) / 1024)

  // find from a random node: a name one other node offers (catalog), then the same through the DHT only
  const rnd = (k: number): number => Math.floor(Math.random() * k)
  const findMs: number[] = []
  const findDhtMs: number[] = []
  const healthMs: number[] = []
  // a find that finds nothing is counted, not fatal: the size keeps its other figures
  let findMisses = 0
  let findDhtMisses = 0
  for (let q = 0; q < o.queries; q++) {
    const asker = rnd(n)
    let target = rnd(n - 1)
    if (target >= asker) target++
    const c = clients[asker]
    const th = performance.now()
    await c.request('GET', '/health')
    healthMs.push(performance.now() - th)
    const tf = performance.now()
    const a = await c.request<unknown[]>('POST', '/caps/find', { query: { name: `ScaleNode${target}` }, options: { limit: 1 } })
    findMs.push(performance.now() - tf)
    if (a.length < 1) findMisses++
    const td = performance.now()
    const b = await c.request<unknown[]>('POST', '/caps/find', { query: { name: `ScaleNode${target}` }, options: { dhtOnly: true, limit: 1, timeoutMs: 15_000 } })
    findDhtMs.push(performance.now() - td)
    if (b.length < 1) findDhtMisses++
  }
  log(`  N=${n}: ${o.queries} finds of each kind done (${findMisses} catalog, ${findDhtMisses} DHT found nothing)`)

  // a CFP stage that cannot start (too few providers reachable) loses its figure, not the size's others
  const { cfpMs, pingMs, failedRounds: cfpFailedRounds } = await cfpToAward(o, swarm).catch((err: Error) => {
    o.signal.throwIfAborted()
    log(`  N=${n}: CFP stage failed: ${err.message}`)
    return { cfpMs: [], pingMs: [], failedRounds: o.cfpRounds, candidates: 0 }
  })
  log(`  N=${n}: ${o.cfpRounds} CFP→award rounds done (${cfpFailedRounds} failed)`)

  // a new node joins: from its `started` event until every node's catalog holds its own capability
  const joinMs: number[] = []
  const joinStartMs: number[] = []
  let joinsIncomplete = 0
  for (let k = 0; k < o.joins; k++) {
    const name = `ScaleJoin${k}`
    const file = await caps.own(name)
    const tj = performance.now()
    const joiner = await Swarm.start({ nodes: 1, root: join(o.root, `join-${k}`), logLevel: 'warn', spec: () => ({ config: nodeConfig(caps.echo, file, n + k, swarm.bootstrapAddr) }) })
    swarms.push(joiner)
    const started = performance.now()
    joinStartMs.push(started - tj)
    const seen = new Set<number>()
    const reached = await pollUntil(async () => {
      await Promise.all(clients.map(async (c, i) => {
        if (seen.has(i)) return
        const found = await c.request<unknown[]>('POST', '/caps/find', { query: { name }, options: { localOnly: true } })
        if (found.length > 0) seen.add(i)
      }))
      return seen.size === n
    }, o.catalogWaitMs, 250, signal)
    if (reached) joinMs.push(performance.now() - started)
    else joinsIncomplete++
  }
  log(`  N=${n}: ${o.joins} joins done`)
  return { startS, catalogFullS, catalogMin, joinsIncomplete, findMisses, findDhtMisses, cfpFailedRounds, rssMiB, cpuPct, gossipInPerS: gossipIn, gossipOutPerS: gossipOut, readKiBs, writeKiBs, peers, findMs, findDhtMs, healthMs, cfpMs, pingMs, joinMs, joinStartMs }
}

/**
 * Why catalogs stayed short: the refusals (`pl_rejected_total`) and gossip
 * validation results (`pl_gossip_messages_total`) of each node still missing
 * ads, so a short catalog comes with its cause (a rate limit, a budget, an
 * expired or replayed ad) rather than a bare count.
 */
async function logShortCatalogs (swarm: Swarm, sizes: number[], n: number, log: (l: string) => void): Promise<void> {
  const short = sizes.map((size, i) => ({ size, i })).filter(x => x.size < n)
  for (const { size, i } of short.slice(0, 10)) {
    const text = await metricsOf(swarm.members[i].dataDir).catch((err: Error) => `# metrics unavailable: ${err.message}`)
    const lines = text.split('\n').filter(l => /^pl_(rejected_total|gossip_messages_total)\{/.test(l) && !/ 0$/.test(l))
    log(`    node ${i} (${size} of ${n} ads): ${lines.length > 0 ? lines.join('; ') : 'no refusals counted'}`)
  }
  if (short.length > 10) log(`    … and ${short.length - 10} more short catalogs`)
}

/** GET /metrics answers Prometheus text, which ControlClient.request reads as JSON: fetched here with the node's control file. */
async function metricsOf (dataDir: string): Promise<string> {
  const { url, token } = JSON.parse(await readFile(join(dataDir, CONTROL_FILE), 'utf8')) as { url: string, token: string }
  const res = await fetch(url + '/metrics', { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000) })
  if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`)
  return await res.text()
}

/**
 * An in-process requester joins the swarm (same network, same DHT and gossip
 * names), finds ScaleEcho's providers, and runs CFP→award rounds over 10 of
 * them (a round asks all 10, ranks their bids, awards the best and waits for
 * its ack). Baseline: a libp2p ping to one of the candidates.
 */
async function cfpToAward (o: ProcsOptions, swarm: Swarm): Promise<CfpStageResult> {
  const dir = join(o.root, 'requester')
  await mkdir(dir, { recursive: true })
  const node = await PlNode.create({
    dataDir: dir,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: [swarm.bootstrapAddr],
    localSwarm: true,
    controlApi: false,
    net: { network: 'local', autonat: false, dcutr: false, connectionMonitor: false, identifyPush: true },
    services: { discovery: discovery({}) }
  })
  o.onCleanup(async () => { await node.stop() })
  try {
    await node.start()
    const want = Math.min(CFP_CANDIDATES, o.n)
    let candidates: Candidate[] = []
    await waitUntil(async () => {
      const found = await node.service<Discovery>('discovery').find({ name: 'ScaleEcho' }, { timeoutMs: 5_000 })
      candidates = found.map(f => ({ cid: f.cid, descriptor: f.descriptor, provider: f.provider, addrs: f.addrs }))
      return candidates.length >= want
    }, 120_000, `${want} ScaleEcho providers`, 1_000, o.signal)
    // connected first, so that the rounds time negotiation rather than dials (bench/scale/cfp-stage.ts)
    const connected = await connectedCandidates(node, candidates, want, o.signal)
    if (connected.length < want) throw new Error(`the requester could connect to only ${connected.length} of ${want} ScaleEcho providers`)
    return await cfpRounds(node, 'ScaleEcho', connected, o.cfpRounds, 5, o.signal)
  } finally {
    await node.stop()
  }
}
