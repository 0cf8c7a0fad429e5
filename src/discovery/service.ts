/**
 * The Discovery service: publishes this node's capabilities (LevelDB, gossip
 * ads, DHT provider records, `/pl/caps` + `/pl/fetch`), keeps the catalog of
 * what it hears, and answers finds by merging the catalog with a DHT walk.
 */
import { setMaxListeners } from 'node:events'
import { CID } from 'multiformats/cid'
import type { PlComponents, PlService } from '../node.js'
import { externalModuleSpec, moduleSpecOf, type ModuleSpec } from '../core/index.js'
import { compositeImpl } from '../composite/index.js'
import type { BlockFetcher } from '../net/index.js'
import { cidStringOf } from '../core/encoding.js'
import { Advertiser } from './ads.js'
import { Catalog } from './catalog.js'
import { capsProtocol, type CapsAnswer, type CapsRequest } from './caps.js'
import * as C from './constants.js'
import { clockInterval } from '../core/clock.js'
import { buildDescriptor, capNameKey, inlineSchemas, schemaCidRefs } from './descriptor.js'
import { DhtProvider } from './dht.js'
import { CapabilityNotFoundError, InvalidDescriptorError } from './errors.js'
import { Finder } from './finder.js'
import { CatalogListener } from './listener.js'
import { CatalogSync, type CatalogSyncResult } from './sync.js'
import { LocalCapabilities } from './local.js'
import { registerRoutes } from './routes.js'
import { MAX_SET_ADS } from './ad-set.js'
import { scoreTopic } from './score.js'
import type {
  CapabilityDescriptor, CapabilityDescriptorInput, CapabilityQuery, CatalogEntry,
  FindOptions, FoundCapability, ImplRef, LocalCapability
} from './types.js'

export interface DiscoveryInit {
  /** lifetime of an ad; re-sent at ttl/2 @default 60000 */
  ttlMs?: number
  /** join `pl/v1/catalog` (false: DHT-only discovery, as `pl-node --no-gossip`) @default true */
  gossip?: boolean
  /** @default 65536 */
  maxDescriptorBytes?: number
  /** per-peer ad bucket on receipt: ads per second @default 5 */
  peerAdRate?: number
  /** per-peer ad bucket on receipt: burst @default 50 */
  peerAdBurst?: number
  /** own ad pacing: ads per second @default 3 */
  publishRate?: number
  /** own ad pacing: burst @default 16 */
  publishBurst?: number
  /** catalog expiry sweep period @default 1000 */
  sweepMs?: number
  /** re-provide period of DHT records @default 6 h */
  reprovideMs?: number
  /** first retry of a failed DHT provide, doubling @default 1000 */
  provideRetryMs?: number
  /** @default 60000 */
  provideRetryMaxMs?: number
  /** default time budget of a find @default 5000 */
  findTimeoutMs?: number
  /** @default 100000 */
  maxCatalogEntries?: number
  /** @default 1000 */
  maxEntriesPerProvider?: number
  /** catalog bytes in total (descriptor dag-cbor + addrs + 512 per entry) @default 64 MiB */
  maxCatalogBytes?: number
  /** catalog bytes of one provider's entries @default 1 MiB */
  maxProviderBytes?: number
  /** catalog bytes of the entries one peer delivered (gossip propagation source) @default 16 MiB */
  maxSourceBytes?: number
  /** descriptor bytes per second one forwarding peer may deliver @default 512 KiB */
  sourceAdBytesRate?: number
  /** burst of that byte bucket @default 2 MiB */
  sourceAdBytesBurst?: number
  /** register the control API routes (/caps...) when the node has an API @default true */
  controlRoutes?: boolean
  /** ask peers for their ads over /pl/catalog-sync when they connect (a few per round; answering is always on) @default true */
  catalogSync?: boolean
  /** a catalog sync round (and asking any one peer again) at most this often @default 300000 */
  catalogSyncIntervalMs?: number
  /**
   * send several capabilities in one signed `AdvertiseCapabilitySet.v1`
   * (false: one `AdvertiseCapability.v1` each, what nodes from before sets
   * read — for the time a network still has such nodes) @default true
   */
  adSets?: boolean
  /** the clock of the catalog and its rate limiters (tests pass a fake one) @default the node's clock (`components.clock`) */
  now?: () => number
}

