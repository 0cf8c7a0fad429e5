/**
 * The NATS binding's test setup, shared by every test/bridges/nats*.test.ts:
 * a real `nats-server` (Debian package) on a free 127.0.0.1 port with a temp
 * config, and real PlNodes with discovery and negotiation, some on NATS,
 * some on libp2p only (`natsFixture`, `startNode`, `stopAll`). A server's
 * `stop()` kills it (it can be `restart()`ed on the same port to test
 * reconnects); `close()` kills it for good. `natsServerBinary()` is undefined when the binary is absent (tests
 * skip with that reason).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createServer, connect as tcpConnect } from 'node:net'
import { mkdir, writeFile } from 'node:fs/promises'
import { PlNode, type ServiceFactory } from '../../src/node.js'
import { discovery, type Discovery } from '../../src/discovery/index.js'
import { negotiation, type Negotiation } from '../../src/negotiation/index.js'
import { nats, type NatsBridge, type NatsInit } from '../../src/bridges/nats/index.js'
import type { CandidateFinder, RunStep } from '../../src/negotiation/types.js'
import { ModulePool, poolRunStep } from '../negotiation/helpers.js'
import { join } from 'node:path'
import { tempDir } from './tmp.js'

export function natsServerBinary (): string | undefined {
  for (const p of ['nats-server', '/usr/sbin/nats-server', '/usr/bin/nats-server']) {
    const r = spawnSync(p, ['--version'], { encoding: 'utf8' })
    if (r.status === 0) return p
  }
  return undefined
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port
      srv.close(() => { resolve(port) })
    })
  })
}

async function accepting (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true) })
    s.once('error', () => { resolve(false) })
  })
}

export interface NatsServerInit {
  /** server max_payload @default 1 MiB (the server's own default) */
  maxPayload?: number
}

export class NatsServer {
  private proc?: ChildProcess
  private exited?: Promise<void>

  private constructor (readonly bin: string, readonly port: number, readonly configFile: string, private readonly cleanup: () => Promise<void>) {}

  get url (): string { return `nats://127.0.0.1:${this.port}` }

  static async start (bin: string, init: NatsServerInit = {}): Promise<NatsServer> {
    const { dir, cleanup } = await tempDir('pl-nats-')
    const port = await freePort()
    const configFile = join(dir, 'nats.conf')
    await writeFile(configFile, `listen: 127.0.0.1:${port}\nmax_payload: ${init.maxPayload ?? 1024 * 1024}\n`)
    const server = new NatsServer(bin, port, configFile, cleanup)
    await server.restart()
    return server
  }

  /** Starts the server (again) on its port; resolves once it accepts connections. */
  async restart (timeoutMs = 30_000): Promise<void> {
    if (this.proc != null) return
    const proc = spawn(this.bin, ['-c', this.configFile], { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    proc.stderr?.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-10_000) })
    this.proc = proc
    this.exited = new Promise((resolve) => { proc.once('exit', () => { resolve() }) })
    const deadline = Date.now() + timeoutMs
    while (!await accepting(this.port)) {
      if (proc.exitCode != null) throw new Error(`nats-server exited with ${proc.exitCode}: ${err}`)
      if (Date.now() > deadline) throw new Error(`nats-server did not accept connections within ${timeoutMs} ms: ${err}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }

  /** Kills the server; resolves once the process is gone. */
  async stop (): Promise<void> {
    const proc = this.proc
    if (proc == null) return
    this.proc = undefined
    if (proc.exitCode == null && proc.signalCode == null) proc.kill('SIGKILL')
    await this.exited
  }

  async close (): Promise<void> {
    await this.stop()
    await this.cleanup()
  }
}

// ---------------------------------------------------------------- nodes for the NATS binding's tests

const bin = natsServerBinary()
/** The `skip` of every NATS test: the reason when nats-server is absent. */
export const natsSkip: string | false = bin == null ? 'nats-server is not installed (apt-get install nats-server; scripts/setup-ci.sh does it)' : false

export interface NatsFixture {
  server: NatsServer
  /** a temp folder for module folders */
  dir: string
  /** a real module pool's RunStep */
  runStep: RunStep
}

/** A nats-server, a temp folder and a module pool; each stopped by `stopAll(cleanups)`. */
export async function natsFixture (cleanups: Array<() => Promise<void>>): Promise<NatsFixture> {
  if (bin == null) throw new Error(String(natsSkip))
  const tmp = await tempDir('pl-nats-mods-')
  cleanups.push(tmp.cleanup)
  const server = await NatsServer.start(bin)
  cleanups.push(async () => { await server.close() })
  const pool = new ModulePool()
  cleanups.push(async () => { await pool.close() })
  return { server, dir: tmp.dir, runStep: poolRunStep(pool) }
}

/** Runs the cleanups newest first (an `after` hook). */
export async function stopAll (cleanups: Array<() => Promise<void>>): Promise<void> {
  for (const c of cleanups.reverse()) await c().catch(() => {})
}

export const disc = (n: PlNode): Discovery => n.service<Discovery>('discovery')
export const neg = (n: PlNode): Negotiation => n.service<Negotiation>('negotiation')
export const bridge = (n: PlNode): NatsBridge => n.service<NatsBridge>('nats')

export interface TestNodeInit {
  /** join this NATS server */
  nats?: Omit<NatsInit, 'url'> & { url: string }
  /** libp2p listen addresses @default ['/ip4/127.0.0.1/tcp/0']; [] = unreachable over libp2p */
  listen?: string[]
  bootstrap?: string[]
  runStep?: RunStep
  /** the requester's candidate finder @default the discovery service */
  finder?: CandidateFinder
}

/** Starts a node; `cleanups` gets its stop and temp-dir removal. */
export async function startNode (init: TestNodeInit, cleanups: Array<() => Promise<void>>): Promise<PlNode> {
  const { dir, cleanup } = await tempDir('pl-nats-node-')
  const services: Record<string, ServiceFactory> = {}
  if (init.nats != null) services.nats = nats({ reconnectWaitMs: 200, ...init.nats })
  services.discovery = discovery({ ttlMs: 4_000, sweepMs: 200, provideRetryMs: 100, provideRetryMaxMs: 1_000 })
  services.negotiation = negotiation({ replyWindowMs: 3_000, ...(init.runStep != null ? { runStep: init.runStep } : {}), ...(init.finder != null ? { finder: init.finder } : {}) })
  const node = await PlNode.create({ dataDir: dir, listen: init.listen ?? ['/ip4/127.0.0.1/tcp/0'], bootstrap: init.bootstrap ?? [], localSwarm: true, controlApi: false, services })
  cleanups.push(async () => { await node.stop(); await cleanup() })
  await node.start()
  return node
}

/** A JS module folder whose `eval` body is `body`. */
export async function moduleDir (root: string, name: string, body: string): Promise<string> {
  const dir = join(root, name)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'function.mjs'), `export default class M {\n  async eval (parameters, inputData, context) { ${body} }\n}\n`)
  return dir
}

export const io = { input: { type: 'object' }, output: { type: 'object' } }

/** A /pl/fetch call from `from` to `peer` (for a CID nobody shares): resolves with the remote's answer or throws the call's error. */
export async function fetchProtocolCall (from: PlNode, peer: string): Promise<unknown> {
  const fetcher = from.components.fetcher
  return await fetcher.fetch(peer, 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', { timeouts: { totalMs: 20_000, firstByteMs: 20_000 } })
}
