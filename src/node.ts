/**
 * PlNode composes the services of one mesh peer, the way js-libp2p composes
 * its own: each service is a factory taking only the components it needs,
 * with start/stop. Start order is store → identity → libp2p → rpc/gossip →
 * services → control API; stop runs in reverse and releases everything, so
 * the process exits by itself afterwards.
 *
 * @example
 * const node = await PlNode.create({ dataDir: '/tmp/pl-a', listen: ['/ip4/127.0.0.1/tcp/0'] })
 * await node.start()
 * console.log(node.peerId, node.addrs())
 * await node.stop()
 */
import { loadOrCreateIdentity, type Identity, EnvelopeVerifier, signEnvelope, type Envelope, type SignOptions, Metrics } from './core/index.js'
import { SchemaRegistry } from './spec/index.js'
import { silentLogger, type Logger } from './core/logger.js'
import { clockInterval, systemClock, type Clock, type TimerHandle } from './core/clock.js'
import { Store, ReplayStore } from './store/index.js'
import { createPlLibp2p, bootstrapPeerId, hasPeerId, isRelayClient, listenError, relayTargets, type PlLibp2p, type Libp2pInit } from './net/libp2p.js'
import { BootstrapKeeper } from './net/bootstrap-keeper.js'
import { ListenAddressInUseError } from './net/errors.js'
import { Rpc, measurePeerClocks, summarizeClockOffsets, timeProtocol, Gossip, BlockFetcher, DEFAULT_MAX_BLOCK_BYTES, type BlockFetcherInit } from './net/index.js'
import { ControlApi } from './api/index.js'
import { parseCid } from './core/encoding.js'
import { InvalidRequestError } from './api/errors.js'

export interface PlComponents {
  dataDir: string
  identity: Identity
  store: Store
  registry: SchemaRegistry
  verifier: EnvelopeVerifier
  replay: ReplayStore
  metrics: Metrics
  logger: Logger
  /** the node's one clock: every expiry, TTL, deadline, reply window and retry of its services reads it (src/core/clock.ts) */
  clock: Clock
  libp2p: PlLibp2p
  rpc: Rpc
  gossip: Gossip
  api?: ControlApi
  /** the node's one `/pl/fetch` (content by CID): started before the services, stopped after them */
  fetcher: BlockFetcher
  /** signs a body as a `type` envelope from this node */
  sign: <B extends object>(type: string, body: B, options?: SignOptions) => Envelope<B>
}

/**
 * A node's services by name. A service that uses others declares them in its
 * own components type, e.g. `OffersComponents = Pick<PlComponents, 'logger'> & { services: { discovery?: Discovery } }`,
 * and the compiler checks the map PlNode is given against it (docs/ARCHITECTURE.md "Wiring").
 */
export type ServiceMap = Record<string, PlService | undefined>

/**
 * The components a factory of a service using the services `D` is given. The
 * index signature keeps a map of only optional dependencies from being a
 * "weak type" that a node running none of them could not be given; the
 * service itself keeps `D` alone, so a misspelt name does not compile there.
 */
export type ServiceComponents<D extends object = ServiceMap> = PlComponents & { services: D & ServiceMap }

export interface PlService {
  start?: () => Promise<void> | void
  stop?: () => Promise<void> | void
  /** a few figures for `GET /health` → `services.<name>` (and `pl status`) */
  status?: () => Record<string, unknown>
  /** called once the node has started (control API listening): work that must not delay readiness, e.g. warm-ups; must not throw */
  afterStart?: () => void
}

/**
 * Makes a service `T` from the node's components and the services `D` it
 * uses. Without `D` it takes any map: a `Record<string, ServiceFactory>` is
 * unchecked wiring (tests); an object literal or defineServices is checked.
 */
export type ServiceFactory<T extends PlService = PlService, D extends object = any> = (components: ServiceComponents<D>) => T

/**
 * The factories of a node's services, in start order: each one is given the
 * node's whole service map `S`, so a factory whose components name a service
 * `S` lacks (or has with another type) does not compile. Services read each
 * other at start or later, never in the factory: later entries do not exist yet.
 */
export type ServiceFactories<S extends object> = { [K in keyof S]: (components: ServiceComponents<S>) => S[K] }

/** Checks a service map where it is written (src/services.ts): `defineServices({ discovery: discovery(), offers: offers(...) })`. */
export function defineServices<S extends object> (factories: ServiceFactories<S>): ServiceFactories<S> {
  return factories
}

