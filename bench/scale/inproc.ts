/**
 * The in-process size of the scale bench: N PlNodes in this process (real
 * libp2p over TCP on 127.0.0.1, LevelDB, gossip on), spread over worker
 * threads (bench/scale/inproc-worker.ts; node i in worker i mod W), each
 * with discovery and the negotiation provider side, each offering
 * `ScaleEcho` and `ScaleNode<i>`. A new node bootstraps from 3 random nodes
 * already started. One process holds them all, so memory and CPU are the
 * process's growth divided by N (code and the workers' own isolates counted
 * once, before the first node starts), not a process's own footprint.
 * Every worker and node is stopped by the cleanup it registers, on success,
 * error and abort alike.
 */
import { Worker } from 'node:worker_threads'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pollUntil, sleep } from './wait.js'
import type { ScaleRunOptions } from './stats.js'
import { CFP_CANDIDATES } from './procs.js'
import type { WorkerInit, WorkerRequest } from './inproc-worker.js'
import type { CfpStageResult } from './cfp-stage.js'

export interface InprocOptions extends ScaleRunOptions {
  /** worker threads the nodes are spread over (node i runs in worker i mod workers) */
  workers: number
}

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
  /** finds (catalog, DHT only) that found no provider */
  findMisses: number
  findDhtMisses: number
  cfpMs: number[]
  pingMs: number[]
  cfpFailedRounds: number
  joinMs: number[]
}

/** default worker threads for an N-node mesh: one per 5 nodes */
export function defaultInprocWorkers (n: number): number {
  return Math.max(1, Math.ceil(n / 5))
}

/** nodes started at once (each in its own worker when there are several) */
const START_CONCURRENCY = 4
/** bootstrap peers of a new node: random nodes already started */
const BOOTSTRAP_PEERS = 3
/** longest a worker may take to answer one request (a bound for a hung worker, not a speed check) */
const REQUEST_TIMEOUT_MS = 600_000

type Op<R extends WorkerRequest> = R extends unknown ? Omit<R, 'id'> : never

/** A worker thread and its pending requests. */
class MeshWorker {
  private readonly worker: Worker
  private readonly pending = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  private next = 0
  private dead: Error | undefined

  constructor (readonly index: number, init: WorkerInit) {
    this.worker = new Worker(new URL('./inproc-worker.js', import.meta.url), { workerData: init })
    this.worker.on('message', (m: { id: number, ok: boolean, result?: unknown, error?: string }) => {
      const p = this.pending.get(m.id)
      if (p == null) return
      this.pending.delete(m.id)
      if (m.ok) p.resolve(m.result)
      else p.reject(new Error(`worker ${index}: ${m.error ?? 'failed'}`))
    })
    const fail = (err: Error): void => {
      this.dead = err
      for (const p of this.pending.values()) p.reject(err)
      this.pending.clear()
    }
    this.worker.on('error', (err) => { fail(new Error(`worker ${index} failed: ${err.stack ?? String(err)}`)) })
    this.worker.on('exit', (code) => { fail(new Error(`worker ${index} exited (code ${code})`)) })
  }

  async request<T>(req: Op<WorkerRequest>, signal: AbortSignal, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
    if (this.dead != null) throw this.dead
    signal.throwIfAborted()
    const id = this.next++
    return await new Promise<T>((resolve, reject) => {
      const done = (): void => { clearTimeout(timer); signal.removeEventListener('abort', onAbort); this.pending.delete(id) }
      const onAbort = (): void => { done(); reject(signal.reason as Error) }
      const timer = setTimeout(() => { done(); reject(new Error(`worker ${this.index}: no answer to ${req.op} within ${timeoutMs} ms`)) }, timeoutMs)
      signal.addEventListener('abort', onAbort, { once: true })
      this.pending.set(id, { resolve: (v) => { done(); resolve(v as T) }, reject: (e) => { done(); reject(e) } })
      this.worker.postMessage({ ...req, id })
    })
  }

  /** stops the worker's nodes (bounded), then the thread */
  async close (): Promise<void> {
    if (this.dead == null) await this.request({ op: 'stop' }, new AbortController().signal, 120_000).catch(() => {})
    await this.worker.terminate()
  }
}

async function settledRss (): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc
  for (let i = 0; i < 3; i++) { gc?.(); await sleep(50) }
  return process.memoryUsage().rss
}

/** runs `fn` over 0..count-1, at most `limit` at once */
async function bounded (count: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < count) await fn(next++)
  }
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane))
}

const rnd = (k: number): number => Math.floor(Math.random() * k)