export type DiscoveryComponents = Pick<PlComponents, 'identity' | 'store' | 'registry' | 'metrics' | 'logger' | 'libp2p' | 'rpc' | 'gossip' | 'api' | 'sign' | 'fetcher' | 'clock' | 'verifier' | 'replay'>

type Settings = Required<Omit<DiscoveryInit, 'now'>>

/** The default of every DiscoveryInit field but `now`; also the keys (and value types) the `services.discovery` config section accepts. */
export const DISCOVERY_DEFAULTS: Readonly<Settings> = {
  ttlMs: C.DEFAULT_AD_TTL_MS,
  gossip: true,
  maxDescriptorBytes: C.DEFAULT_MAX_DESCRIPTOR_BYTES,
  peerAdRate: C.DEFAULT_PEER_AD_RATE,
  peerAdBurst: C.DEFAULT_PEER_AD_BURST,
  publishRate: C.DEFAULT_PUBLISH_RATE,
  publishBurst: C.DEFAULT_PUBLISH_BURST,
  sweepMs: C.DEFAULT_CATALOG_SWEEP_MS,
  reprovideMs: C.DEFAULT_REPROVIDE_MS,
  provideRetryMs: C.DEFAULT_PROVIDE_RETRY_MS,
  provideRetryMaxMs: C.DEFAULT_PROVIDE_RETRY_MAX_MS,
  findTimeoutMs: C.DEFAULT_FIND_TIMEOUT_MS,
  maxCatalogEntries: C.DEFAULT_MAX_CATALOG_ENTRIES,
  maxEntriesPerProvider: C.DEFAULT_MAX_ENTRIES_PER_PROVIDER,
  maxCatalogBytes: C.DEFAULT_MAX_CATALOG_BYTES,
  maxProviderBytes: C.DEFAULT_MAX_PROVIDER_BYTES,
  maxSourceBytes: C.DEFAULT_MAX_SOURCE_BYTES,
  sourceAdBytesRate: C.DEFAULT_SOURCE_AD_BYTES_RATE,
  sourceAdBytesBurst: C.DEFAULT_SOURCE_AD_BYTES_BURST,
  catalogSync: true,
  catalogSyncIntervalMs: C.DEFAULT_CATALOG_SYNC_INTERVAL_MS,
  adSets: true,
  controlRoutes: true
}

export class Discovery implements PlService {
  readonly catalog: Catalog
  readonly settings: Settings
  private readonly local: LocalCapabilities
  private readonly advertiser: Advertiser
  private readonly dht: DhtProvider
  private readonly listener: CatalogListener
  private readonly finder: Finder
  private readonly sync: CatalogSync
  private readonly log: DiscoveryComponents['logger']
  private readonly caps = capsProtocol(async (req) => this.answerCaps(req))
  private fetcher?: BlockFetcher
  private shutdown = new AbortController()
  private sweepTimer?: { clear: () => void }
  private routesRegistered = false
  private state: 'stopped' | 'starting' | 'started' | 'stopping' = 'stopped'

