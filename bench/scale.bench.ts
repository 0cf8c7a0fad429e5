/**
 * `npm run bench -- --only scale [--sizes 10,25,50|none] [--inproc 100]
 * [--inproc-workers N/5] [--idle-ms 60000] [--warm-ms 10000] [--queries 30]
 * [--cfp-rounds 50] [--joins 3] [--catalog-wait-ms 180000]`: how the mesh
 * grows with N (docs/SCALE.md).
 *
 * Per size, real `pl-node` processes (bench/scale/procs.ts): idle RSS and
 * CPU per node (/proc over the idle window), gossip messages per node per
 * second at rest (`pl_gossip_messages_total` received, `pl_gossip_published_total`
 * sent), bytes through read/write syscalls, find from a random node (catalog,
 * then DHT only; baseline: a GET /health round trip on the same control API),
 * CFP→award over 10 candidates (baseline: a libp2p ping), and the time for a
 * new node's capability to reach every node's catalog. Then the same on an
 * in-process mesh of `--inproc` nodes (0 skips it) spread over
 * `--inproc-workers` worker threads (default one per 5 nodes). A table of how each
 * figure grows with N goes to stderr. Everything started is stopped, on
 * error and on Ctrl-C too.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { latencyFigure, percentile, type Bench, type Figure } from './harness.js'
import { growthTable, parseSizes, type SizedFigure } from './scale/stats.js'
import { runProcs, CFP_CANDIDATES } from './scale/procs.js'
import { runInproc, defaultInprocWorkers } from './scale/inproc.js'

const args = process.argv.slice(2)
function arg (name: string): string | undefined {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
function num (name: string, fallback: number): number {
  const v = arg(name)
  if (v == null) return fallback
  const x = Number(v)
  if (!Number.isInteger(x) || x < 0) throw new RangeError(`${name} must be an integer ≥ 0`)
  return x
}

function clockTicks (): number {
  try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch { return 100 }
}

/** 1-minute load average (NaN where /proc/loadavg is missing). */
function loadAvg (): number {
  try { return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]) } catch { return NaN }
}

const spread = (unit: string, values: number[]): Figure => ({ unit, p50: percentile(values, 50), p95: percentile(values, 95) })