/**
 * The mesh's worker threads and the nodes started on them: node i runs in
 * worker i mod W and bootstraps from BOOTSTRAP_PEERS random nodes already
 * started. `close` stops every node and worker.
 */
export class InprocMesh {
  /** nodes started, in the order they were */
  readonly started: number[] = []
  private readonly addrs: string[][] = []

  private constructor (readonly workers: MeshWorker[], private readonly signal: AbortSignal) {}

  /** Writes the echo module the nodes offer under `root` and opens `workers` threads. */
  static async open (root: string, workers: number, signal: AbortSignal): Promise<InprocMesh> {
    const modDir = join(root, 'echo-module')
    await mkdir(modDir, { recursive: true })
    await writeFile(join(modDir, 'function.mjs'), 'export default class Echo { eval (parameters, inputData) { return { echoed: inputData.n ?? null } } }\n')
    return new InprocMesh(Array.from({ length: Math.max(1, workers) }, (_, k) => new MeshWorker(k, { root, modDir })), signal)
  }

  at (i: number): MeshWorker { return this.workers[i % this.workers.length] }

  /** `req` to every worker: their answers, in worker order */
  async all<T>(req: Op<WorkerRequest>): Promise<T[]> {
    return await Promise.all(this.workers.map(async x => await x.request<T>(req, this.signal)))
  }

  /** Starts node `i` (offering `publish`), bootstrapping from random nodes already started. */
  async startNode (i: number, publish: string[]): Promise<void> {
    const pool = [...this.started]
    const bootstrap: string[] = []
    while (bootstrap.length < BOOTSTRAP_PEERS && pool.length > 0) bootstrap.push(...this.addrs[pool.splice(rnd(pool.length), 1)[0]])
    const r = await this.at(i).request<{ addrs: string[] }>({ op: 'start', i, bootstrap, publish }, this.signal)
    this.addrs[i] = r.addrs.filter(a => a.includes('/tcp/') && !a.includes('/ws'))
    this.started.push(i)
  }

  /** Starts nodes 0 … n − 1: node 0 first, then START_CONCURRENCY at once; the seconds it took. */
  async startAll (n: number, publish: (i: number) => string[], onStarted?: (count: number, seconds: number) => void): Promise<number> {
    const t0 = performance.now()
    const seconds = (): number => (performance.now() - t0) / 1000
    await this.startNode(0, publish(0))
    await bounded(n - 1, START_CONCURRENCY, async (k) => {
      await this.startNode(k + 1, publish(k + 1))
      onStarted?.(this.started.length, seconds())
    })
    return seconds()
  }

  async close (): Promise<void> {
    await Promise.allSettled(this.workers.map(async x => { await x.close() }))
  }
}

