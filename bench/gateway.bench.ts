/**
 * Gateway benchmarks under 200 concurrent HTTP clients (keep-alive, one
 * process): the gateway's `GET /runs/:id` and `POST /dsl-graph/:id/deploy`
 * (a 1-step local workflow from a stored bundle, `wait: true`) against a
 * bare Fastify route doing the same service calls (runView; graphFrom +
 * submit + wait) without auth, rate limit, schemas or the error handler.
 * The ratio is the gateway's cost. The registry figures run a real PlNode
 * (exec + registry + gateway services, the gateway on 127.0.0.1): the
 * gateway's `GET /workflows/:id` and `POST /dsl-executor/:id/execute_dsl`
 * (the same 1-step workflow, registered as a bundle, `wait: true`) against
 * a bare Fastify route making the same Registry calls (`registry.get`;
 * `registry.runs.execute`, which submits to the node's executor).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { Store, ReplayStore } from '../src/store/index.js'
import { SchemaRegistry } from '../src/spec/index.js'
import { EnvelopeVerifier } from '../src/core/index.js'
import { silentLogger } from '../src/core/logger.js'
import { cidOfBytes, RAW } from '../src/core/encoding.js'
import { Executor, exec } from '../src/exec/index.js'
import { runView } from '../src/exec/view.js'
import { packBundle } from '../src/workflow/index.js'
import { KeyStore, RateLimiter, RunEventHub, buildServer, gatewayRoutes, graphFrom, type RunRequester, gateway as gatewayService, type GatewayService } from '../src/gateway/index.js'
import type { Bench } from './harness.js'
import { PlNode } from '../src/node.js'
import { registry as registryService, type Registry } from '../src/registry/index.js'
import { systemClock } from '../src/core/clock.js'

const CLIENTS = 200

interface Env {
  store: Store
  executor: Executor
  gateway: FastifyInstance
  bare: FastifyInstance
  gatewayUrl: string
  bareUrl: string
  key: string
  runId: string
  bundle: string
  close: () => Promise<void>
}

/** A 1-step local workflow (`one`: number + 1) as a ZIP bundle. */
async function oneStepBundle (dir: string): Promise<Uint8Array> {
  const wf = join(dir, 'one-step')
  await mkdir(join(wf, 'module_inc'), { recursive: true })
  await writeFile(join(wf, 'module_inc', 'function.mjs'), 'export default class { eval (p, d) { return { number: (d.number ?? 0) + 1 } } }\n')
  await writeFile(join(wf, 'workflow.json'), JSON.stringify({
    workflow_id: 'one', name: 'one', version: { version: '1.0.0', releaseTag: 'bench' }, description: '1 step', tags: [], globalSettings: {}, globalParameters: {},
    modules: { inc: { codePath: 'module_inc', settings: {}, parameters: {}, name: 'inc', description: '', tags: [], resource_requirements: { wall_ms: 10_000, mem_mb: 128 } } },
    graph: { inc: [] }
  }))
  return await packBundle(wf)
}

async function env (): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'pl-bench-gw-'))
  const store = await Store.open(join(dir, 'data'))
  const registry = await SchemaRegistry.load()
  const replay = new ReplayStore(store)
  const executor = new Executor({ store, logger: silentLogger(), concurrency: 2 })
  executor.start()
  const keys = new KeyStore(store)
  const { key } = await keys.create({ name: 'bench', scopes: ['read', 'submit'] })
  const hub = new RunEventHub(executor, {}, 1 << 20, silentLogger())
  const ctx = { executor, store, keys, hub, logger: silentLogger(), clock: systemClock, requesters: store.json<RunRequester>('gateway-runs') }
  // the limit is not what is measured: a bucket as large as the run
  const gateway = await buildServer({}, { keys, verifier: new EnvelopeVerifier(registry, replay), replay, limiter: new RateLimiter({ burst: 1e9, perSecond: 1e9 }) }, registry, [{ plugin: gatewayRoutes(ctx) }])
  const bare = Fastify({ logger: false })
  bare.get<{ Params: { id: string } }>('/runs/:id', async (req) => await runView(executor, req.params.id))
  bare.post<{ Params: { id: string }, Body: { bundle: string, input?: Record<string, unknown> } }>('/dsl-graph/:id/deploy', async (req) => {
    const graph = await graphFrom(req.params.id, req.body, { blocks: store.blocks })
    const runId = await executor.submit(graph.dag, req.body.input ?? {}, { modules: graph.bundle?.modules, cleanup: graph.cleanup })
    await executor.wait(runId, { untilWaiting: true })
    return { runId, ...await runView(executor, runId) }
  })
  await gateway.listen({ host: '127.0.0.1', port: 0 })
  await bare.listen({ host: '127.0.0.1', port: 0 })
  const zip = await oneStepBundle(dir)
  const bundle = cidOfBytes(zip, RAW).toString()
  await store.blocks.putBytes(bundle, zip)
  const graph = await graphFrom('seed', { bundle }, { blocks: store.blocks })
  const runId = await executor.submit(graph.dag, { number: 1 }, { modules: graph.bundle?.modules, cleanup: graph.cleanup })
  await executor.wait(runId)
  const port = (f: FastifyInstance): number => (f.server.address() as { port: number }).port
  return {
    store, executor, gateway, bare, key, runId, bundle,
    gatewayUrl: `http://127.0.0.1:${port(gateway)}`,
    bareUrl: `http://127.0.0.1:${port(bare)}`,
    close: async () => {
      await gateway.close()
      await bare.close()
      await executor.stop()
      await store.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** `total` requests from `CLIENTS` concurrent loops; every answer must be 200. */
async function load (total: number, request: () => Promise<Response>): Promise<number> {
  let next = 0
  const client = async (): Promise<void> => {
    while (next < total) {
      next++
      const res = await request()
      if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`)
      await res.arrayBuffer()
    }
  }
  await Promise.all(Array.from({ length: CLIENTS }, client))
  return total
}

function getRunBench (): Bench {
  let e: Env
  const N = 2000
  return {
    name: 'gateway-get-run',
    rounds: 5,
    setup: async () => { e = await env() },
    teardown: async () => { await e.close() },
    baseline: { name: `bare Fastify GET /runs/:id (runView), ${CLIENTS} clients`, run: async () => await load(N, async () => await fetch(`${e.bareUrl}/runs/${e.runId}`)) },
    subject: { name: `gateway GET /runs/:id (key, scope, rate limit, schemas), ${CLIENTS} clients`, run: async () => await load(N, async () => await fetch(`${e.gatewayUrl}/runs/${e.runId}`, { headers: { authorization: `Bearer ${e.key}` } })) }
  }
}

function deployBench (): Bench {
  let e: Env
  const N = 200
  const body = (): string => JSON.stringify({ bundle: e.bundle, input: { number: 3 } })
  return {
    name: 'gateway-deploy',
    rounds: 3,
    setup: async () => { e = await env() },
    teardown: async () => { await e.close() },
    baseline: { name: `bare Fastify deploy (graphFrom + submit + wait), ${CLIENTS} clients`, run: async () => await load(N, async () => await fetch(`${e.bareUrl}/dsl-graph/b/deploy`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body() })) },
    subject: { name: `gateway POST /dsl-graph/:id/deploy (wait: true), ${CLIENTS} clients`, run: async () => await load(N, async () => await fetch(`${e.gatewayUrl}/dsl-graph/g/deploy`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${e.key}` }, body: JSON.stringify({ ...JSON.parse(body()), wait: true }) })) }
  }
}