  constructor (private readonly c: DiscoveryComponents, private readonly init: DiscoveryInit = {}) {
    const given = Object.fromEntries(Object.entries(init).filter(([key, value]) => Object.hasOwn(DISCOVERY_DEFAULTS, key) && value != null))
    this.settings = { ...DISCOVERY_DEFAULTS, ...given }
    if (!(this.settings.ttlMs >= 100)) throw new TypeError(`discovery ttlMs must be at least 100 ms, got ${this.settings.ttlMs}`)
    this.log = c.logger.child({ component: 'discovery' })
    const now = init.now ?? c.clock.now
    this.catalog = new Catalog(c.store.json<CatalogEntry>('catalog'), {
      maxEntries: this.settings.maxCatalogEntries,
      maxPerProvider: this.settings.maxEntriesPerProvider,
      maxBytes: this.settings.maxCatalogBytes,
      maxProviderBytes: this.settings.maxProviderBytes,
      maxSourceBytes: this.settings.maxSourceBytes,
      now
    })
    this.local = new LocalCapabilities(c.store.json('caps-local'))
    this.listener = new CatalogListener(c, {
      catalog: this.catalog,
      peerAdRate: this.settings.peerAdRate,
      peerAdBurst: this.settings.peerAdBurst,
      maxDescriptorBytes: this.settings.maxDescriptorBytes,
      maxTtlMs: 10 * this.settings.ttlMs,
      sourceAdBytesRate: this.settings.sourceAdBytesRate,
      sourceAdBytesBurst: this.settings.sourceAdBytesBurst,
      now
    })
    this.advertiser = new Advertiser({
      gossip: c.gossip,
      sign: c.sign,
      addrs: () => c.libp2p.getMultiaddrs().map(a => a.toString()),
      logger: this.log,
      ttlMs: this.settings.ttlMs,
      publishRate: this.settings.publishRate,
      publishBurst: this.settings.publishBurst,
      perSet: this.settings.adSets ? MAX_SET_ADS : 1,
      clock: c.clock
    })
    this.sync = new CatalogSync(c, {
      catalog: this.catalog,
      listener: this.listener,
      ownAds: (at) => this.advertiser.currentAds(at),
      intervalMs: this.settings.catalogSyncIntervalMs,
      ask: this.settings.catalogSync,
      network: c.gossip.network
    })
    this.dht = new DhtProvider(c.libp2p, this.log, { metrics: c.metrics, area: 'discovery', reprovideMs: this.settings.reprovideMs, retryMs: this.settings.provideRetryMs, retryMaxMs: this.settings.provideRetryMaxMs, clock: c.clock })
    this.finder = new Finder(c, {
      catalog: this.catalog,
      local: this.local,
      dht: this.dht,
      caps: this.caps,
      fetcher: () => {
        if (this.fetcher == null) throw new TypeError('the discovery service is not started')
        return this.fetcher
      },
      expiryOf: (cid) => this.advertiser.expiryOf(cid),
      shutdown: () => this.shutdown.signal,
      ttlMs: this.settings.ttlMs,
      findTimeoutMs: this.settings.findTimeoutMs,
      maxDescriptorBytes: this.settings.maxDescriptorBytes
    })
  }

  /** This object (so `node.service('discovery').discovery` reads naturally). */
  get discovery (): Discovery { return this }

  get isStarted (): boolean { return this.state === 'started' }

  /** Ads sent so far (re-ads included). */
  get adsSent (): number { return this.advertiser.sent }

  // ---------------------------------------------------------------- lifecycle

  async start (): Promise<void> {
    if (this.state !== 'stopped') return
    this.state = 'starting'
    this.shutdown = new AbortController()
    setMaxListeners(Infinity, this.shutdown.signal) // one listener per find in flight
    try {
      this.fetcher = this.c.fetcher
      await this.c.rpc.handle(this.caps)
      await this.catalog.load()
      const caps = await this.local.load()
      if (this.settings.gossip) {
        scoreTopic(this.c.libp2p.services.pubsub, this.c.gossip.wireTopic(C.CATALOG_TOPIC))
        this.c.gossip.subscribe(C.CATALOG_TOPIC, this.listener.handler())
        this.advertiser.start()
      }
      this.dht.start()
      await this.sync.start()
      for (const cap of caps) await this.shareDescriptor(cap.cid, cap.descriptor)
      // announced in one turn, so that the advertiser sends them in one set
      for (const cap of caps) {
        if (cap.active) this.announce(cap)
        else this.log.warn({ cid: cap.cid, name: cap.descriptor.name, problem: cap.problem }, 'published capability not re-advertised')
      }
      this.sweepTimer = clockInterval(this.c.clock, () => { this.catalog.sweep().catch((err) => { this.log.warn({ err: (err as Error).message }, 'catalog sweep failed') }) }, this.settings.sweepMs)
      if (this.c.api != null && this.settings.controlRoutes && !this.routesRegistered) {
        registerRoutes(this.c.api, this)
        this.routesRegistered = true
      }
      this.state = 'started'
      this.log.info({ published: caps.length, catalog: this.catalog.size, gossip: this.settings.gossip }, 'discovery started')
    } catch (err) {
      this.state = 'started'
      await this.stop().catch(() => {})
      throw err
    }
  }

