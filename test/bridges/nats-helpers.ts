/**
 * Nodes for the NATS binding's tests: real PlNodes with discovery and
 * negotiation, some on NATS (a real nats-server), some on libp2p only.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PlNode, type ServiceFactory } from '../../src/node.js'
import { discovery, type Discovery } from '../../src/discovery/index.js'
import { negotiation, type Negotiation } from '../../src/negotiation/index.js'
import { nats, type NatsBridge, type NatsInit } from '../../src/bridges/nats/index.js'
import type { CandidateFinder, RunStep } from '../../src/negotiation/types.js'
import { tempDir } from '../helpers/tmp.js'
import { NatsServer, natsServerBinary } from '../helpers/nats.js'
import { ModulePool, poolRunStep } from '../negotiation/helpers.js'
import { sharedFetcher } from '../../src/net/fetch.js'

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
  const { fetcher } = sharedFetcher(from.components)
  return await fetcher.fetch(peer, 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', { timeouts: { totalMs: 20_000, firstByteMs: 20_000 } })
}
