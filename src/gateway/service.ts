/**
 * The gateway as a pl-node service. It always keeps the API key store and
 * adds the key routes to the local control API (so `pl api-key` works on a
 * running node); the HTTP server itself starts only when `listen` is set
 * (`--api-listen HOST:PORT`, `PL_API_LISTEN`, `api.listen`).
 */
import type { FastifyInstance } from 'fastify'
import type { PlComponents, PlService, ServiceComponents, ServiceMap } from '../node.js'
import type { ExecService } from '../exec/index.js'
import type { Negotiation } from '../negotiation/index.js'
import type { ReceiptsService } from '../receipts/index.js'
import type { ControlApi } from '../api/index.js'
import type { GatewayPlugin, RegisteredWorkflowSource } from './types.js'
import { registryRoutes, type Registry } from '../registry/index.js'
import { join } from 'node:path'
import { KeyStore, parseScopes } from './keys.js'
import { LoginTokens } from './login.js'
import { consoleRoutes } from './console.js'
import { capabilityRoutes } from './capabilities.js'
import { nodeRoutes } from './node-info.js'
import { packageRoot } from '../core/paths.js'
import type { Clock } from '../core/clock.js'
import type { Discovery } from '../discovery/index.js'
import { RateLimiter } from './rate-limit.js'
import { RunEventHub } from './events.js'
import { buildServer } from './server.js'
import { gatewayRoutes } from './routes.js'
import { streamRoutes } from './stream.js'
import type { GatewayContext, RunRequester } from './context.js'
import { GatewayConfigError, GatewayNotListeningError, ServiceUnavailableError } from './errors.js'
import type { TrustService } from '../trust/index.js'
import { DEFAULT_AUTH_FAILURE_BURST, DEFAULT_AUTH_FAILURE_PER_SECOND, DEFAULT_UI_SESSION_MS, DEFAULT_BODY_LIMIT, DEFAULT_MAX_SOCKET_BUFFER, DEFAULT_RATE_BURST, DEFAULT_RATE_PER_SECOND } from './constants.js'

export interface GatewayInit {
  /** `HOST:PORT` (`[::1]:8080` for IPv6); unset: no HTTP server (keys are still managed) */
  listen?: string
  /** @default DEFAULT_BODY_LIMIT (4 MiB) */
  bodyLimit?: number
  /** token bucket per caller @default { burst: 60, perSecond: 20 } */
  rateLimit?: { burst?: number, perSecond?: number }
  /** failed authentications per client address before it is refused @default { burst: 20, perSecond: 0.2 } */
  authFailures?: { burst?: number, perSecond?: number }
  /** exact `Origin` values browsers may call from (turns CORS on for them) @default none */
  allowedOrigins?: string[]
  /** exact `Host` header values accepted @default any */
  allowedHosts?: string[]
  /** deepest nesting of a JSON request body, any route (400 RequestTooDeepError beyond) @default DEFAULT_MAX_JSON_DEPTH (128) */
  maxJsonDepth?: number
  /** bytes queued per WebSocket/SSE client before it is dropped @default DEFAULT_MAX_SOCKET_BUFFER (1 MiB) */
  maxSocketBuffer?: number
  /** estimate: how long providers have to answer @default DEFAULT_ESTIMATE_REPLY_MS */
  estimateReplyMs?: number
  /** the clock of the rate limiters, API key and login link expiry, uptime and requester records @default the node's clock (components.clock) */
  clock?: Clock
  /** registered workflows @default the `registry` service, when one runs */
  workflows?: RegisteredWorkflowSource
  /** serve the web console at /ui/ @default true */
  console?: boolean
  /** the built console (index.html + assets/) @default <package>/dist/ui */
  consoleDir?: string
  /** lifetime of a console login link (`pl ui`) @default DEFAULT_LOGIN_TOKEN_MS (60 s) */
  loginTokenMs?: number
  /** lifetime of the session key a login link is exchanged for @default DEFAULT_UI_SESSION_MS (8 h) */
  sessionTtlMs?: number
  /** `POST /capabilities` takes Python module uploads (they run without a filesystem sandbox) @default false */
  publishPython?: boolean
  /** external implementations `POST /capabilities` may bind: kind → allowed targets (exact, or a prefix ending in `/`) @default none */
  publishExternal?: Record<string, string[]>
  /** more route plugins (the registry's are added by themselves when a `registry` service runs) */
  plugins?: Array<{ plugin: GatewayPlugin, opts?: Record<string, unknown> }>
}

