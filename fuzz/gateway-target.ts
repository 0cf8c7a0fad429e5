/**
 * Fuzz target for the gateway's body parsing: mutated bytes go as request
 * bodies (JSON and signed-envelope content types) through the real Fastify
 * server (auth, parsers, route schemas, error handler, handlers over a real
 * executor and LevelDB), in process with `inject`. A finding is any 5xx
 * answer, or an answer that is not the `{error: {name, message}}` shape.
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { Store, ReplayStore } from '../src/store/index.js'
import { SchemaRegistry } from '../src/spec/index.js'
import { EnvelopeVerifier, signEnvelope, createIdentity } from '../src/core/index.js'
import { silentLogger } from '../src/core/logger.js'
import { Executor } from '../src/exec/index.js'
import { KeyStore, RateLimiter, RunEventHub, buildServer, gatewayRoutes, type RunRequester } from '../src/gateway/index.js'
import { ENVELOPE_CONTENT_TYPE } from '../src/gateway/constants.js'
import type { FuzzTarget } from './harness.js'
import { systemClock } from '../src/core/clock.js'

const ROUTES: Array<[string, string]> = [
  ['POST', '/dsl-graph/fuzz/deploy'],
  ['POST', '/dsl-graph/fuzz/estimate'],
  ['POST', '/runs/r1/decide'],
  ['POST', '/blocks'],
  ['POST', '/api-keys']
]

export async function gatewayTarget (): Promise<FuzzTarget> {
  const store = await Store.open(await mkdtemp(join(tmpdir(), 'pl-fuzz-gateway-')))
  const registry = await SchemaRegistry.load()
  const replay = new ReplayStore(store)
  const verifier = new EnvelopeVerifier(registry, replay)
  const executor = new Executor({ store, logger: silentLogger() })
  executor.start()
  const keys = new KeyStore(store)
  const { key } = await keys.create({ name: 'fuzz', scopes: ['admin'] })
  const agent = await createIdentity()
  await keys.registerAgent({ name: 'fuzz-agent', agent: agent.id, scopes: ['admin'] })
  const hub = new RunEventHub(executor, {}, 1 << 20, silentLogger())
  const ctx = { executor, store, keys, hub, logger: silentLogger(), clock: systemClock, requesters: store.json<RunRequester>('gateway-runs') }
  const app: FastifyInstance = await buildServer({ bodyLimit: 64 * 1024 }, { keys, verifier, replay, limiter: new RateLimiter({ burst: 1e9, perSecond: 1e9 }) }, registry, [{ plugin: gatewayRoutes(ctx) }])
  await app.ready()
  const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
  const seeds = [
    enc({ dsl: 'goal: A\nplan:\n  - step: B(x)\n', input: { x: 1 } }),
    enc({ bundle: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', workflow: { name: 'w', modules: {} } }),
    enc({ step: 'a', choice: 'yes' }),
    enc({ doc: { a: [1, 2, { b: null }] } }),
    enc({ name: 'k', scopes: ['read'], agent: agent.id }),
    enc(signEnvelope(agent, registry, 'GatewayRequest.v1', { method: 'POST', path: '/dsl-graph/fuzz/deploy', body: { dsl: 'goal: A\nplan:\n  - step: B()\n' } }, { ttlMs: 24 * 3600_000 }))
  ]
  let n = 0
  return {
    name: 'gateway-body',
    allowed: new Set(),
    seeds: () => seeds,
    run: async (input) => {
      const [method, url] = ROUTES[n % ROUTES.length]
      const envelope = (n++ % 3) === 0
      const res = await app.inject({
        method: method as 'POST',
        url,
        headers: envelope ? { 'content-type': ENVELOPE_CONTENT_TYPE } : { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        payload: Buffer.from(input)
      })
      // estimate needs the negotiation service, which this in-process server does not have: 503 is its typed answer
      if (res.statusCode >= 500 && !(res.statusCode === 503 && res.body.includes('"ServiceUnavailableError"'))) throw new Error(`${method} ${url} answered ${res.statusCode}: ${res.body.slice(0, 300)}`)
      if (res.statusCode >= 400) {
        const body = JSON.parse(res.body) as { error?: { name?: unknown, message?: unknown } }
        if (typeof body.error?.name !== 'string' || typeof body.error.message !== 'string') throw new Error(`${method} ${url} answered ${res.statusCode} without a typed error: ${res.body.slice(0, 300)}`)
      }
    }
  }
}
