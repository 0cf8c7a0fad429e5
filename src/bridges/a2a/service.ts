/**
 * The A2A bridge as a pl-node service. Inbound, it mounts the agent card and
 * the JSON-RPC endpoint on the gateway (`gatewayPlugin()`, picked up by the
 * gateway when it listens); outbound, it registers the `a2a` ExternalRunner
 * in the executor's module pool and publishes the agents configured in
 * `services.a2a.agents`.
 */
import { DefaultRequestHandler } from '@a2a-js/sdk/server'
import type { PlComponents, PlService, ServiceComponents } from '../../node.js'
import type { ExecService } from '../../exec/index.js'
import type { Discovery } from '../../discovery/index.js'
import type { CapabilityDescriptor } from '../../discovery/types.js'
import type { ReceiptsService } from '../../receipts/index.js'
import type { GatewayPlugin } from '../../gateway/types.js'
import type { RunRequester } from '../../gateway/index.js'
import type { Logger } from '../../core/logger.js'
import { PlAgentExecutor } from './agent.js'
import { BoundedTaskStore } from './task-store.js'
import { buildCard } from './card.js'
import { a2aRoutes } from './routes.js'
import { A2aRunner } from './runner.js'
import { agentCapability, checkAgentOffer, type A2aAgentOffer } from './publish.js'
import { A2aConfigError } from './errors.js'
import { DEFAULT_MAX_PART_BYTES, DEFAULT_MAX_SKILLS, DEFAULT_MAX_TASKS } from './constants.js'

export interface A2aInit {
  /** which capabilities the card lists as skills: 'all' (own + catalog), 'local' (own), or a list of names @default 'all' */
  skills?: 'all' | 'local' | string[]
  /** capability a text part goes to (its input is {text}) @default none: text parts are refused */
  defaultCapability?: string
  /** agent card name @default 'pl-node <peer id prefix>' */
  name?: string
  /** agent card description */
  description?: string
  /** @default DEFAULT_MAX_PART_BYTES (256 KiB) */
  maxPartBytes?: number
  /** @default DEFAULT_MAX_SKILLS (200) */
  maxSkills?: number
  /** @default DEFAULT_MAX_TASKS (10000) */
  maxTasks?: number
  /** remote agents to publish as capabilities at start (outbound) */
  agents?: A2aAgentOffer[]
  /** outbound: bearer tokens by agent origin (`http://host:port`) */
  tokens?: Record<string, string>
}

export const A2A_CONFIG_KEYS = ['skills', 'defaultCapability', 'name', 'description', 'maxPartBytes', 'maxSkills', 'maxTasks', 'agents', 'tokens']

/** Checks the `services.a2a` config section. */
export function a2aInitFromConfig (section: unknown): A2aInit {
  if (section == null) return {}
  if (typeof section !== 'object' || Array.isArray(section)) throw new A2aConfigError('services.a2a must be a mapping')
  const s = section as Record<string, unknown>
  for (const k of Object.keys(s)) if (!A2A_CONFIG_KEYS.includes(k)) throw new A2aConfigError(`services.a2a: unknown key "${k}" (known: ${A2A_CONFIG_KEYS.join(', ')})`)
  if (s.skills != null && s.skills !== 'all' && s.skills !== 'local' && !(Array.isArray(s.skills) && s.skills.every(x => typeof x === 'string'))) throw new A2aConfigError('services.a2a.skills must be "all", "local" or a list of capability names')
  for (const k of ['defaultCapability', 'name', 'description']) if (s[k] != null && typeof s[k] !== 'string') throw new A2aConfigError(`services.a2a.${k} must be a string`)
  for (const k of ['maxPartBytes', 'maxSkills', 'maxTasks']) if (s[k] != null && !(Number.isInteger(s[k]) && (s[k] as number) > 0)) throw new A2aConfigError(`services.a2a.${k} must be a positive integer`)
  if (s.agents != null && !Array.isArray(s.agents)) throw new A2aConfigError('services.a2a.agents must be a list')
  const agents = (s.agents as unknown[] | undefined)?.map((a, i) => checkAgentOffer(a, i))
  if (s.tokens != null && (typeof s.tokens !== 'object' || Array.isArray(s.tokens) || Object.values(s.tokens).some(v => typeof v !== 'string'))) throw new A2aConfigError('services.a2a.tokens must map agent origins to bearer tokens')
  return { ...s, ...(agents != null ? { agents } : {}) }
}

/** The services the A2A bridge uses: the executor runs tasks; receipts and discovery (the card, published agents) are optional. */
export interface A2aServices {
  exec: ExecService
  receipts?: ReceiptsService
  discovery?: Discovery
}

export type A2aComponents = Pick<PlComponents, 'logger' | 'metrics' | 'store' | 'identity' | 'clock'> & { services: A2aServices }

export class A2aBridge implements PlService {
  readonly runner: A2aRunner
  private agent?: PlAgentExecutor
  private handler?: DefaultRequestHandler
  private shutdown = new AbortController()
  private unregister?: () => void
  private readonly log: Logger
  private started = false