export interface PlNodeInit<S extends object = ServiceMap> {
  dataDir: string
  /** @default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  bootstrap?: string[]
  /** accept bootstrap addresses without /p2p/<peerId>, learning the id from whoever answers (trusted networks only) @default false */
  learnBootstrapIds?: boolean
  /** the clock of every component and service of the node (tests pass a FakeClock) @default systemClock */
  clock?: Clock
  /** raise connection limits for many nodes on 127.0.0.1 (tests, scripts/swarm) @default false */
  localSwarm?: boolean
  /** subscribe to gossip topics @default true */
  gossip?: boolean
  /** start the local control API @default true */
  controlApi?: boolean
  /** @default 0 (any free port) */
  controlPort?: number
  /** @default 60000 */
  clockSkewMs?: number
  logger?: Logger
  /** the services, in start order (see ServiceFactories) */
  services?: ServiceFactories<S>
  /** the node's `/pl/fetch`: block size limit, access rule (granted or open), timeouts */
  fetch?: BlockFetcherInit
  /** warn when the node has no peer this long after start @default 10000 */
  noPeersWarnMs?: number
  /** network name, relays, NAT traversal and announce settings for libp2p (see docs/TESTNET.md) */
  net?: Pick<Libp2pInit, 'network' | 'announce' | 'noAnnounce' | 'relayServer' | 'relays' | 'relayClient' | 'autonat' | 'dcutr' | 'connectionMonitor' | 'identifyPush'>
}

/** How often expired replay-store entries are swept. @default 60 s */
const REPLAY_SWEEP_MS = 60_000
/** Warn when a node still has no peer this long after start. @default 10 s */
const NO_PEERS_WARN_MS = 10_000
export class PlNode<S extends object = ServiceMap> {
  readonly components: ServiceComponents<S>
  private readonly serviceOrder: string[]
  private sweepTimer?: { clear: () => void }
  private noPeersTimer?: TimerHandle
  private noPeersWarned = false
  private bootstrapList: string[] = []
  private bootstrapKeeper?: BootstrapKeeper
  private noPeersWarnMs = NO_PEERS_WARN_MS
  private state: 'created' | 'starting' | 'started' | 'stopping' | 'stopped' = 'created'

  private constructor (components: ServiceComponents<S>, order: string[]) {
    this.components = components
    this.serviceOrder = order
  }

  static async create<S extends object = ServiceMap> (init: PlNodeInit<S>): Promise<PlNode<S>> {
    const logger = init.logger ?? silentLogger()
    const store = await Store.open(init.dataDir)
    try {
      const identity = await loadOrCreateIdentity(init.dataDir)
      const registry = await SchemaRegistry.load()
      const metrics = new Metrics()
      const clock = init.clock ?? systemClock
      const replay = new ReplayStore(store, init.clockSkewMs ?? 60_000, clock)
      const verifier = new EnvelopeVerifier(registry, replay, { self: identity.id, clockSkewMs: init.clockSkewMs, clock, onReject: (reason) => { metrics.reject('envelope', reason) } })
      const libp2p = await createPlLibp2p({ ...init.net, privateKey: identity.privateKey, listen: init.listen, bootstrap: init.bootstrap, learnBootstrapIds: init.learnBootstrapIds, localSwarm: init.localSwarm })
      const nodeLogger = logger.child({ peer: identity.id })
      const rpc = new Rpc({ libp2p, metrics, clock, logger: nodeLogger.child({ component: 'rpc' }) })
      const gossip = new Gossip({ pubsub: libp2p.services.pubsub, verifier, replay, metrics, clock, logger: nodeLogger.child({ component: 'gossip' }) }, { network: init.net?.network })
      const api = init.controlApi === false ? undefined : new ControlApi({ dataDir: init.dataDir, port: init.controlPort, logger: nodeLogger.child({ component: 'api' }), onReject: (reason) => { metrics.reject('api', reason) } })
      const fetcher = new BlockFetcher({ rpc, libp2p, store, metrics, clock, logger: nodeLogger.child({ component: 'fetch' }) }, init.fetch)
      // filled in start order below; services read each other at start or later
      const services: Partial<S> = {}
      const components: ServiceComponents<S> = {
        dataDir: init.dataDir,
        identity,
        store,
        registry,
        verifier,
        replay,
        metrics,
        logger: nodeLogger,
        clock,
        libp2p,
        rpc,
        gossip,
        api,
        fetcher,
        sign: (type, body, options) => signEnvelope(identity, registry, type, body, { now: clock.now(), ...options }),
        services: services as S & ServiceMap
      }
      const order: string[] = []
      const factories = init.services ?? {} as ServiceFactories<S>
      for (const name of Object.keys(factories) as Array<keyof S & string>) {
        services[name] = factories[name](components)
        order.push(name)
      }
      const node = new PlNode(components, order)
      node.gossipEnabled = init.gossip !== false
      // a bootstrap node whose network file names itself skips its own entry
      node.bootstrapList = (init.bootstrap ?? []).filter(a => a.length > 0 && (!hasPeerId(a) || bootstrapPeerId(a) !== identity.id))
      // the node's one redialer: bootstrap peers, and the relays a relay client reserves slots on
      const relays = relayTargets(init.net ?? {}, identity.id)
      node.bootstrapKeeper = new BootstrapKeeper({ libp2p, logger: nodeLogger.child({ component: 'bootstrap' }), clock }, { addrs: node.bootstrapList, learnIds: init.learnBootstrapIds, relays: isRelayClient(init.net ?? {}, relays) ? relays : [] })
      node.noPeersWarnMs = init.noPeersWarnMs ?? NO_PEERS_WARN_MS
      return node
    } catch (err) {
      await store.close()
      throw err
    }
  }