const scale: Bench = {
  name: 'scale',
  run: async () => {
    const sizes = parseSizes(arg('--sizes'), [10, 25, 50])
    const inprocN = num('--inproc', 100)
    const inprocWorkers = num('--inproc-workers', defaultInprocWorkers(inprocN))
    const common = { catalogWaitMs: num('--catalog-wait-ms', 180_000), idleMs: num('--idle-ms', 60_000), warmMs: num('--warm-ms', 10_000), queries: num('--queries', 30), cfpRounds: num('--cfp-rounds', 50), joins: num('--joins', 3) }
    const log = (l: string): void => { process.stderr.write(l + '\n') }
    const controller = new AbortController()
    let interrupted = false
    const onSignal = (sig: string): void => {
      if (interrupted) process.exit(130)
      interrupted = true
      log(`${sig}: stopping everything the scale bench started…`)
      controller.abort(new Error(`interrupted by ${sig}`))
    }
    const sigint = (): void => { onSignal('SIGINT') }
    const sigterm = (): void => { onSignal('SIGTERM') }
    process.on('SIGINT', sigint)
    process.on('SIGTERM', sigterm)
    const figures: Record<string, Figure | number> = {}
    const growth: Record<string, { unit: string, points: SizedFigure[] }> = {}
    // each size's figures go to stderr as soon as it ends, so an interrupted run keeps what it measured
    const logSize = (prefix: string): void => {
      for (const [name, f] of Object.entries(figures)) {
        if (!name.startsWith(prefix)) continue
        log(typeof f === 'number' ? `    ${name}: ${f}` : `    ${name}: ${f.p50.toPrecision(4)} / ${f.p95.toPrecision(4)} ${f.unit}${f.baseline != null ? ` (${f.baseline.name} ${f.baseline.p50.toPrecision(4)})` : ''}`)
      }
    }
    const grow = (name: string, unit: string, n: number, values: number[] | number): void => {
      const g = growth[name] ?? (growth[name] = { unit, points: [] })
      g.points.push(typeof values === 'number' ? { n, p50: values } : { n, p50: percentile(values, 50), p95: percentile(values, 95) })
    }
    const hz = clockTicks()
    try {
      for (const n of sizes) {
        const root = await mkdtemp(join(tmpdir(), `pl-bench-scale-${n}-`))
        const cleanups: Array<() => Promise<void>> = []
        const load0 = loadAvg()
        try {
          log(`  N=${n}: starting ${n} pl-node processes (load ${load0})`)
          const r = await runProcs({ n, root, hz, log, signal: controller.signal, onCleanup: (fn) => { cleanups.push(fn) }, ...common })
          const p = `N=${n} processes`
          figures[`${p}: start (bounded, 2 at once)`] = { unit: 's', p50: r.startS, p95: r.startS }
          figures[`${p}: last start → every catalog full (NaN: not within --catalog-wait-ms)`] = { unit: 's', p50: r.catalogFullS, p95: r.catalogFullS }
          figures[`${p}: smallest catalog when the wait ended (of ${n} ads)`] = { unit: 'ads', p50: r.catalogMin, p95: r.catalogMin }
          figures[`${p}: new nodes not in every catalog within --catalog-wait-ms`] = { unit: 'nodes', p50: r.joinsIncomplete, p95: r.joinsIncomplete }
          figures[`${p}: finds that found nothing (catalog / DHT only, of ${common.queries} each)`] = { unit: 'finds', p50: r.findMisses, p95: r.findDhtMisses }
          figures[`${p}: CFP rounds failed (of ${common.cfpRounds})`] = { unit: 'rounds', p50: r.cfpFailedRounds, p95: r.cfpFailedRounds }
          figures[`${p}: idle RSS per node`] = spread('MiB', r.rssMiB)
          figures[`${p}: idle CPU per node`] = spread('% core', r.cpuPct)
          figures[`${p}: gossip received per node at rest`] = spread('msg/s', r.gossipInPerS)
          figures[`${p}: gossip published per node at rest`] = spread('msg/s', r.gossipOutPerS)
          figures[`${p}: syscall read per node at rest`] = spread('KiB/s', r.readKiBs)
          figures[`${p}: syscall write per node at rest`] = spread('KiB/s', r.writeKiBs)
          figures[`${p}: peers per node`] = spread('peers', r.peers)
          figures[`${p}: find limit 1 (catalog), random node`] = latencyFigure(r.findMs, { name: 'GET /health round trip', samples: r.healthMs })
          figures[`${p}: find dhtOnly limit 1, random node`] = latencyFigure(r.findDhtMs, { name: 'GET /health round trip', samples: r.healthMs })
          figures[`${p}: CFP→award, ${Math.min(CFP_CANDIDATES, n)} connected candidates`] = latencyFigure(r.cfpMs, { name: 'libp2p ping', samples: r.pingMs })
          figures[`${p}: new node → in every catalog (from its started event)`] = latencyFigure(r.joinMs)
          figures[`${p}: new node spawn → started`] = latencyFigure(r.joinStartMs)
          figures[`${p}: load average 1 min (p50 = at start, p95 = at end)`] = { unit: 'load', p50: load0, p95: loadAvg() }
          grow('idle RSS per node', 'MiB', n, r.rssMiB)
          grow('idle CPU per node', '% core', n, r.cpuPct)
          grow('gossip received per node at rest', 'msg/s', n, r.gossipInPerS)
          grow('gossip published per node at rest', 'msg/s', n, r.gossipOutPerS)
          grow('syscall read+write per node at rest', 'KiB/s', n, r.readKiBs.map((x, i) => x + r.writeKiBs[i]))
          grow('peers per node', 'peers', n, r.peers)
          grow('find limit 1 (catalog)', 'ms', n, r.findMs)
          grow('find dhtOnly limit 1', 'ms', n, r.findDhtMs)
          grow(`CFP→award, ${CFP_CANDIDATES} candidates`, 'ms', n, r.cfpMs)
          grow('new node → in every catalog', 'ms', n, r.joinMs)
          grow('start of N processes', 's', n, r.startS)
          logSize(p)
        } catch (err) {
          if (controller.signal.aborted) throw err
          // one size failing (a loaded machine) keeps the figures of the others
          log(`  N=${n} failed: ${(err as Error).stack ?? String(err)}`)
          figures[`N=${n} processes: FAILED ${(err as Error).message}`] = NaN
        } finally {
          for (const c of cleanups.reverse()) await c().catch((err: Error) => { log(`  cleanup: ${err.message}`) })
          await rm(root, { recursive: true, force: true })
        }
      }
      if (inprocN > 0) {
        const n = inprocN
        const root = await mkdtemp(join(tmpdir(), `pl-bench-scale-inproc-${n}-`))
        const cleanups: Array<() => Promise<void>> = []
        const load0 = loadAvg()
        try {
          log(`  in-process mesh of ${n} nodes in ${inprocWorkers} worker threads (load ${load0})`)
          const r = await runInproc({ n, root, workers: inprocWorkers, log, signal: controller.signal, onCleanup: (fn) => { cleanups.push(fn) }, ...common })
          const p = `N=${n} in-process`
          figures[`${p}: start (4 at once, ${inprocWorkers} worker threads)`] = { unit: 's', p50: r.startS, p95: r.startS }
          figures[`${p}: last start → every catalog full (NaN: not within --catalog-wait-ms)`] = { unit: 's', p50: r.catalogFullS, p95: r.catalogFullS }
          figures[`${p}: smallest catalog when the wait ended (of ${n} ads)`] = { unit: 'ads', p50: r.catalogMin, p95: r.catalogMin }
          figures[`${p}: new nodes not in every catalog within --catalog-wait-ms`] = { unit: 'nodes', p50: r.joinsIncomplete, p95: r.joinsIncomplete }
          figures[`${p}: finds that found nothing (catalog / DHT only, of ${common.queries} each)`] = { unit: 'finds', p50: r.findMisses, p95: r.findDhtMisses }
          figures[`${p}: CFP rounds failed (of ${common.cfpRounds})`] = { unit: 'rounds', p50: r.cfpFailedRounds, p95: r.cfpFailedRounds }
          figures[`${p}: RSS growth / N`] = { unit: 'MiB', p50: r.rssMiBPerNode, p95: r.rssMiBPerNode }
          figures[`${p}: heap growth / N`] = { unit: 'MiB', p50: r.heapMiBPerNode, p95: r.heapMiBPerNode }
          figures[`${p}: idle CPU / N`] = { unit: '% core', p50: r.cpuPctPerNode, p95: r.cpuPctPerNode }
          figures[`${p}: gossip received per node at rest`] = spread('msg/s', r.gossipInPerS)
          figures[`${p}: gossip published per node at rest`] = spread('msg/s', r.gossipOutPerS)
          figures[`${p}: peers per node`] = spread('peers', r.peers)
          figures[`${p}: find limit 1 (catalog), random node`] = latencyFigure(r.findMs)
          figures[`${p}: find dhtOnly limit 1, random node`] = latencyFigure(r.findDhtMs)
          figures[`${p}: CFP→award, ${CFP_CANDIDATES} connected candidates`] = latencyFigure(r.cfpMs, { name: 'libp2p ping', samples: r.pingMs })
          figures[`${p}: new node → in every catalog (from its publish)`] = latencyFigure(r.joinMs)
          figures[`${p}: load average 1 min (p50 = at start, p95 = at end)`] = { unit: 'load', p50: load0, p95: loadAvg() }
          grow('gossip received per node at rest', 'msg/s', n, r.gossipInPerS)
          grow('gossip published per node at rest', 'msg/s', n, r.gossipOutPerS)
          grow('peers per node', 'peers', n, r.peers)
          grow('find dhtOnly limit 1', 'ms', n, r.findDhtMs)
          grow(`CFP→award, ${CFP_CANDIDATES} candidates`, 'ms', n, r.cfpMs)
          grow('new node → in every catalog', 'ms', n, r.joinMs)
          logSize(p)
        } catch (err) {
          if (controller.signal.aborted) throw err
          log(`  in-process N=${n} failed: ${(err as Error).stack ?? String(err)}`)
          figures[`N=${n} in-process: FAILED ${(err as Error).message}`] = NaN
        } finally {
          for (const c of cleanups.reverse()) await c().catch((err: Error) => { log(`  cleanup: ${err.message}`) })
          await rm(root, { recursive: true, force: true })
        }
      }
      log('\nhow each figure grows with N (processes' + (inprocN > 0 ? `; N=${inprocN} in-process` : '') + '):\n' + growthTable(growth) + '\n')
    } finally {
      process.off('SIGINT', sigint)
      process.off('SIGTERM', sigterm)
      if (interrupted) process.exit(130)
    }
    return { figures }
  }
}

export async function benches (): Promise<Bench[]> {
  return [scale]
}
