/**
 * The services a `pl-node` daemon runs, in start order, each reading its own
 * section of `config.services`:
 *
 *   discovery    capability catalog, gossip ads, DHT provider records, /pl/fetch
 *   receipts     receipt store; signs receipts of steps run here
 *   negotiation  contract net: provider side (/pl/negotiate, /pl/exec) and the
 *                requester's remote step runner
 *   exec         the executor: runs DAGs, journals runs, resumes them at start
 *   composite    runs capabilities implemented by a plan (impl: {plan}) as inner runs
 *   offers       publishes the capabilities listed in `services.capabilities`
 *   a2a          the A2A bridge: agent card + JSON-RPC on the gateway, A2A agents as providers
 *   mcp          MCP bridge: /mcp tools on the gateway, MCP servers' tools as capabilities
 *   gateway      API keys (control routes); the agent HTTP/WS gateway when `api.listen` is set
 *   nats         (only with a `services.nats` section) the NATS binding, started first so
 *                that the first ads and calls already go out on NATS too
 *
 * Negotiation starts before exec so that runs resumed at start can negotiate;
 * the two meet through lazy delegates (the executor asks "who runs this
 * step?" — its local modules first, then the remote runner; the provider side
 * runs awarded steps in the executor's module pool).
 */
import { defineServices, type PlService, type ServiceComponents, type ServiceFactories } from './node.js'
import { type DaemonConfig, ConfigError } from './config/index.js'
import { discovery, discoveryInitFromConfig, type Discovery } from './discovery/index.js'
import { receipts, type ReceiptsService } from './receipts/index.js'
import { negotiation, type Negotiation, type NegotiationInit, type NegotiationServices, defaultBidStrategy } from './negotiation/index.js'
import { exec, NoRunnerError, type ExecService, type ExecServiceInit, type StepRunner } from './exec/index.js'
import { offers } from './offers.js'
import { composite } from './composite/index.js'
import { registry, type RegistryInit } from './registry/index.js'
import { gateway, gatewayInitFromConfig } from './gateway/index.js'
import { checkPrefix } from './bridges/nats/subjects.js'
import { NATS_CONFIG_KEYS } from './bridges/nats/constants.js'
import type { NatsBridge, NatsInit } from './bridges/nats/index.js'
import { a2a, a2aInitFromConfig } from './bridges/a2a/index.js'
import { MCP_CONFIG_KEYS } from './bridges/mcp/config.js'
import { mcpLazy } from './bridges/mcp/lazy.js'
import type { McpBridgeInit } from './bridges/mcp/index.js'
import { trust, type TrustInit } from './trust/index.js'
import { attached, attachedBidStrategy, type AttachedService } from './bridges/attached/index.js'

/** Config keys an operator may set per section (the rest of each Init is wiring, not configuration). */
const EXEC_KEYS = ['addons', 'concurrency', 'defaults', 'retry', 'poolInit', 'maxEventsPerRun', 'maxOutputBytes', 'resume']
const NEGOTIATION_KEYS = [
  'replyWindowMs', 'dialTimeoutMs', 'maxAttempts', 'maxRounds', 'cfpConcurrency', 'maxCandidates', 'findTimeoutMs', 'walkEveryMs', 'inlineInputBytes',
  'execGraceMs', 'stepDeadlineMs', 'costAttrs', 'maxRemoteSteps', 'maxActive', 'bidTtlMs', 'awardHoldMs', 'sweepMs', 'maxOutputBytes',
  'maxOpenBids', 'maxOpenBidsPerPeer', 'policies', 'provider', 'openCalls', 'topicSyncMs', 'maxDepth', 'quarantineMs', 'quarantineMaxMs', 'maxQuarantined'
]
const REGISTRY_KEYS = ['maxBundleBytes', 'maxUnpackedBytes', 'cacheTtlMs', 'findTimeoutMs', 'maxProviders', 'reprovideMs']
const TRUST_KEYS = ['issuers', 'aliases', 'policies', 'gossip', 'policyFindTimeoutMs', 'syncRevocations', 'syncIntervalMs']
const SECTIONS = ['discovery', 'exec', 'negotiation', 'capabilities', 'registry', 'nats', 'a2a', 'mcp', 'trust']

/** A `services.<name>` section, checked: a mapping of known keys (a typo is an error, not a silent default). */
function section<T> (services: Record<string, unknown>, name: string, known: string[]): T {
  const s = services[name]
  if (s == null) return {} as T
  if (typeof s !== 'object' || Array.isArray(s)) throw new ConfigError(`services.${name} must be a mapping`)
  for (const key of Object.keys(s)) {
    if (!known.includes(key)) throw new ConfigError(`services.${name}: unknown key "${key}" (known: ${known.join(', ')})`)
  }
  return s as T
}

/**
 * The requester's remote runner, resolved when a step asks (negotiation starts before exec runs anything).
 * It says what the runner says about its slots and process: a remote step bounds its own concurrency
 * (RemoteRunner.ownSlots) and must not hold one of the executor's `concurrency` slots (sized for local
 * CPU work) while it waits on the network and on the provider.
 */