  private gossipEnabled = true

  get peerId (): string { return this.components.identity.id }
  get libp2p (): PlLibp2p { return this.components.libp2p }
  get isStarted (): boolean { return this.state === 'started' }
  get gossipOn (): boolean { return this.gossipEnabled }

  /** Listen addresses with the /p2p/<peer> suffix, ready for --bootstrap. */
  addrs (): string[] {
    return this.libp2p.getMultiaddrs().map(a => a.toString())
  }

  /** The service `name`, typed by the node's service map; throws when the node runs none by that name. */
  service<K extends keyof S & string> (name: K): NonNullable<S[K]>
  /** The same for a node built from an untyped map (`Record<string, ServiceFactory>`, as tests do): the caller names the type. */
  service<T extends PlService> (name: string): T
  service (name: string): unknown {
    const s = (this.components.services as Record<string, PlService | undefined>)[name]
    if (s == null) throw new TypeError(`no service named ${name}`)
    return s
  }

  /** The started services by name, in start order. */
  private startedServices (): Array<[string, PlService]> {
    const services = this.components.services as Record<string, PlService | undefined>
    return this.serviceOrder.flatMap(name => { const s = services[name]; return s != null ? [[name, s]] : [] })
  }

  private starting?: Promise<void>

  async start (): Promise<void> {
    if (this.state === 'stopped') throw new TypeError('a stopped PlNode cannot be started again; create a new one')
    if (this.state === 'starting') { await this.starting; return }
    if (this.state !== 'created') return
    this.state = 'starting'
    this.starting = this.doStart()
    await this.starting
  }

  private async doStart (): Promise<void> {
    const c = this.components
    try {
      try {
        await c.libp2p.start()
      } catch (err) {
        throw listenError(err)
      }
      if (this.gossipEnabled) c.gossip.start()
      await c.rpc.handle(timeProtocol(c.clock))
      if (c.api != null) this.registerCoreRoutes(c.api)
      await c.fetcher.start()
      for (const [, service] of this.startedServices()) await service.start?.()
      try {
        await c.api?.start()
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new ListenAddressInUseError(`control port 127.0.0.1:${String((err as any).port ?? '?')} is in use (another pl-node?); use --control-port 0 or another port`, { controlPort: (err as any).port })
        throw err
      }
      this.sweepTimer = clockInterval(c.clock, () => { c.replay.sweep().catch((err: Error) => { c.logger.warn({ err: err.message }, 'replay-store sweep failed') }) }, REPLAY_SWEEP_MS)
      this.state = 'started'
      this.watchPeers()
      c.logger.info({ addrs: this.addrs(), api: c.api?.address }, 'pl-node started')
      for (const [, service] of this.startedServices()) service.afterStart?.()
    } catch (err) {
      this.state = 'started'
      await this.stop().catch(() => {})
      throw err
    }
  }

  /**
   * What an operator should know: bootstrap addresses that failed (and why),
   * no peers some time after start. Shown by `GET /health` and `pl status`.
   */
  warnings (): string[] {
    const out = this.bootstrapKeeper?.problems() ?? []
    if (this.noPeersWarned && this.libp2p.getPeers().length === 0) out.push(this.noPeersMessage())
    return out
  }

  private noPeersMessage (): string {
    return this.bootstrapList.length > 0
      ? `no peers ${Math.round(this.noPeersWarnMs / 1000)} s after start; bootstrap ${this.bootstrapList.join(', ')} not joined`
      : `no peers ${Math.round(this.noPeersWarnMs / 1000)} s after start (no --bootstrap given: this node is alone until a peer dials it)`
  }