/** Config keys of the `api` section. */
export const GATEWAY_CONFIG_KEYS = ['listen', 'bodyLimit', 'rateLimit', 'authFailures', 'allowedOrigins', 'allowedHosts', 'maxJsonDepth', 'maxSocketBuffer', 'estimateReplyMs', 'console', 'sessionTtlMs', 'publishPython', 'publishExternal']

/** Checks the `api` config section (the daemon config's gateway settings). */
export function gatewayInitFromConfig (section: unknown): GatewayInit {
  if (section == null) return {}
  if (typeof section !== 'object' || Array.isArray(section)) throw new GatewayConfigError('api must be a mapping')
  const s = section as Record<string, unknown>
  for (const k of Object.keys(s)) if (!GATEWAY_CONFIG_KEYS.includes(k)) throw new GatewayConfigError(`api: unknown key "${k}" (known: ${GATEWAY_CONFIG_KEYS.join(', ')})`)
  if (s.listen != null) parseListen(s.listen)
  if (s.console != null && typeof s.console !== 'boolean') throw new GatewayConfigError('api.console must be true or false')
  if (s.publishPython != null && typeof s.publishPython !== 'boolean') throw new GatewayConfigError('api.publishPython must be true or false')
  if (s.publishExternal != null) {
    const e = s.publishExternal
    if (typeof e !== 'object' || Array.isArray(e) || !Object.values(e).every(v => Array.isArray(v) && v.every(t => typeof t === 'string' && t !== ''))) {
      throw new GatewayConfigError('api.publishExternal must map a kind to a list of allowed targets, e.g. {a2a: [https://agents.example/]}')
    }
  }
  for (const k of ['bodyLimit', 'maxJsonDepth', 'maxSocketBuffer', 'estimateReplyMs', 'sessionTtlMs']) {
    if (s[k] != null && !(typeof s[k] === 'number' && Number.isInteger(s[k]) && s[k] > 0)) throw new GatewayConfigError(`api.${k} must be a positive integer`)
  }
  for (const k of ['allowedOrigins', 'allowedHosts']) {
    if (s[k] != null && !(Array.isArray(s[k]) && (s[k] as unknown[]).every(x => typeof x === 'string'))) throw new GatewayConfigError(`api.${k} must be a list of strings`)
  }
  for (const k of ['rateLimit', 'authFailures']) {
    const r = s[k] as Record<string, unknown> | undefined
    if (r == null) continue
    if (typeof r !== 'object' || Object.keys(r).some(k => !['burst', 'perSecond'].includes(k)) || [r.burst, r.perSecond].some(v => v != null && !(typeof v === 'number' && v > 0))) {
      throw new GatewayConfigError(`api.${k} must be {burst?: number > 0, perSecond?: number > 0}`)
    }
  }
  return s
}

/** `HOST:PORT` → {host, port}. */
export function parseListen (value: unknown): { host: string, port: number } {
  const m = typeof value === 'string' ? /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim()) : null
  const port = m != null ? Number(m[3]) : NaN
  if (m == null || port > 65535) throw new GatewayConfigError(`gateway listen address must be HOST:PORT (e.g. 127.0.0.1:8080, 0.0.0.0:8080, [::1]:8080), got ${JSON.stringify(value)}`)
  return { host: m[1] ?? m[2], port }
}

/** The services the gateway serves, each optional (without exec it does not listen). */
export interface GatewayServices {
  exec?: ExecService
  negotiation?: Negotiation
  receipts?: ReceiptsService
  discovery?: Discovery
  registry?: Registry
  trust?: TrustService
}

/** The gateway also mounts the routes of every service that offers some (`gatewayPlugin()`, `gatewayPlugins()`): it sees the whole map. */
export type GatewayComponents = Pick<PlComponents, 'dataDir' | 'store' | 'logger' | 'verifier' | 'replay' | 'identity' | 'registry' | 'api' | 'rpc' | 'libp2p' | 'sign' | 'metrics' | 'clock'> & { services: GatewayServices & ServiceMap }

export class GatewayService implements PlService {
  readonly keys: KeyStore
  /** one-time console login tokens (`pl ui`) */
  readonly loginTokens: LoginTokens
  private readonly clock: Clock
  private readonly startedAt: number
  private app?: FastifyInstance
  private hub?: RunEventHub
  private url?: string
  private started = false

  constructor (private readonly c: GatewayComponents, private readonly init: GatewayInit = {}) {
    this.clock = init.clock ?? c.clock
    this.startedAt = this.clock.now()
    this.keys = new KeyStore(c.store, this.clock)
    this.loginTokens = new LoginTokens({ ttlMs: init.loginTokenMs, clock: this.clock })
  }

  /** `http://host:port` once listening. */
  get address (): string | undefined {
    return this.url
  }