export function remoteDelegate (services: { negotiation?: Pick<Negotiation, 'runner'> }): StepRunner {
  const runner = (): StepRunner | undefined => services.negotiation?.runner
  return {
    name: 'remote',
    get ownSlots () { return runner()?.ownSlots === true },
    outOfProcess: (step, query) => runner()?.outOfProcess?.(step, query) === true,
    canRun: async (step, query) => await (runner()?.canRun(step, query) ?? false),
    run: async (step, inputData, ctx) => {
      const r = runner()
      if (r == null) throw new NoRunnerError(`step ${step.id}: the negotiation service is not running`, { step: step.id })
      return await r.run(step, inputData, ctx)
    }
  }
}

/** The NATS binding, its client loaded at start: a daemon without `services.nats` never loads it. */
function natsLazy (init: NatsInit): (c: ServiceComponents<object>) => PlService {
  return (c) => {
    let bridge: NatsBridge | undefined
    return {
      start: async () => {
        const { NatsBridge } = await import('./bridges/nats/index.js')
        bridge ??= new NatsBridge(c, init)
        await bridge.start()
      },
      stop: async () => { await bridge?.stop() },
      status: () => bridge?.status() ?? { connected: false }
    }
  }
}

/** What the daemon's negotiation uses: its own services, the executor's pool (provider side) and attached processes (bids). */
type DaemonNegotiationServices = NegotiationServices & { exec: ExecService, attached?: AttachedService }
/** What the daemon's executor uses: local capabilities from discovery, receipts for local steps, negotiation for remote ones. */
interface DaemonExecServices { discovery: Discovery, receipts: ReceiptsService, negotiation?: Negotiation }

/**
 * The daemon's services, in start order. The map is typed: each factory's
 * components name the services it uses, and a misspelt or missing one does
 * not compile (docs/ARCHITECTURE.md "Wiring").
 */
export function daemonServices (config: DaemonConfig) {
  const s = config.services ?? {}
  for (const name of Object.keys(s)) {
    if (!SECTIONS.includes(name)) throw new ConfigError(`services: unknown section "${name}" (known: ${SECTIONS.join(', ')})`)
  }
  const negotiationInit = section<NegotiationInit>(s, 'negotiation', NEGOTIATION_KEYS)
  const execInit = section<ExecServiceInit>(s, 'exec', EXEC_KEYS)
  let nats: { nats: ReturnType<typeof natsLazy> } | undefined
  if (s.nats != null) {
    const natsInit = section<NatsInit>(s, 'nats', NATS_CONFIG_KEYS)
    if (typeof natsInit.url !== 'string' && !Array.isArray(natsInit.url)) throw new ConfigError('services.nats.url is required (e.g. nats://127.0.0.1:4222)')
    if (natsInit.prefix != null) checkPrefix(natsInit.prefix)
    nats = { nats: natsLazy(natsInit) }
  }
  return defineServices({
    // first, so that the first ads and calls already go out on NATS too
    ...nats,
    discovery: discovery(discoveryInitFromConfig(s.discovery, { gossip: config.gossip })),
    receipts: receipts(),
    // attestations, trusted issuers, revocations, policies by CID: negotiation judges bids with it
    trust: trust({ gossip: config.gossip, ...section<TrustInit>(s, 'trust', TRUST_KEYS) }),
    negotiation: (c: ServiceComponents<DaemonNegotiationServices>) => negotiation({
      openCalls: config.gossip,
      ...negotiationInit,
      runStep: async (module, call, options) => await c.services.exec.executor.pool.runModule(module, call, options),
      // an external implementation (A2A, MCP, attached process) is bid on only while its bridge can serve it
      canRun: (module) => module.kind !== 'external' || c.services.exec.executor.pool.external.ready(module),
      // attached processes that answer bid questions are asked; everything else gets the default strategy
      strategy: attachedBidStrategy(() => c.services.attached, defaultBidStrategy())
    })(c),
    exec: (c: ServiceComponents<DaemonExecServices>) => exec({
      ...execInit,
      localCapabilities: (name, version) => c.services.discovery.localCapability(name, version),
      wrapLocal: (local) => c.services.receipts.wrap(local),
      runners: [remoteDelegate(c.services)]
    })(c),
    // capabilities implemented by a plan (impl: {plan}): the `plan` runner in the executor's pool, before offers publish them
    composite: composite({ maxDepth: negotiationInit.maxDepth }),
    offers: offers(s.capabilities),
    // workflows as data in the mesh; the gateway mounts its routes (src/registry/routes.ts)
    registry: registry(section<RegistryInit>(s, 'registry', REGISTRY_KEYS)),
    // before the gateway: it mounts the bridge's routes when it listens
    a2a: a2a(a2aInitFromConfig(s.a2a)),
    // MCP bridge: the `mcp` ExternalRunner, POST /mcp/publish on the control API, /mcp on the gateway (started before it); its SDK loads when first needed
    mcp: mcpLazy(section<McpBridgeInit>(s, 'mcp', MCP_CONFIG_KEYS)),
    // processes attached over the gateway's /attach WebSocket serve capabilities (src/bridges/attached)
    attached: attached(),
    gateway: gateway(gatewayInitFromConfig(config.api))
  })
}

/** The service map of a daemon (`PlNode<DaemonServices>`): `node.components.services.gateway` is a GatewayService. */
export type DaemonServices = ReturnType<typeof daemonServices> extends ServiceFactories<infer S> ? S : never