  /** Joins the bootstrap peers (and keeps redialing them with backoff), and warns if no peer came. */
  private watchPeers (): void {
    const c = this.components
    this.bootstrapKeeper?.start()
    this.noPeersTimer = c.clock.setTimeout(() => {
      if (this.state !== 'started' || c.libp2p.getPeers().length > 0) return
      this.noPeersWarned = true
      if (this.bootstrapList.length > 0) c.logger.warn({ bootstrap: this.bootstrapList }, this.noPeersMessage())
      else c.logger.info(this.noPeersMessage())
    }, this.noPeersWarnMs)
  }

  private registerCoreRoutes (api: ControlApi): void {
    const c = this.components
    const startedAt = c.clock.now()
    api.route('GET', '/health', async () => ({
      ok: true,
      peerId: c.identity.id,
      addrs: this.addrs(),
      peers: c.libp2p.getPeers().length,
      uptimeMs: c.clock.now() - startedAt,
      rejected: await c.metrics.rejections(),
      warnings: this.warnings(),
      bootstrap: this.bootstrapKeeper?.status() ?? [],
      services: Object.fromEntries(this.startedServices().flatMap(([name, service]) => {
        const st = service.status?.()
        return st != null ? [[name, st]] : []
      }))
    }))
    api.route('GET', '/peers', async () => await Promise.all(c.libp2p.getConnections().map(async conn => ({
      peerId: conn.remotePeer.toString(),
      addr: conn.remoteAddr.toString(),
      direction: conn.direction,
      /** through a circuit relay (limits apply) rather than direct */
      limited: conn.limits != null,
      openedAt: conn.timeline.open,
      /** the addresses this peer announced (identify, DHT peer records) */
      announced: (await c.libp2p.peerStore.get(conn.remotePeer).catch(() => undefined))?.addresses.map(a => a.multiaddr.toString()) ?? []
    }))))
    // this clock against the connected peers' (/pl/time): pl-node doctor reads it
    api.route('GET', '/net/clock', async () => {
      const peers = [...new Set(c.libp2p.getConnections().map(conn => conn.remotePeer.toString()))]
      const samples = await measurePeerClocks(c.rpc, peers, { clock: c.clock })
      return { now: c.clock.now(), ...summarizeClockOffsets(samples), samples }
    })
    // content by CID: agents put documents here and pass `cid:<CID>` as run inputs
    api.route('POST', '/blocks', async ({ body }) => {
      if (body == null || typeof body !== 'object' || !('doc' in body)) throw new InvalidRequestError('POST /blocks needs {"doc": <JSON document>}')
      // no larger than peers can fetch (a run input passed as `cid:` is pulled with /pl/fetch)
      return { cid: await c.store.blocks.put(body.doc, { maxBytes: DEFAULT_MAX_BLOCK_BYTES }) }
    })
    api.route('GET', '/blocks/:cid', async ({ params }) => {
      const cid = parseCid(params.cid).toString()
      return { cid, doc: await c.store.blocks.get(cid) }
    })
    api.route('GET', '/metrics', async ({ raw }) => {
      void raw
      return await c.metrics.registry.metrics()
    })
  }

  async stop (): Promise<void> {
    // a stop while starting (a SIGTERM during start) waits for the start to settle: stopping libp2p under a
    // half-started gossip failed with "Pubsub has not started"; a failed start stops the node itself
    if (this.state === 'starting') await this.starting?.catch(() => {})
    if (this.state === 'stopped' || this.state === 'stopping') return
    this.state = 'stopping'
    const c = this.components
    this.sweepTimer?.clear()
    this.components.clock.clearTimeout(this.noPeersTimer)
    this.bootstrapKeeper?.stop()
    const errors: unknown[] = []
    const attempt = async (fn: () => unknown): Promise<void> => { try { await fn() } catch (err) { errors.push(err) } }
    await attempt(async () => await c.api?.stop())
    for (const [, service] of this.startedServices().reverse()) await attempt(async () => await service.stop?.())
    await attempt(async () => { await c.fetcher.stop() })
    await attempt(async () => { await c.rpc.stop() })
    await attempt(() => { c.gossip.stop() })
    await attempt(async () => { await c.libp2p.stop() })
    await attempt(async () => { await c.store.close() })
    this.state = 'stopped'
    c.logger.info('pl-node stopped')
    if (errors.length > 0) c.logger.warn({ errors: errors.map(e => (e as Error).message) }, 'errors while stopping')
  }
}