export async function runInproc (o: InprocOptions): Promise<InprocResult> {
  const { n, signal, log } = o
  const mesh = await InprocMesh.open(o.root, Math.min(o.workers, n), signal)
  o.onCleanup(async () => { await mesh.close() })
  const w = mesh.workers.length
  // entries of [node, value] from every worker, as one array indexed by node
  const byNode = async (req: Op<WorkerRequest>): Promise<number[][]> => {
    const out: number[][] = []
    for (const rows of await mesh.all<number[][]>(req)) for (const [i, ...v] of rows) out[i] = v
    return out
  }
  const heapBefore = (await mesh.all<number>({ op: 'heap' })).reduce((a, b) => a + b, 0)
  const rssBefore = await settledRss()
  log(`  in-process: ${w} worker threads ready, starting ${n} nodes (${START_CONCURRENCY} at once)`)

  const startS = await mesh.startAll(n, i => ['ScaleEcho', `ScaleNode${i}`], (count, seconds) => {
    if (count % 25 === 0) log(`  in-process: ${count}/${n} nodes started (${seconds.toFixed(0)} s)`)
  })

  const t1 = performance.now()
  let counts: number[] = []
  const full = await pollUntil(async () => {
    counts = (await byNode({ op: 'counts', name: 'ScaleEcho' })).map(v => v[0] + 1)
    return counts.every(c => c >= n)
  }, o.catalogWaitMs, 1_000, signal)
  const catalogFullS = full ? (performance.now() - t1) / 1000 : NaN
  const catalogMin = Math.min(...counts)
  log(`  in-process N=${n}: started in ${startS.toFixed(1)} s, catalogs ${full ? `full ${catalogFullS.toFixed(1)} s later` : `not full after ${o.catalogWaitMs / 1000} s (smallest ${catalogMin} of ${n}, ${counts.filter(c => c < n).length} short)`}; idle ${o.idleMs / 1000} s`)
  if (!full) {
    for (const i of counts.map((c, i) => c < n ? i : -1).filter(i => i >= 0).slice(0, 10)) {
      const lines = await mesh.at(i).request<string[]>({ op: 'diag', i }, signal)
      log(`    node ${i} (${counts[i]} of ${n} ads): ${lines.length > 0 ? lines.join('; ') : 'no refusals counted'}`)
    }
  }
  await sleep(o.warmMs, undefined, { signal })

  const g0 = await byNode({ op: 'gossip' })
  const c0 = process.cpuUsage()
  const w0 = performance.now()
  await sleep(o.idleMs, undefined, { signal })
  const cpu = process.cpuUsage(c0)
  const windowMs = performance.now() - w0
  const g1 = await byNode({ op: 'gossip' })
  const heapAfter = (await mesh.all<number>({ op: 'heap' })).reduce((a, b) => a + b, 0)
  const rssAfter = await settledRss()
  const perS = (a: number, b: number): number => (b - a) / (windowMs / 1000)
  const peers = (await byNode({ op: 'peers' })).slice(0, n).map(v => v[0])

  const findMs: number[] = []
  const findDhtMs: number[] = []
  let findMisses = 0
  let findDhtMisses = 0
  for (let q = 0; q < o.queries; q++) {
    const asker = rnd(n)
    let target = rnd(n - 1)
    if (target >= asker) target++
    const a = await mesh.at(asker).request<{ count: number, ms: number }>({ op: 'find', i: asker, name: `ScaleNode${target}`, dhtOnly: false }, signal)
    findMs.push(a.ms)
    if (a.count < 1) findMisses++
    const b = await mesh.at(asker).request<{ count: number, ms: number }>({ op: 'find', i: asker, name: `ScaleNode${target}`, dhtOnly: true }, signal)
    findDhtMs.push(b.ms)
    if (b.count < 1) findDhtMisses++
  }
  log(`  in-process N=${n}: ${o.queries} finds of each kind done (${findMisses} catalog, ${findDhtMisses} DHT found nothing)`)

  // CFP→award from node 0 over 10 providers it is (or gets) connected to
  // a CFP stage that cannot start (too few providers reachable) loses its figure, not the others
  const cfp = await mesh.at(0).request<CfpStageResult>({ op: 'cfp', i: 0, capability: 'ScaleEcho', candidates: Math.min(CFP_CANDIDATES, n - 1), rounds: o.cfpRounds, warm: 5 }, signal).catch((err: Error) => {
    signal.throwIfAborted()
    log(`  in-process N=${n}: CFP stage failed: ${err.message}`)
    return { cfpMs: [], pingMs: [], failedRounds: o.cfpRounds, candidates: 0 }
  })
  log(`  in-process N=${n}: ${o.cfpRounds} CFP→award rounds over ${cfp.candidates} connected candidates done (${cfp.failedRounds} failed)`)

  // joins: from the end of the new node's start (its ad goes out then) until every other catalog holds it
  const joinMs: number[] = []
  let joinsIncomplete = 0
  for (let k = 0; k < o.joins; k++) {
    const i = n + k
    const name = `ScaleJoin${k}`
    await mesh.startNode(i, [])
    const tj = performance.now()
    await mesh.at(i).request({ op: 'publish', i, name }, signal)
    const reached = await pollUntil(async () => (await byNode({ op: 'counts', name })).every((v, j) => j === i || v[0] > 0), o.catalogWaitMs, 250, signal)
    if (reached) joinMs.push(performance.now() - tj)
    else joinsIncomplete++
  }

  return {
    startS,
    catalogFullS,
    catalogMin,
    joinsIncomplete,
    rssMiBPerNode: (rssAfter - rssBefore) / n / 2 ** 20,
    heapMiBPerNode: (heapAfter - heapBefore) / n / 2 ** 20,
    cpuPctPerNode: 100 * (cpu.user + cpu.system) / 1000 / windowMs / n,
    gossipInPerS: g0.slice(0, n).map((v, i) => perS(v[0], g1[i][0])),
    gossipOutPerS: g0.slice(0, n).map((v, i) => perS(v[1], g1[i][1])),
    peers,
    findMs,
    findDhtMs,
    findMisses,
    findDhtMisses,
    cfpMs: cfp.cfpMs,
    pingMs: cfp.pingMs,
    cfpFailedRounds: cfp.failedRounds,
    joinMs
  }
}
