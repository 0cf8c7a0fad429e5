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
import { loadOrCreateIdentity, type Identity } from './core/identity.js'
import { SchemaRegistry } from './spec/registry.js'
import { EnvelopeVerifier, signEnvelope, type Envelope, type SignOptions } from './core/envelope.js'
import { Metrics } from './core/metrics.js'
import { silentLogger, type Logger } from './core/logger.js'
import { clockInterval, systemClock, type Clock, type TimerHandle } from './core/clock.js'
import { Store } from './store/index.js'
import { ReplayStore } from './store/replay.js'
import { createPlLibp2p, bootstrapPeerId, hasPeerId, isRelayClient, listenError, relayTargets, type PlLibp2p, type Libp2pInit } from './net/libp2p.js'
import { BootstrapKeeper } from './net/bootstrap-keeper.js'
import { ListenAddressInUseError } from './net/errors.js'
import { Rpc } from './net/rpc.js'
import { measurePeerClocks, summarizeClockOffsets, timeProtocol } from './net/time.js'
import { Gossip } from './net/gossip.js'
import { ControlApi } from './api/control.js'
import { parseCid } from './core/encoding.js'
import { InvalidRequestError } from './api/errors.js'
import { DEFAULT_MAX_BLOCK_BYTES } from './net/fetch.js'

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
  /** signs a body as a `type` envelope from this node */
  sign: <B extends object>(type: string, body: B, options?: SignOptions) => Envelope<B>
  /** other services, by name (for services that use each other) */
  services: Record<string, PlService>
}

export interface PlService {
  start?: () => Promise<void> | void
  stop?: () => Promise<void> | void
  /** a few figures for `GET /health` → `services.<name>` (and `pl status`) */
  status?: () => Record<string, unknown>
}

export type ServiceFactory = (components: PlComponents) => PlService

export interface PlNodeInit {
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
  services?: Record<string, ServiceFactory>
  /** warn when the node has no peer this long after start @default 10000 */
  noPeersWarnMs?: number
  /** network name, relays, NAT traversal and announce settings for libp2p (see docs/TESTNET.md) */
  net?: Pick<Libp2pInit, 'network' | 'announce' | 'noAnnounce' | 'relayServer' | 'relays' | 'relayClient' | 'autonat' | 'dcutr' | 'connectionMonitor' | 'identifyPush'>
}

/** How often expired replay-store entries are swept. @default 60 s */
const REPLAY_SWEEP_MS = 60_000
/** Warn when a node still has no peer this long after start. @default 10 s */
const NO_PEERS_WARN_MS = 10_000
export class PlNode {
  readonly components: PlComponents
  private readonly serviceOrder: string[]
  private sweepTimer?: { clear: () => void }
  private noPeersTimer?: TimerHandle
  private noPeersWarned = false
  private bootstrapList: string[] = []
  private bootstrapKeeper?: BootstrapKeeper
  private noPeersWarnMs = NO_PEERS_WARN_MS
  private state: 'created' | 'starting' | 'started' | 'stopping' | 'stopped' = 'created'

  private constructor (components: PlComponents, order: string[]) {
    this.components = components
    this.serviceOrder = order
  }

  static async create (init: PlNodeInit): Promise<PlNode> {
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
      const components: PlComponents = {
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
        sign: (type, body, options) => signEnvelope(identity, registry, type, body, { now: clock.now(), ...options }),
        services: {}
      }
      const order: string[] = []
      for (const [name, factory] of Object.entries(init.services ?? {})) {
        components.services[name] = factory(components)
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

  service<T extends PlService> (name: string): T {
    const s = this.components.services[name]
    if (s == null) throw new TypeError(`no service named ${name}`)
    return s as T
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
      for (const name of this.serviceOrder) await c.services[name].start?.()
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
      services: Object.fromEntries(this.serviceOrder.flatMap(name => {
        const st = c.services[name].status?.()
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
    for (const name of [...this.serviceOrder].reverse()) await attempt(async () => await c.services[name].stop?.())
    await attempt(async () => { await c.rpc.stop() })
    await attempt(() => { c.gossip.stop() })
    await attempt(async () => { await c.libp2p.stop() })
    await attempt(async () => { await c.store.close() })
    this.state = 'stopped'
    c.logger.info('pl-node stopped')
    if (errors.length > 0) c.logger.warn({ errors: errors.map(e => (e as Error).message) }, 'errors while stopping')
  }
}