  constructor (private readonly c: A2aComponents, private readonly init: A2aInit = {}) {
    this.log = c.logger.child({ component: 'a2a' })
    this.runner = new A2aRunner({ logger: this.log, tokens: init.tokens })
  }

  /** Tasks the inbound bridge follows now. */
  get tasks (): number {
    return this.agent?.tasks ?? 0
  }

  /** The run behind an A2A task (inbound). */
  runOf (taskId: string): string | undefined {
    return this.agent?.runOf(taskId)
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.shutdown = new AbortController()
    const { exec, receipts } = this.c.services
    this.unregister = exec.executor.pool.external.register(this.runner)
    const requesters = this.c.store.json<RunRequester>('gateway-runs')
    this.agent = new PlAgentExecutor({
      executor: exec.executor,
      logger: this.log,
      receipts: receipts != null ? async (run) => (await receipts.store.forRun(run)).length > 0 ? await receipts.export(run) : undefined : undefined,
      requester: async (run, principal) => {
        const [kind, ...rest] = principal.split(':')
        await requesters.put(run, { run, principal: rest.join(':'), kind: kind as RunRequester['kind'], at: this.c.clock.now() })
      },
      maxTasks: this.init.maxTasks ?? DEFAULT_MAX_TASKS,
      shutdown: this.shutdown.signal
    })
    this.handler = new DefaultRequestHandler(this.card(''), new BoundedTaskStore(this.init.maxTasks ?? DEFAULT_MAX_TASKS), this.agent)
    for (const offer of this.init.agents ?? []) await this.publishAgent(offer)
  }

  /** Publishes a remote agent's skill as a capability of this node (outbound). */
  async publishAgent (offer: A2aAgentOffer): Promise<{ cid: string, descriptor: CapabilityDescriptor } | undefined> {
    const discovery = this.c.services.discovery
    if (discovery == null) throw new A2aConfigError('publishing an A2A agent needs the discovery service')
    try {
      const { descriptor, impl } = await agentCapability(offer, { signal: this.shutdown.signal })
      const res = await discovery.publish(descriptor, impl)
      this.log.info({ card: offer.card, skill: impl.external?.options?.skill, cid: res.cid, name: res.descriptor.name }, 'a2a agent published')
      return res
    } catch (err) {
      // an agent that is down at start must not keep the node down
      this.log.warn({ card: offer.card, err: (err as Error).message }, 'a2a agent not published')
      return undefined
    }
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.shutdown.abort()
    this.unregister?.()
    this.unregister = undefined
  }

  /** The capabilities the card lists, name → newest descriptor. */
  private capabilities (): Map<string, CapabilityDescriptor> {
    const out = new Map<string, CapabilityDescriptor>()
    const discovery = this.c.services.discovery
    if (discovery == null) return out
    const pick = this.init.skills ?? 'all'
    const wanted = Array.isArray(pick) ? new Set(pick) : undefined
    for (const cap of discovery.localCapabilities()) if (cap.active) out.set(cap.descriptor.name, cap.descriptor)
    if (pick !== 'local') {
      for (const name of discovery.catalog.names()) {
        if (out.has(name) || (wanted != null && !wanted.has(name))) continue
        const entry = discovery.catalog.find(name).sort((a, b) => b.ts - a.ts)[0]
        if (entry != null) out.set(name, entry.descriptor)
      }
    }
    if (wanted != null) for (const name of out.keys()) if (!wanted.has(name)) out.delete(name)
    return out
  }

  private card (base: string): ReturnType<typeof buildCard> {
    return buildCard({
      base,
      name: this.init.name ?? `pl-node ${this.c.identity.id.slice(-8)}`,
      description: this.init.description ?? 'A Pervasive.link mesh node: every skill is a capability negotiated with the mesh\'s providers and answered with signed receipts.',
      version: '1.0.0',
      capabilities: base === '' ? new Map() : this.capabilities(),
      defaultCapability: this.init.defaultCapability,
      maxSkills: this.init.maxSkills ?? DEFAULT_MAX_SKILLS
    })
  }

  /** The card and JSON-RPC routes, mounted by the gateway when it listens. */
  gatewayPlugin (): GatewayPlugin {
    const handler = this.handler
    if (handler == null) throw new A2aConfigError('the a2a bridge is not started')
    return a2aRoutes({
      handler,
      card: (base) => this.card(base),
      read: () => ({ maxPartBytes: this.init.maxPartBytes ?? DEFAULT_MAX_PART_BYTES, defaultCapability: this.init.defaultCapability }),
      reject: (reason) => { this.c.metrics.reject('a2a', reason) }
    })
  }
}

/** Service factory: `services: { a2a: a2a({ defaultCapability: 'Summarize' }) }`. */
export function a2a (init: A2aInit = {}) {
  return (components: ServiceComponents<A2aServices>): A2aBridge => new A2aBridge(components, init)
}
