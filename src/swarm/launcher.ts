/**
 * Swarm: N real `pl-node` processes on 127.0.0.1 — node 0 is the bootstrap,
 * the others join through it. Used by `scripts/swarm`, the demo, the soak and
 * chaos runs and end-to-end tests. Each node gets its own data dir and an
 * optional config file (e.g. capabilities to publish).
 *
 * @example
 * const swarm = await Swarm.start({ nodes: 5, root: '/tmp/swarm' })
 * await swarm.kill(3); await swarm.restart(3)
 * await swarm.stop()
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, writeFile, appendFile } from 'node:fs/promises'
import { createWriteStream, type WriteStream } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { availableParallelism } from 'node:os'
import { PlError } from '../core/errors.js'
import { mapBounded } from '../core/index.js'
import { plNodeEntry } from '../core/paths.js'

export class SwarmStartError extends PlError {
  override name = 'SwarmStartError'
}

/** one node's start bound: a broken start, not a slow machine (a loaded 2-core machine took >30 s) */
export const DEFAULT_SWARM_START_TIMEOUT_MS = 180_000

export interface SwarmNodeSpec {
  /** extra config written to the node's config file (keys as in `pl-node start --config`) */
  config?: Record<string, unknown>
  env?: NodeJS.ProcessEnv
}

export interface SwarmInit {
  nodes: number
  /** folder for data dirs and logs */
  root: string
  spec?: (index: number) => SwarmNodeSpec
  /** @default 'info' */
  logLevel?: string
  /** how long one node may take from its spawn to `started` (a bound for a broken start, not a speed check) @default DEFAULT_SWARM_START_TIMEOUT_MS */
  startTimeoutMs?: number
  /** nodes starting at once after the bootstrap: all at once on 2 cores, 30 nodes took >30 s each (load 19) @default max(2, cpus) */
  startConcurrency?: number
  onEvent?: (line: string) => void
}

export interface SwarmMember {
  index: number
  dataDir: string
  logFile: string
  proc?: ChildProcess
  peerId?: string
  addrs: string[]
  control?: string
  exited?: Promise<number | null>
}

export class Swarm {
  readonly members: SwarmMember[] = []
  private readonly logs = new Map<number, WriteStream>()

  private constructor (private readonly init: SwarmInit) {}

  static async start (init: SwarmInit): Promise<Swarm> {
    const swarm = new Swarm(init)
    await mkdir(init.root, { recursive: true })
    try {
      for (let i = 0; i < init.nodes; i++) {
        const dataDir = join(init.root, `node-${i}`)
        await mkdir(dataDir, { recursive: true })
        swarm.members.push({ index: i, dataDir, logFile: join(init.root, `node-${i}.log`), addrs: [] })
      }
      await swarm.launch(0)
      // bounded: each start costs a second or more of CPU, and readiness is the `started` event of each node
      await mapBounded(swarm.members.slice(1), init.startConcurrency ?? Math.max(2, availableParallelism()), async m => await swarm.launch(m.index))
    } catch (err) {
      await swarm.stop()
      throw err
    }
    return swarm
  }

  get bootstrapAddr (): string {
    const addr = this.members[0].addrs.find(a => a.includes('/tcp/') && !a.includes('/ws'))
    if (addr == null) throw new SwarmStartError('bootstrap node has no TCP address')
    return addr
  }

  /** Starts (or restarts) member `index` and waits until it reports `started`. */
  async launch (index: number): Promise<SwarmMember> {
    const m = this.members[index]
    const spec = this.init.spec?.(index) ?? {}
    const configFile = join(m.dataDir, 'swarm-config.json')
    await writeFile(configFile, JSON.stringify({ localSwarm: true, listen: ['/ip4/127.0.0.1/tcp/0'], ...spec.config }, null, 2))
    // --exit-with-parent: if this launcher dies (even by SIGKILL), its nodes stop instead of running on unowned
    const args = [plNodeEntry(), 'start', '--data-dir', m.dataDir, '--config', configFile, '--exit-with-parent']
    if (index !== 0) args.push('--bootstrap', this.bootstrapAddr)
    const log = this.logs.get(index) ?? createWriteStream(m.logFile, { flags: 'a' })
    this.logs.set(index, log)
    // own process group: a terminal Ctrl-C reaches only the launcher, which then stops each node once, gracefully
    const proc = spawn(process.execPath, args, { env: { ...process.env, PL_LOG_LEVEL: this.init.logLevel ?? 'info', ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    m.proc = proc
    // 'close' (not 'exit') so that everything the process wrote has reached the log
    m.exited = new Promise((resolve) => { proc.once('close', (code) => { resolve(code) }) })
    proc.stderr.pipe(log, { end: false })
    const started = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new SwarmStartError(`node ${index} did not start within ${this.init.startTimeoutMs ?? DEFAULT_SWARM_START_TIMEOUT_MS} ms (log: ${m.logFile})`)) }, this.init.startTimeoutMs ?? DEFAULT_SWARM_START_TIMEOUT_MS)
      createInterface({ input: proc.stdout }).on('line', (line) => {
        void appendFile(m.logFile, line + '\n').catch(() => {})
        this.init.onEvent?.(`[${index}] ${line}`)
        try {
          const ev = JSON.parse(line)
          if (ev.event === 'started') {
            clearTimeout(timer)
            m.peerId = ev.peerId
            m.addrs = ev.addrs
            m.control = ev.control
            resolve()
          }
        } catch {}
      })
      void m.exited!.then((code) => { clearTimeout(timer); reject(new SwarmStartError(`node ${index} exited with ${String(code)} while starting (log: ${m.logFile})`)) })
    })
    await started
    return m
  }

  isRunning (index: number): boolean {
    const p = this.members[index].proc
    return p != null && p.exitCode == null && p.signalCode == null
  }

  /** Sends `signal` (default SIGKILL) to member `index` and waits for it to exit. */
  async kill (index: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const m = this.members[index]
    if (!this.isRunning(index)) return
    m.proc!.kill(signal)
    await m.exited
  }

  pause (index: number): void { this.members[index].proc?.kill('SIGSTOP') }
  resume (index: number): void { this.members[index].proc?.kill('SIGCONT') }

  async restart (index: number): Promise<SwarmMember> {
    await this.kill(index)
    return await this.launch(index)
  }

  /** SIGTERM to every running node (SIGKILL after `graceMs`), then closes log files. */
  async stop (graceMs = 15_000): Promise<void> {
    await Promise.all(this.members.map(async (m) => {
      if (!this.isRunning(m.index)) return
      m.proc!.kill('SIGCONT')
      m.proc!.kill('SIGTERM')
      const t = setTimeout(() => m.proc!.kill('SIGKILL'), graceMs)
      await m.exited
      clearTimeout(t)
    }))
    for (const log of this.logs.values()) log.end()
    this.logs.clear()
  }
}
