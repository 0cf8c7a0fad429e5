/**
 * Gateway benchmarks under 200 concurrent HTTP clients (keep-alive, one
 * process): the gateway's `GET /runs/:id` and `POST /dsl-graph/:id/deploy`
 * (a 1-step local workflow from a stored bundle, `wait: true`) against a
 * bare Fastify route doing the same service calls (runView; graphFrom +
 * submit + wait) without auth, rate limit, schemas or the error handler.
 * The ratio is the gateway's cost; the registry-based `GET /workflows/:id`
 * and `execute_dsl` figures come once the registry plugin is merged.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { Store } from '../src/store/index.js'
import { ReplayStore } from '../src/store/replay.js'
import { SchemaRegistry } from '../src/spec/registry.js'
import { EnvelopeVerifier } from '../src/core/envelope.js'
import { silentLogger } from '../src/core/logger.js'
import { cidOfBytes, RAW } from '../src/core/encoding.js'
import { Executor } from '../src/exec/executor.js'
import { runView } from '../src/exec/view.js'
import { packBundle } from '../src/workflow/bundle.js'
import { KeyStore, RateLimiter, RunEventHub } from '../src/gateway/index.js'
import { buildServer } from '../src/gateway/server.js'
import { gatewayRoutes } from '../src/gateway/routes.js'
import { graphFrom } from '../src/gateway/graph.js'
import type { RunRequester } from '../src/gateway/context.js'
import type { Bench } from './harness.js'

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
  const ctx = { executor, store, keys, hub, logger: silentLogger(), requesters: store.json<RunRequester>('gateway-runs') }
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
  const wf = join(dir, 'one-step')
  await mkdir(join(wf, 'module_inc'), { recursive: true })
  await writeFile(join(wf, 'module_inc', 'function.mjs'), 'export default class { eval (p, d) { return { number: (d.number ?? 0) + 1 } } }\n')
  await writeFile(join(wf, 'workflow.json'), JSON.stringify({
    workflow_id: 'one', name: 'one', version: { version: '1.0.0', releaseTag: 'bench' }, description: '1 step', tags: [], globalSettings: {}, globalParameters: {},
    modules: { inc: { codePath: 'module_inc', settings: {}, parameters: {}, name: 'inc', description: '', tags: [], resource_requirements: { wall_ms: 10_000, mem_mb: 128 } } },
    graph: { inc: [] }
  }))
  const zip = await packBundle(wf)
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

export const benches: Bench[] = [getRunBench(), deployBench()]
