/**
 * Process start-up and idle cost (issue 16), each against raw baselines
 * measured in the same run:
 *
 *   cold-start  `pl-node start` on a data dir with an existing key, spawn to
 *               its `started` line: wall and CPU (the child's utime+stime
 *               from /proc/<pid>/stat at that moment). Baselines: `node -e 0`
 *               and a bare libp2p node with the same transports and services
 *               (bench/bare-libp2p.ts), measured the same way.
 *   cli-help    `pl --help` to exit. Baseline: `node -e 0`.
 *   cli-call    `pl status` against a running node, to exit. Baseline: a node
 *               process doing the same GET /health on the control API.
 *   idle        a started pl-node and a bare libp2p node side by side, after
 *               a warm-up: RSS and CPU (% of one core) over PL_BENCH_IDLE_S
 *               seconds (default 60).
 *
 * CPU of a process that exits is reported by the process itself: every child
 * runs with a `--import` probe writing its process.cpuUsage() to fd 3 at exit.
 * Rounds alternate subject and baselines so both see the same machine load.
 * PL_BENCH_ROUNDS (default 5) sets the rounds; PL_BENCH_CLI_DIR measures
 * another build's dist/src/cli (its unbundled pl-node.js), PL_BENCH_PL_NODE
 * another pl-node entry file. By default pl-node is the bundle users run
 * (dist/bundle/pl-node.mjs, scripts/build-bundle.mjs).
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { latencyFigure, type Bench, type Figure } from './harness.js'

const here = dirname(fileURLToPath(import.meta.url))
// PL_BENCH_CLI_DIR: the dist/src/cli of another build, to measure it (e.g. before a change) with this bench
const CLI_DIR = process.env.PL_BENCH_CLI_DIR ?? join(here, '..', 'src', 'cli')
const PL_NODE = process.env.PL_BENCH_PL_NODE ?? (process.env.PL_BENCH_CLI_DIR != null ? join(CLI_DIR, 'pl-node.js') : join(here, '..', 'bundle', 'pl-node.mjs'))
const PL = join(CLI_DIR, 'pl.js')
const BARE = join(here, 'bare-libp2p.js')
const ROUNDS = Number(process.env.PL_BENCH_ROUNDS ?? 5)
const IDLE_S = Number(process.env.PL_BENCH_IDLE_S ?? 60)
const CLK_TCK = 100 // Linux USER_HZ
// written to fd 3 at exit: the process's own CPU time (user + system), in µs
const PROBE = 'data:text/javascript,' + encodeURIComponent("import{writeSync}from'node:fs';process.on('exit',()=>{const u=process.cpuUsage();try{writeSync(3,String(u.user+u.system))}catch{}})")

interface Sample { wallMs: number, cpuMs: number }

/** Runs `node args` to exit; wall from spawn to exit, CPU as the child reports it. */
async function runToExit (args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Sample> {
  const t0 = performance.now()
  const child = spawn(process.execPath, ['--import', PROBE, ...args], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], env })
  let cpu = ''
  let err = ''
  child.stdio[3]?.on('data', (d: Buffer) => { cpu += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  const wallMs = performance.now() - t0
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited ${String(code)}: ${err.slice(0, 500)}`)
  return { wallMs, cpuMs: Number(cpu) / 1000 }
}

function cpuOfPid (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 1000 / CLK_TCK
}

function rssOfPid (pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024
}

interface Started { sample: Sample, pid: number, line: Record<string, unknown>, stop: () => Promise<void> }

/** Spawns a long-running node process and waits for its `started` line. */
async function startToReady (args: string[]): Promise<Started> {
  const t0 = performance.now()
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<void>(resolve => child.once('close', () => { resolve() }))
  const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const l = out.split('\n').find(x => x.includes('"started"'))
      if (l != null) resolve(JSON.parse(l))
    })
    void exited.then(() => { reject(new Error(`${args.join(' ')} exited before it was ready: ${err.slice(0, 500)}`)) })
  })
  const wallMs = performance.now() - t0
  const sample = { wallMs, cpuMs: cpuOfPid(child.pid as number) }
  return {
    sample,
    pid: child.pid as number,
    line,
    stop: async () => { child.kill('SIGTERM'); await exited }
  }
}

function figures (name: string, subject: Sample[], baselines: Record<string, Sample[]>): Record<string, Figure> {
  const out: Record<string, Figure> = {}
  for (const [base, samples] of Object.entries(baselines)) {
    out[`${name} wall vs ${base}`] = latencyFigure(subject.map(s => s.wallMs), { name: base, samples: samples.map(s => s.wallMs) })
    out[`${name} CPU vs ${base}`] = latencyFigure(subject.map(s => s.cpuMs), { name: base, samples: samples.map(s => s.cpuMs) })
  }
  return out
}

async function withDataDir<T> (fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'pl-bench-cold-'))
  try {
    return await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

// --exit-with-parent: a node of an interrupted bench does not outlive it (idle leaves it off: it polls /proc twice a second)
const nodeArgs = (dir: string, exitWithParent = true): string[] => [PL_NODE, 'start', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn', ...(exitWithParent ? ['--exit-with-parent'] : [])]

async function coldStart (): Promise<{ figures: Record<string, Figure> }> {
  return await withDataDir(async (dir) => {
    // the first start creates the key (and fills Node's compile cache): not measured
    await (await startToReady(nodeArgs(dir))).stop()
    const subject: Sample[] = []
    const empty: Sample[] = []
    const bare: Sample[] = []
    for (let i = 0; i < ROUNDS; i++) {
      empty.push(await runToExit(['-e', '0']))
      const b = await startToReady([BARE])
      bare.push(b.sample)
      await b.stop()
      const s = await startToReady(nodeArgs(dir))
      subject.push(s.sample)
      await s.stop()
    }
    return { figures: figures('pl-node start to ready', subject, { 'node -e 0': empty, 'bare libp2p node': bare }) }
  })
}

async function cliHelp (): Promise<{ figures: Record<string, Figure> }> {
  const subject: Sample[] = []
  const empty: Sample[] = []
  await runToExit([PL, '--help'])
  for (let i = 0; i < ROUNDS * 2; i++) {
    empty.push(await runToExit(['-e', '0']))
    subject.push(await runToExit([PL, '--help']))
  }
  return { figures: figures('pl --help', subject, { 'node -e 0': empty }) }
}

async function cliCall (): Promise<{ figures: Record<string, Figure> }> {
  return await withDataDir(async (dir) => {
    const node = await startToReady(nodeArgs(dir))
    try {
      const control = JSON.parse(await readFile(join(dir, 'control.json'), 'utf8')) as { url: string, token: string }
      // the raw call: a node process doing the same request with fetch
      const raw = `const r=await fetch(${JSON.stringify(control.url + '/health')},{headers:{authorization:'Bearer '+${JSON.stringify(control.token)}}});if(!r.ok)process.exit(1);await r.text()`
      const subject: Sample[] = []
      const baseline: Sample[] = []
      await runToExit([PL, 'status', '--data-dir', dir])
      for (let i = 0; i < ROUNDS * 2; i++) {
        baseline.push(await runToExit(['--input-type=module', '-e', raw]))
        subject.push(await runToExit([PL, 'status', '--data-dir', dir]))
      }
      return { figures: figures('pl status', subject, { 'node fetch GET /health': baseline }) }
    } finally {
      await node.stop()
    }
  })
}

async function idle (): Promise<{ figures: Record<string, Figure | number> }> {
  return await withDataDir(async (dir) => {
    const node = await startToReady(nodeArgs(dir, false))
    const bare = await startToReady([BARE])
    try {
      await new Promise(resolve => setTimeout(resolve, 10_000)) // warm-up: timers armed, first DHT self-queries done
      const cpu0 = [cpuOfPid(node.pid), cpuOfPid(bare.pid)]
      const t0 = performance.now()
      const rss: number[][] = [[], []]
      const end = t0 + IDLE_S * 1000
      while (performance.now() < end) {
        await new Promise(resolve => setTimeout(resolve, 1000))
        rss[0].push(rssOfPid(node.pid))
        rss[1].push(rssOfPid(bare.pid))
      }
      const secs = (performance.now() - t0) / 1000
      const pct = [cpuOfPid(node.pid) - cpu0[0], cpuOfPid(bare.pid) - cpu0[1]].map(ms => ms / 10 / secs)
      return {
        figures: {
          'idle RSS': { ...latencyFigure(rss[0], { name: 'bare libp2p node', samples: rss[1] }), unit: 'MB' },
          'idle CPU (% of a core)': { unit: '%', p50: pct[0], p95: pct[0], baseline: { name: 'bare libp2p node', p50: pct[1], p95: pct[1] } },
          'idle seconds measured': secs
        }
      }
    } finally {
      await Promise.all([node.stop(), bare.stop()])
    }
  })
}

export const benches: Bench[] = [
  { name: 'cold-start', run: coldStart },
  { name: 'cli-help', run: cliHelp },
  { name: 'cli-call', run: cliCall },
  { name: 'idle', run: idle }
]