  get server (): FastifyInstance | undefined {
    return this.app
  }

  /** Live-stream clients dropped for not reading fast enough (buffer limit reached). */
  get slowConsumersDropped (): number {
    return this.hub?.droppedSlow ?? 0
  }

  /** Live-stream clients (WebSocket and SSE subscriptions) now. */
  get streamSubscribers (): number {
    return this.hub?.subscribers ?? 0
  }

  /** Every route the server registered (method, URL pattern), the registry's included. */
  get routes (): Array<{ method: string, url: string }> {
    return (this.app as unknown as { plRoutes?: Array<{ method: string, url: string }> } | undefined)?.plRoutes ?? []
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    try {
      if (this.c.api != null) {
        registerKeyRoutes(this.c.api, this.keys)
        registerLoginRoute(this.c.api, this.loginTokens, () => this.url)
      }
      if (this.init.listen != null) await this.listen(parseListen(this.init.listen))
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  private async listen ({ host, port }: { host: string, port: number }): Promise<void> {
    const c = this.c
    const { exec, negotiation, receipts, discovery, registry } = c.services
    const executor = exec?.executor
    if (executor == null) throw new ServiceUnavailableError('the gateway needs the exec service')
    const workflows: RegisteredWorkflowSource | undefined = this.init.workflows ?? registry
    const log = c.logger.child({ component: 'gateway' })
    const hub = new RunEventHub(executor, {
      explanation: negotiation != null ? async (run, key) => await negotiation.explanationStore.find(run, key) : undefined,
      receipt: async (run, key) => (await executor.get(run)).steps.find(s => s.key === key)?.receipt,
      receiptsRoot: receipts != null
        ? async (run) => {
          const list = await receipts.store.forRun(run)
          if (list.length === 0) return undefined
          const doc = await receipts.export(run)
          return { root: doc.root, count: doc.receipts.length }
        }
        : undefined
    }, this.init.maxSocketBuffer ?? DEFAULT_MAX_SOCKET_BUFFER, log)
    this.hub = hub
    const ctx: GatewayContext = {
      executor,
      store: c.store,
      keys: this.keys,
      hub,
      logger: log,
      clock: this.clock,
      requesters: c.store.json<RunRequester>('gateway-runs'),
      receipts,
      explanations: negotiation != null ? async (run) => await negotiation.explanations(run) : undefined,
      workflows,
      estimate: negotiation != null
        ? {
            self: c.identity.id,
            rpc: c.rpc,
            verifier: c.verifier,
            libp2p: c.libp2p,
            logger: log,
            sign: c.sign,
            blocks: c.store.blocks,
            registry: c.registry,
            finder: discovery,
            localCapability: discovery != null ? (n, v) => discovery.localCapability(n, v) : undefined,
            replyMs: this.init.estimateReplyMs,
            clock: this.clock,
            // bids are judged and policies resolved by the same trust service a run uses
            trust: () => c.services.trust
          }
        : undefined
    }
    const plugins: Array<{ plugin: GatewayPlugin, opts?: Record<string, unknown> }> = [
      { plugin: gatewayRoutes(ctx) },
      { plugin: streamRoutes(ctx) },
      { plugin: nodeRoutes({ peerId: c.identity.id, libp2p: c.libp2p, metrics: c.metrics, startedAt: this.startedAt, now: this.clock.now }) },
      {
        plugin: capabilityRoutes(() => c.services.discovery, {
          publish: {
            dataDir: c.dataDir,
            blocks: c.store.blocks,
            registry: c.registry,
            self: c.identity.id,
            python: this.init.publishPython === true,
            external: this.init.publishExternal,
            externalKinds: () => executor.pool.external.kinds()
          },
          reject: (reason) => { c.metrics.reject('gateway', reason) }
        })
      },
      ...(this.init.console !== false
        ? [{
            plugin: consoleRoutes({
              dir: this.init.consoleDir ?? join(packageRoot(), 'dist', 'ui'),
              keys: this.keys,
              tokens: this.loginTokens,
              sessionTtlMs: this.init.sessionTtlMs ?? DEFAULT_UI_SESSION_MS,
              reject: (reason) => { c.metrics.reject('gateway', reason) }
            })
          }]
        : []),
      ...registryPlugins(registry),
      ...servicePlugins(c.services),
      ...(this.init.plugins ?? [])
    ]
    const limiter = new RateLimiter({ burst: this.init.rateLimit?.burst ?? DEFAULT_RATE_BURST, perSecond: this.init.rateLimit?.perSecond ?? DEFAULT_RATE_PER_SECOND, clock: this.clock })
    const failures = new RateLimiter({ burst: this.init.authFailures?.burst ?? DEFAULT_AUTH_FAILURE_BURST, perSecond: this.init.authFailures?.perSecond ?? DEFAULT_AUTH_FAILURE_PER_SECOND, clock: this.clock })
    const app = await buildServer({ bodyLimit: this.init.bodyLimit ?? DEFAULT_BODY_LIMIT, allowedOrigins: this.init.allowedOrigins, allowedHosts: this.init.allowedHosts, maxJsonDepth: this.init.maxJsonDepth, onReject: (reason) => { c.metrics.reject('gateway', reason) }, logger: log }, { keys: this.keys, verifier: c.verifier, replay: c.replay, limiter, failures }, c.registry, plugins)
    this.app = app
    hub.start()
    await app.listen({ host, port })
    const addr = app.server.address()
    if (addr == null || typeof addr === 'string') throw new ServiceUnavailableError('the gateway did not bind a TCP port')
    this.url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`
    log.info({ url: this.url }, 'gateway listening')
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.hub?.stop()
    const app = this.app
    this.app = undefined
    this.url = undefined
    if (app != null) {
      // open WebSockets keep the server from closing: say goodbye to each first
      for (const client of (app as unknown as { websocketServer?: { clients: Set<{ terminate: () => void }> } }).websocketServer?.clients ?? []) client.terminate()
      await app.close()
    }
  }
}

/** The registry's routes (src/registry/routes.ts), when a `registry` service runs. */
function registryPlugins (registry: Registry | undefined): Array<{ plugin: GatewayPlugin }> {
  if (registry == null) return []
  return [{ plugin: registryRoutes({ registry }) }]
}

/**
 * Routes of services that offer some (the bridges), mounted with the gateway's auth and limits:
 * `gatewayPlugin()` (one plugin: the A2A bridge) or `gatewayPlugins()` (several: the MCP bridge).
 */
function servicePlugins (services: ServiceMap): Array<{ plugin: GatewayPlugin }> {
  return Object.values(services).flatMap((s) => {
    const one = (s as { gatewayPlugin?: () => GatewayPlugin } | undefined)?.gatewayPlugin
    const many = (s as { gatewayPlugins?: () => Array<{ plugin: GatewayPlugin }> } | undefined)?.gatewayPlugins
    return [...(typeof one === 'function' ? [{ plugin: one.call(s) }] : []), ...(typeof many === 'function' ? many.call(s) : [])]
  })
}

/** Control API routes for `pl api-key` on a running node. */
function registerKeyRoutes (api: ControlApi, keys: KeyStore): void {
  api.errorStatus(['InvalidApiKeyError'], 400)
  api.errorStatus(['ApiKeyExistsError'], 409)
  api.route('GET', '/api-keys', async () => await keys.list())
  api.route('POST', '/api-keys', async ({ body }) => {
    const b = (body ?? {}) as { name?: unknown, scopes?: unknown, agent?: unknown }
    if (b.agent != null) return await keys.registerAgent({ name: String(b.name ?? ''), agent: String(b.agent), scopes: b.scopes })
    return await keys.create({ name: typeof b.name === 'string' ? b.name : '', scopes: b.scopes })
  })
  api.route('DELETE', '/api-keys/:name', async ({ params }) => await keys.revoke(params.name))
}

/** Control API route for `pl ui`: a one-time console login link, scoped as asked (default: admin, the operator's own power). */
function registerLoginRoute (api: ControlApi, tokens: LoginTokens, url: () => string | undefined): void {
  api.errorStatus(['GatewayNotListeningError'], 409)
  api.route('POST', '/ui/login-tokens', async ({ body }) => {
    const base = url()
    if (base == null) throw new GatewayNotListeningError('this node serves no gateway, so no console: start it with --api-listen HOST:PORT (or api.listen in its config)')
    const b = (body ?? {}) as { scopes?: unknown }
    const scopes = parseScopes(b.scopes ?? ['admin'])
    const { token, expires } = tokens.issue(scopes)
    // the token rides in the fragment: browsers never send it to the server or in a Referer;
    // a gateway on every interface is opened on loopback (the operator runs `pl ui` on this machine)
    const local = base.replace('//0.0.0.0:', '//127.0.0.1:').replace('//[::]:', '//[::1]:')
    return { url: `${local}/ui/#login=${token}`, expires, scopes }
  })
}

/** Service factory: `services: { gateway: gateway({ listen: '127.0.0.1:8080' }) }`. */
export function gateway (init: GatewayInit = {}) {
  return (components: ServiceComponents<GatewayServices>): GatewayService => new GatewayService(components, init)
}