interface RegistryEnv {
  node: PlNode
  bare: FastifyInstance
  gatewayUrl: string
  bareUrl: string
  key: string
  close: () => Promise<void>
}

/** A real node with the registry and the gateway; `one` registered; a bare Fastify beside it. */
async function registryEnv (): Promise<RegistryEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'pl-bench-reg-'))
  const node = await PlNode.create({
    dataDir: join(dir, 'node'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    controlApi: false,
    gossip: false,
    services: { exec: exec({ resume: false }), registry: registryService(), gateway: gatewayService({ listen: '127.0.0.1:0', rateLimit: { burst: 1e9, perSecond: 1e9 } }) }
  })
  await node.start()
  const reg = node.service<Registry>('registry')
  const gw = node.service<GatewayService>('gateway')
  const { key } = await gw.keys.create({ name: 'bench', scopes: ['read', 'submit', 'publish'] })
  const principal = { name: 'bench', kind: 'api-key' as const, scopes: ['read', 'submit', 'publish'] as Array<'read' | 'submit' | 'publish'> }
  await reg.register({ bundle: await oneStepBundle(dir) }, principal, { mode: 'create' })
  const first = await reg.runs.execute('one', { input: { number: 1 }, wait: true }) as { state?: string }
  if (first.state !== 'succeeded') throw new Error(`the bench workflow did not run: ${JSON.stringify(first)}`)
  const bare = Fastify({ logger: false })
  bare.get<{ Params: { id: string } }>('/workflows/:id', async (req) => await reg.get(req.params.id))
  bare.post<{ Params: { id: string }, Body: { input?: Record<string, unknown>, wait?: boolean } }>('/dsl-executor/:id/execute_dsl', async (req) => await reg.runs.execute(req.params.id, req.body))
  await bare.listen({ host: '127.0.0.1', port: 0 })
  const gatewayUrl = gw.address
  if (gatewayUrl == null) throw new Error('the gateway did not listen')
  return {
    node, bare, key, gatewayUrl,
    bareUrl: `http://127.0.0.1:${(bare.server.address() as { port: number }).port}`,
    close: async () => {
      await bare.close()
      await node.stop()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

function getWorkflowBench (): Bench {
  let e: RegistryEnv
  const N = 2000
  return {
    name: 'gateway-get-workflow',
    rounds: 5,
    setup: async () => { e = await registryEnv() },
    teardown: async () => { await e.close() },
    baseline: { name: `bare Fastify GET /workflows/:id (registry.get), ${CLIENTS} clients`, run: async () => await load(N, async () => await fetch(`${e.bareUrl}/workflows/one`)) },
    subject: { name: `gateway GET /workflows/:id (key, scope, rate limit, strict schemas), ${CLIENTS} clients`, run: async () => await load(N, async () => await fetch(`${e.gatewayUrl}/workflows/one`, { headers: { authorization: `Bearer ${e.key}` } })) }
  }
}

function executeDslBench (): Bench {
  let e: RegistryEnv
  const N = 200
  const body = JSON.stringify({ input: { number: 3 }, wait: true })
  return {
    name: 'gateway-execute-dsl',
    rounds: 3,
    setup: async () => { e = await registryEnv() },
    teardown: async () => { await e.close() },
    baseline: { name: `bare Fastify execute_dsl (registry.runs.execute, wait), ${CLIENTS} clients`, run: async () => await load(N, async () => await fetch(`${e.bareUrl}/dsl-executor/one/execute_dsl`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })) },
    subject: { name: `gateway POST /dsl-executor/:id/execute_dsl (wait: true), ${CLIENTS} clients`, run: async () => await load(N, async () => await fetch(`${e.gatewayUrl}/dsl-executor/one/execute_dsl`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${e.key}` }, body })) }
  }
}

export const benches: Bench[] = [getRunBench(), deployBench(), getWorkflowBench(), executeDslBench()]
