/**
 * The node side of attached providers: the `attached` ExternalRunner, the
 * connected clients and what they registered. A client registering a
 * capability spec makes this node publish a Capability.v1 whose io points
 * into the spec (stored as a block, so peers can fetch it by CID) and whose
 * implementation is `{external: {kind: 'attached', target: <attachment id>}}`;
 * awarded steps are forwarded to the client. When the client leaves, its
 * capabilities are unpublished and its running steps fail retryably.
 */
import { randomUUID } from 'node:crypto'
import type { WebSocket } from 'ws'
import type { Logger } from 'pino'
import type { PlComponents, PlService } from '../../node.js'
import type { Discovery } from '../../discovery/index.js'
import type { ExecService } from '../../exec/index.js'
import type { ExternalImpl } from '../../core/index.js'
import type { ModuleCall, ModuleCallOptions, ModuleResult } from '../../exec/types.js'
import type { GatewayPlugin } from '../../gateway/types.js'
import { systemClock, type Clock } from '../../core/clock.js'
import { DEFAULT_MAX_JSON_DEPTH } from '../../core/json-guard.js'
import { errorToData } from '../../core/errors.js'
import { LIMIT_KEYS } from '../../wire/index.js'
import { AttachSpecError, AttachedProviderGoneError, TooManyAttachmentsError, AttachMessageError } from './errors.js'
import { AttachedSession, type Frame } from './session.js'
import { ATTACHED_KIND, DEFAULT_MAX_CONCURRENT_CALLS, MAX_ATTACHMENTS_PER_SOCKET } from './constants.js'
import { attachRoutes } from './routes.js'

export interface AttachedInit {
  /** calls in flight per attachment; past it the node declines CFPs for it @default DEFAULT_MAX_CONCURRENT_CALLS */
  maxConcurrentCalls?: number
  /** wall-limit timers @default systemClock */
  clock?: Clock
}

/** The services attached processes need: the executor runs their calls, discovery publishes their capabilities. */
export interface AttachedServices {
  exec: ExecService
  discovery: Discovery
}

export type AttachedComponents = Pick<PlComponents, 'store' | 'logger' | 'metrics'> & { services: AttachedServices }

/** One registered capability of a connected client. */
export interface Attachment {
  id: string
  session: AttachedSession
  name: string
  version: string
  /** CID of the spec document */
  spec: string
  /** CID of the published Capability.v1 */
  capability: string
  /** whether the process answers bid questions (registered with `bids: true`) */
  bids: boolean
}

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/

function isObject (v: unknown): v is Record<string, unknown> {
  return v != null && typeof v === 'object' && !Array.isArray(v)
}

export class AttachedService implements PlService {
  private readonly attachments = new Map<string, Attachment>()
  private readonly sessions = new Set<AttachedSession>()
  private readonly log: Logger
  private readonly clock: Clock
  private unregister?: () => void
  private started = false

  constructor (private readonly c: AttachedComponents, private readonly init: AttachedInit = {}) {
    this.log = c.logger.child({ component: 'attached' })
    this.clock = init.clock ?? systemClock
  }

  async start (): Promise<void> {
    if (this.started) return
    this.unregister = this.c.services.exec.executor.pool.external.register({
      kind: ATTACHED_KIND,
      ready: (impl) => this.ready(impl),
      run: async (impl, call, options) => await this.run(impl, call, options)
    })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.unregister?.()
    for (const s of this.sessions) s.close()
    for (const a of [...this.attachments.values()]) await this.detach(a)
    this.sessions.clear()
  }

  status (): Record<string, unknown> {
    return { clients: this.sessions.size, attachments: this.attachments.size }
  }

  /** The gateway route (`GET /attach`, WebSocket, scope `publish`), mounted by the gateway's servicePlugins. */
  gatewayPlugin (): GatewayPlugin {
    return attachRoutes({ accept: (socket, maxJsonDepth) => { this.accept(socket, maxJsonDepth) } })
  }

  /** What is attached now (tests, status). */
  list (): Attachment[] {
    return [...this.attachments.values()]
  }

  /** A connected attachment by id. */
  attachment (id: string): Attachment | undefined {
    const a = this.attachments.get(id)
    return a?.session.connected === true ? a : undefined
  }

  /** Whether the client behind `impl` is connected and below its concurrency cap. */
  ready (impl: ExternalImpl): boolean {
    const a = this.attachments.get(impl.target)
    return a != null && a.session.connected && a.session.inflight < (this.init.maxConcurrentCalls ?? DEFAULT_MAX_CONCURRENT_CALLS)
  }

  /** A connected client; its frames nest at most `maxJsonDepth` levels @default DEFAULT_MAX_JSON_DEPTH */
  accept (socket: WebSocket, maxJsonDepth = DEFAULT_MAX_JSON_DEPTH): void {
    const session = new AttachedSession(randomUUID(), socket, {
      clock: this.clock,
      maxJsonDepth,
      logger: this.log,
      rejected: (reason) => { this.c.metrics.reject('attached', reason) },
      register: async (s, frame) => await this.register(s, frame),
      closed: async (s) => { await this.closed(s) }
    })
    if (!this.started) {
      socket.close(1013, 'attached providers are not available')
      return
    }
    this.sessions.add(session)
    session.start()
    this.log.info({ session: session.id }, 'attached client connected')
  }