  /** Withdraws this node's ads (as far as pacing allows), stops timers and DHT work. */
  async stop (): Promise<void> {
    if (this.state !== 'started') return
    this.state = 'stopping'
    this.sweepTimer?.clear()
    this.sweepTimer = undefined
    this.shutdown.abort()
    const active = this.local.list().filter(c => c.active)
    await this.advertiser.stop(active.map(c => ({ cid: c.cid, descriptor: c.descriptor }))).catch(() => {})
    this.dht.stop()
    await this.sync.stop()
    if (this.settings.gossip) this.c.gossip.unsubscribe(C.CATALOG_TOPIC)
    await this.c.libp2p.unhandle(C.CAPS_PROTOCOL).catch(() => {})
    this.state = 'stopped'
  }

  private assertStarted (): void {
    if (this.state !== 'started') throw new TypeError('the discovery service is not started')
  }

  // ---------------------------------------------------------------- publishing

  /**
   * A published descriptor, its inline schemas and the schemas it names by CID
   * (io CIDs, `cid:` $refs) that this node stores are served to every peer over /pl/fetch.
   */
  private async shareDescriptor (cid: string, descriptor: CapabilityDescriptor): Promise<void> {
    this.fetcher?.share(cid)
    for (const schema of inlineSchemas(descriptor)) this.fetcher?.share(cidStringOf(schema))
    for (const ref of schemaCidRefs(descriptor)) {
      if (await this.c.store.blocks.has(ref)) this.fetcher?.share(ref)
    }
  }

  /** Validates, stores, binds and advertises a capability; returns its CID. */
  async publish (input: CapabilityDescriptorInput, impl?: ImplRef): Promise<{ cid: string, descriptor: CapabilityDescriptor }> {
    this.assertStarted()
    let module: ModuleSpec | undefined
    const key = typeof input?.name === 'string' ? input.name : 'capability'
    // a composite: its plan is compiled, checked and stored; it binds like any external implementation
    if (impl?.plan != null) impl = { external: await compositeImpl(impl.plan, key, this.c.store.blocks) }
    if (impl?.external != null) {
      try {
        module = externalModuleSpec(key, impl.external)
      } catch (err) {
        throw new InvalidDescriptorError(`impl.external: ${(err as Error).message}`, { impl })
      }
    } else if (impl != null) {
      if (typeof impl.dir !== 'string' || impl.dir === '') throw new InvalidDescriptorError('impl.dir must be the path of a module folder')
      module = await moduleSpecOf(key, impl.dir, { className: impl.className })
      // the sandbox permissions the module asks for travel with it (and into the stored record, for a restart)
      if (impl.permissions != null && impl.permissions.length > 0) module = { ...module, permissions: impl.permissions }
      if (impl.confined === true) module = { ...module, confined: true }
    }
    const descriptor = buildDescriptor(input, this.c.identity.id, this.c.registry, { module, maxBytes: this.settings.maxDescriptorBytes })
    const cid = await this.c.store.blocks.put(descriptor)
    for (const schema of inlineSchemas(descriptor)) await this.c.store.blocks.put(schema)
    await this.shareDescriptor(cid, descriptor)
    // A new descriptor for the same name and version replaces the old one.
    for (const old of this.local.byName(descriptor.name)) {
      if (old.cid !== cid && old.descriptor.version === descriptor.version) await this.remove(old, false)
    }
    const cap: LocalCapability = {
      cid,
      descriptor,
      publishedAt: this.c.clock.now(),
      ...(module != null ? { impl: implRefOf(module), module } : {}),
      active: true
    }
    await this.local.add(cap)
    this.announce(cap)
    this.log.info({ cid, name: descriptor.name, version: descriptor.version, module: module?.cid }, 'capability published')
    return { cid, descriptor }
  }