  private async run (impl: ExternalImpl, call: ModuleCall, options: ModuleCallOptions): Promise<ModuleResult> {
    const a = this.attachments.get(impl.target)
    if (a == null || !a.session.connected) throw new AttachedProviderGoneError(`no client is attached as ${impl.target}`, { target: impl.target }, true)
    return await a.session.call(a.id, { name: a.name, version: a.version }, call, options)
  }

  private discovery (): Discovery {
    return this.c.services.discovery
  }

  /** `{op:'register', spec | spec_cid, price?, attrs?, limits?, description?}` → publishes the capability. */
  private async register (session: AttachedSession, frame: Frame): Promise<Record<string, unknown>> {
    if (session.attachments.size >= MAX_ATTACHMENTS_PER_SOCKET) throw new TooManyAttachmentsError(`a connection registers at most ${MAX_ATTACHMENTS_PER_SOCKET} capabilities`, { max: MAX_ATTACHMENTS_PER_SOCKET })
    for (const k of Object.keys(frame)) {
      if (!['op', 'id', 'spec', 'spec_cid', 'price', 'attrs', 'limits', 'bids'].includes(k)) throw new AttachMessageError(`register: unknown field "${k}"`, { field: k })
    }
    let spec: unknown = frame.spec
    if (spec === undefined) {
      if (typeof frame.spec_cid !== 'string') throw new AttachSpecError('register needs "spec" (the capability spec JSON) or "spec_cid"')
      if (!await this.c.store.blocks.has(frame.spec_cid)) throw new AttachSpecError(`this node holds no spec ${frame.spec_cid}: send the spec itself`, { spec: frame.spec_cid })
      spec = await this.c.store.blocks.get(frame.spec_cid)
    }
    const { name, version, description } = capabilitySpec(spec)
    if (frame.bids !== undefined && typeof frame.bids !== 'boolean') throw new AttachMessageError('register: "bids" must be a boolean')
    if (frame.price !== undefined && !(typeof frame.price === 'number' && Number.isFinite(frame.price) && frame.price >= 0)) throw new AttachMessageError('register: "price" must be a number >= 0')
    if (frame.attrs !== undefined && !(isObject(frame.attrs) && Object.values(frame.attrs).every(v => ['string', 'number', 'boolean'].includes(typeof v)))) throw new AttachMessageError('register: "attrs" must be an object of strings, numbers and booleans')
    if (frame.limits !== undefined && !(isObject(frame.limits) && Object.entries(frame.limits).every(([k, v]) => (LIMIT_KEYS as readonly string[]).includes(k) && Number.isInteger(v) && (v as number) > 0))) throw new AttachMessageError('register: "limits" must be {cpu_ms?, mem_mb?, wall_ms?} of positive integers')
    const specCid = await this.c.store.blocks.put(spec)
    const id = randomUUID()
    const { cid } = await this.discovery().publish({
      name,
      version,
      ...(description != null ? { description } : {}),
      io: { input: { $ref: `cid:${specCid}#/properties/input` }, output: { $ref: `cid:${specCid}#/properties/output` } },
      ...(frame.price !== undefined ? { price: frame.price } : {}),
      ...(frame.attrs !== undefined ? { attrs: frame.attrs as Record<string, string | number | boolean> } : {}),
      ...(frame.limits !== undefined ? { limits: frame.limits } : {})
    }, { external: { kind: ATTACHED_KIND, target: id } })
    if (!session.connected) {
      // the client left while the capability was being published
      await this.discovery().unpublish(cid).catch(() => [])
      throw new AttachedProviderGoneError('the client disconnected while registering', {}, true)
    }
    const a: Attachment = { id, session, name, version, spec: specCid, capability: cid, bids: frame.bids === true }
    this.attachments.set(id, a)
    session.attachments.add(id)
    this.log.info({ session: session.id, attachment: id, name, version, capability: cid, spec: specCid }, 'attached capability published')
    return { type: 'registered', attachment: id, capability: cid, spec: specCid, name, version }
  }

  private async closed (session: AttachedSession): Promise<void> {
    this.sessions.delete(session)
    for (const id of session.attachments) {
      const a = this.attachments.get(id)
      if (a != null) await this.detach(a)
    }
    this.log.info({ session: session.id }, 'attached client disconnected')
  }

  private async detach (a: Attachment): Promise<void> {
    this.attachments.delete(a.id)
    try {
      await this.discovery().unpublish(a.capability)
    } catch (err) {
      // replaced by a newer registration of the same name and version, or discovery stopped
      this.log.debug({ err: errorToData(err), capability: a.capability }, 'attached capability was already unpublished')
    }
  }
}

/** The name, version and description a capability spec declares (docs/SPEC.md); AttachSpecError otherwise. */
export function capabilitySpec (spec: unknown): { name: string, version: string, description?: string } {
  if (!isObject(spec)) throw new AttachSpecError('"spec" must be a capability spec (a JSON Schema object)')
  const cap = spec['x-pl-capability']
  if (!isObject(cap) || typeof cap.name !== 'string' || !NAME.test(cap.name) || typeof cap.version !== 'string' || cap.version === '' || cap.version.length > 64) {
    throw new AttachSpecError('the spec has no valid "x-pl-capability": {name, version}')
  }
  const props = spec.properties
  if (!isObject(props) || !isObject(props.input) || !isObject(props.output)) throw new AttachSpecError('a capability spec defines its input and output at #/properties/input and #/properties/output')
  const description = typeof cap.description === 'string' ? cap.description : typeof spec.description === 'string' ? spec.description : undefined
  return { name: cap.name, version: cap.version, ...(description != null ? { description } : {}) }
}