  /** Unpublishes by descriptor CID or by name (every version); returns the CIDs removed. */
  async unpublish (cidOrName: string): Promise<string[]> {
    this.assertStarted()
    const byCid = this.local.get(cidOrName)
    const targets = byCid != null ? [byCid] : this.local.byName(cidOrName)
    if (targets.length === 0) throw new CapabilityNotFoundError(`this node publishes no capability ${JSON.stringify(cidOrName)}`, { id: cidOrName })
    for (const t of targets) await this.remove(t, true)
    return targets.map(t => t.cid)
  }

  /** The module bound to a capability this node published (newest version unless `version`). */
  localCapability (name: string, version?: string): ModuleSpec | undefined {
    return this.local.module(name, version)
  }

  /** for `GET /health` (`pl status`) */
  status (): Record<string, unknown> {
    return { catalog: this.catalog.size }
  }

  localCapabilities (): LocalCapability[] {
    return this.local.list()
  }

  /** Asks `peer` for the ads it holds over /pl/catalog-sync and merges the verified ones (done by itself when peers connect). */
  async syncCatalog (peer: string, options: { signal?: AbortSignal } = {}): Promise<CatalogSyncResult> {
    this.assertStarted()
    return await this.sync.syncCatalog(peer, options)
  }

  /** Capabilities heard from peers (gossip ads, earlier DHT finds) that have not expired, up to `limit`. */
  catalogEntries (limit: number): CatalogEntry[] {
    return this.catalog.list(limit)
  }

  private announce (cap: LocalCapability): void {
    if (this.settings.gossip) this.advertiser.advertise(cap.cid, cap.descriptor)
    this.dht.provide(capNameKey(cap.descriptor.name))
    this.dht.provide(CID.parse(cap.cid))
  }

  private async remove (cap: LocalCapability, log: boolean): Promise<void> {
    await this.local.remove(cap.cid)
    this.fetcher?.unshare(cap.cid)
    if (this.settings.gossip) this.advertiser.withdraw(cap.cid, cap.descriptor)
    await this.dht.cancel(CID.parse(cap.cid))
    if (this.local.byName(cap.descriptor.name).length === 0) await this.dht.cancel(capNameKey(cap.descriptor.name))
    if (log) this.log.info({ cid: cap.cid, name: cap.descriptor.name }, 'capability unpublished')
  }

  private async answerCaps (req: CapsRequest): Promise<{ status: 'OK' | 'NOT_FOUND', body: CapsAnswer }> {
    const caps = this.local.byName(req.name).filter(c => c.active && (req.version == null || c.descriptor.version === req.version))
    return { status: caps.length > 0 ? 'OK' : 'NOT_FOUND', body: { caps: caps.slice(0, C.MAX_CAPS_PER_ANSWER).map(c => ({ cid: c.cid, ttl: this.settings.ttlMs })) } }
  }

  // ---------------------------------------------------------------- finding

  /**
   * Providers of capabilities matching `query`: this node's own, the catalog
   * (gossip and earlier DHT finds), and a DHT walk under `pl:cap:<name>` whose
   * providers are asked over `/pl/caps` for descriptors fetched by CID. On
   * timeout the results gathered so far are returned; the caller's signal
   * aborting raises FindAbortedError.
   */
  async find (query: CapabilityQuery, options: FindOptions = {}): Promise<FoundCapability[]> {
    this.assertStarted()
    return await this.finder.find(query, options)
  }

  /** Providers of one descriptor CID: this node, the catalog, then DHT records under the CID. */
  async findByCid (cid: string, options: FindOptions = {}): Promise<FoundCapability[]> {
    this.assertStarted()
    return await this.finder.findByCid(cid, options)
  }
}

/** Service factory (services map entry `discovery: discovery({...})`). */
export function discovery (init: DiscoveryInit = {}): (components: PlComponents) => Discovery {
  return (components) => new Discovery(components, init)
}

/** The ImplRef persisted for a bound module (a folder, or an external implementation). */
function implRefOf (module: ModuleSpec): ImplRef {
  if (module.external != null) return { external: module.external }
  return { dir: module.dir, ...(module.className != null ? { className: module.className } : {}), ...(module.permissions != null && module.permissions.length > 0 ? { permissions: module.permissions } : {}), ...(module.confined === true ? { confined: true } : {}) }
}
