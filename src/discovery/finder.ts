/**
 * Finding capabilities: this node's own, the catalog, and a DHT walk under
 * `pl:cap:<name>` (or a descriptor CID) whose providers are asked over
 * `/pl/caps` and whose descriptors are fetched with `/pl/fetch`, verified
 * against their CIDs. Matching (src/discovery/match.ts) runs last.
 */
import { setMaxListeners } from 'node:events'
import type { CID } from 'multiformats/cid'
import type { PeerId } from '@libp2p/interface'
import type { PlComponents } from '../node.js'
import { systemClock, timeoutSignal, type Clock, type TimerHandle } from '../core/clock.js'
import { decodeCanonical, parseCid } from '../core/encoding.js'
import { PlError } from '../core/errors.js'
import { expectOk, type ProtocolDef, type BlockFetcher } from '../net/index.js'
import type { Catalog } from './catalog.js'
import { checkCapsAnswer, type CapsAnswer, type CapsRequest } from './caps.js'
import * as C from './constants.js'
import { assertDescriptorSize, capNameKey, compareVersions } from './descriptor.js'
import { UNREACHABLE_DIAL_MS, type DhtProvider, type WalkEnd } from './dht.js'
import { DescriptorTooLargeError, FindAbortedError, InvalidCapsAnswerError, ProviderMismatchError } from './errors.js'
import type { LocalCapabilities } from './local.js'
import { matches, validateQuery, type SchemaResolver } from './match.js'
import type { CapabilityDescriptor, CapabilityQuery, CatalogEntry, FindOptions, FoundCapability, LocalCapability } from './types.js'

export type FinderComponents = Pick<PlComponents, 'identity' | 'store' | 'registry' | 'metrics' | 'logger' | 'libp2p' | 'rpc'> & Partial<Pick<PlComponents, 'clock'>>

export interface FinderInit {
  catalog: Catalog
  local: LocalCapabilities
  dht: DhtProvider
  caps: ProtocolDef<CapsRequest, CapsAnswer>
  fetcher: () => BlockFetcher
  /** expiry of this node's last ad for a capability */
  expiryOf: (cid: string) => number | undefined
  /** the service's shutdown signal */
  shutdown: () => AbortSignal
  ttlMs: number
  findTimeoutMs: number
  maxDescriptorBytes: number
}

const SOURCE_ORDER = { local: 0, gossip: 1, dht: 2 }

/** How a find's DHT walk ended: `limit` providers were known (maybe before it began), the query ran out, only dead peers were left, the time budget ran out, the caller aborted. */
export type WalkEndReason = 'limit' | 'done' | 'stalled' | 'timeout' | 'aborted'

/** Typed progress of a find (`key`: the DHT key walked, the CID of `pl:cap:<name>` or a descriptor CID). */
export type FindProgress = { type: 'pl:discovery:walk-end', key: string, reason: WalkEndReason }

/**
 * What a caller that keeps its own dead-peer memory (negotiation's
 * quarantine) adds to a find.
 */
export interface FindHooks {
  /** peers the caller knows dead: the walk does not dial them, they do not count toward `limit`, and the walk ends once it waits only for them */
  exclude?: (peer: string) => boolean
  /** a provider or DHT peer this find could not connect to (a failed dial, or one still pending after UNREACHABLE_DIAL_MS when the budget ran out) */
  onUnreachable?: (peer: string) => void
  onProgress?: (event: FindProgress) => void
}

export type FinderFindOptions = FindOptions & FindHooks

/** Errors that mean "this provider lies or is broken" (counted as rejections). */
const HOSTILE = ['CidMismatchError', 'ProviderMismatchError', 'InvalidCapsAnswerError', 'InvalidBodyError', 'DescriptorTooLargeError', 'InvalidEncodingError']

interface FindSignals {
  /** everything that ends a find */
  signal: AbortSignal
  /** the find's time budget */
  timeout: AbortSignal
  /** the caller's own signal */
  caller?: AbortSignal
}

export class Finder {
  private readonly log: FinderComponents['logger']

  /** find time budgets, expiry of what the DHT walk found @default systemClock */
  private readonly clock: Clock

  constructor (private readonly c: FinderComponents, private readonly init: FinderInit) {
    this.clock = c.clock ?? systemClock
    this.log = c.logger.child({ component: 'discovery' })
  }

  /**
   * Providers of capabilities matching `query`: this node's own, the catalog
   * (gossip and earlier DHT finds), and a DHT walk under `pl:cap:<name>` whose
   * providers are asked over `/pl/caps` for descriptors fetched by CID. On
   * timeout the results gathered so far are returned.
   */
  async find (query: CapabilityQuery, options: FinderFindOptions = {}): Promise<FoundCapability[]> {
    const q = validateQuery(query)
    const signals = this.findSignal(options)
    try {
      return await this.findWithin(q, options, signals)
    } finally {
      signals.clear()
    }
  }

  private async findWithin (q: CapabilityQuery, options: FinderFindOptions, { signal, timeout }: FindSignals): Promise<FoundCapability[]> {
    const found = new Map<string, FoundCapability>()
    const add = (f: FoundCapability): void => {
      const key = `${f.provider}/${f.cid}`
      const prev = found.get(key)
      if (prev == null || SOURCE_ORDER[f.source] < SOURCE_ORDER[prev.source]) found.set(key, f)
    }
    if (options.dhtOnly !== true) {
      for (const cap of this.init.local.byName(q.name)) {
        if (cap.active) add(this.ownFound(cap))
      }
      for (const e of this.init.catalog.find(q.name)) add({ cid: e.cid, descriptor: e.descriptor, provider: e.provider, addrs: e.addrs, expires: e.expires, source: e.source })
    }
    const live = (): number => new Set([...found.values()].map(f => f.provider).filter(p => options.exclude?.(p) !== true)).size
    const missing = (): number => options.limit == null ? Number.POSITIVE_INFINITY : options.limit - live()
    if (options.localOnly !== true) {
      if (missing() <= 0) {
        options.onProgress?.({ type: 'pl:discovery:walk-end', key: capNameKey(q.name).toString(), reason: 'limit' })
      } else {
        const skip = new Set([...found.values()].map(f => f.provider))
        await this.walk(q, { signal, timeout, caller: options.signal }, skip, add, missing, options)
      }
    }
    if (options.signal?.aborted === true) throw new FindAbortedError(`find ${q.name} aborted`)
    const out: FoundCapability[] = []
    for (const f of found.values()) {
      if (await matches(f.descriptor, q, this.resolver(f.provider, signal))) out.push(f)
    }
    return out.sort((a, b) => SOURCE_ORDER[a.source] - SOURCE_ORDER[b.source] || compareVersions(b.descriptor.version, a.descriptor.version) || a.provider.localeCompare(b.provider) || a.cid.localeCompare(b.cid))
  }

  /**
   * Providers of one descriptor CID: this node, the catalog, then the DHT
   * records under the CID itself (descriptor fetched from each provider).
   */
  async findByCid (cid: string, options: FindOptions = {}): Promise<FoundCapability[]> {
    const parsed = parseCid(cid)
    const signals = this.findSignal(options)
    try {
      return await this.findByCidWithin(parsed, options, signals)
    } finally {
      signals.clear()
    }
  }

  private async findByCidWithin (parsed: ReturnType<typeof parseCid>, options: FindOptions, { signal, timeout }: FindSignals): Promise<FoundCapability[]> {
    const key = parsed.toString()
    const out = new Map<string, FoundCapability>()
    if (options.dhtOnly !== true) {
      const own = this.init.local.get(key)
      if (own?.active === true) out.set(this.c.identity.id, this.ownFound(own))
      const known = await this.knownDescriptor(key)
      if (known != null) {
        for (const e of this.init.catalog.find(known.name)) if (e.cid === key) out.set(e.provider, { cid: key, descriptor: e.descriptor, provider: e.provider, addrs: e.addrs, expires: e.expires, source: e.source })
      }
    }
    if (options.localOnly !== true) {
      const missing = (): number => options.limit == null ? Number.POSITIVE_INFINITY : options.limit - out.size
      await this.eachProvider(parsed, { signal, timeout, caller: options.signal }, new Set(out.keys()), missing, {}, async (peer, addrs, work) => {
        const descriptor = (await this.knownDescriptor(key)) ?? await this.fetchDescriptor(peer, key, work)
        if (descriptor.provider !== peer) throw new ProviderMismatchError(`peer ${peer} provides ${key}, whose provider is ${descriptor.provider}`, { peer, cid: key, provider: descriptor.provider })
        const entry = await this.remember(descriptor, key, peer, addrs, this.init.ttlMs)
        out.set(peer, { cid: key, descriptor, provider: peer, addrs: entry.addrs, expires: entry.expires, source: 'dht' })
      })
    }
    if (options.signal?.aborted === true) throw new FindAbortedError(`find ${key} aborted`)
    return [...out.values()]
  }

  /** A find's signal: the service's shutdown, the time budget, the caller's signal. */
  private findSignal (options: FindOptions): FindSignals & { clear: () => void } {
    const timeout = timeoutSignal(this.clock, options.timeoutMs ?? this.init.findTimeoutMs)
    const signal = AbortSignal.any([this.init.shutdown(), timeout.signal, ...(options.signal != null ? [options.signal] : [])])
    setMaxListeners(Infinity, signal) // requests of the walk each listen to it
    return { signal, timeout: timeout.signal, caller: options.signal, clear: timeout.clear }
  }

  /** One of this node's own capabilities as a find result. */
  private ownFound (cap: LocalCapability): FoundCapability {
    return { cid: cap.cid, descriptor: cap.descriptor, provider: this.c.identity.id, addrs: this.c.libp2p.getMultiaddrs().map(a => a.toString()), expires: this.init.expiryOf(cap.cid) ?? this.clock.now() + this.init.ttlMs, source: 'local' }
  }

  /** DHT walk for `q.name`: ask each provider (not in `skip`) over /pl/caps, fetch descriptors this node lacks (not its own, in the catalog or in the block store). */
  private async walk (q: CapabilityQuery, signals: FindSignals, skip: Set<string>, add: (f: FoundCapability) => void, missing: () => number, hooks: FindHooks): Promise<void> {
    await this.eachProvider(capNameKey(q.name), signals, skip, missing, hooks, async (peer, addrs, signal) => {
      const res = await this.c.rpc.request(peer, this.init.caps, { name: q.name, ...(q.version != null ? { version: q.version } : {}) }, { signal })
      if (res.status === 'NOT_FOUND') return
      const answer = checkCapsAnswer(expectOk(res, C.CAPS_PROTOCOL), peer)
      const catalogued = answer.caps.length > 0 ? new Map(this.init.catalog.find(q.name).map(e => [e.cid, e.descriptor])) : undefined
      for (const { cid, ttl } of answer.caps) {
        // a catalog entry's descriptor was checked against its CID when it was admitted
        const descriptor = catalogued?.get(cid) ?? (await this.knownDescriptor(cid)) ?? await this.fetchDescriptor(peer, cid, signal)
        if (descriptor.name !== q.name) throw new InvalidCapsAnswerError(`peer ${peer} listed ${cid} for ${q.name}, but it is ${descriptor.name}`, { peer, cid })
        if (descriptor.provider !== peer) throw new ProviderMismatchError(`peer ${peer} listed ${cid}, whose provider is ${descriptor.provider}`, { peer, cid, provider: descriptor.provider })
        const entry = await this.remember(descriptor, cid, peer, addrs, ttl)
        add({ cid, descriptor, provider: peer, addrs: entry.addrs, expires: entry.expires, source: 'dht' })
      }
    })
  }

  /**
   * Runs `fn` for every DHT provider of `key` (at most FIND_CONCURRENCY at
   * once) as the walk turns them up, until the walk ends, `signal` fires, or
   * `missing()` (live providers still wanted) reaches 0: then the providers
   * still being asked are dropped (their `fn` signal aborts). While the
   * providers being asked could meet the limit by themselves, the walk is not
   * pulled further (see FIND_HEDGE_MS).
   */
  private async eachProvider (key: CID, signals: FindSignals, skip: Set<string>, missing: () => number, hooks: FindHooks, fn: (peer: string, addrs: string[], signal: AbortSignal) => Promise<void>): Promise<void> {
    const signal = signals.signal
    /** providers being asked, with when their ask started (on the clock) */
    const running = new Map<Promise<void>, number>()
    const stopWalk = new AbortController()
    const walkSignal = AbortSignal.any([signal, stopWalk.signal])
    const met = new AbortController()
    const work = AbortSignal.any([signal, met.signal])
    setMaxListeners(Infinity, walkSignal, work)
    let limited = false
    let dhtEnd = 'done' as WalkEnd
    const run = (peer: PeerId, addrs: string[]): void => {
      const started = performance.now()
      const p = fn(peer.toString(), addrs, work).then(() => {
        if (missing() <= 0) { limited = true; met.abort(); stopWalk.abort() }
      }, (err: Error) => {
        if (signal.aborted) {
          // the budget ran out while this provider was still being dialed
          if (signals.caller?.aborted !== true && performance.now() - started >= UNREACHABLE_DIAL_MS && this.c.libp2p.getConnections(peer).length === 0) hooks.onUnreachable?.(peer.toString())
          return
        }
        if (met.signal.aborted) return // dropped: the limit was met without it
        if (err.name === 'RpcDialError') hooks.onUnreachable?.(peer.toString())
        if (err instanceof PlError && HOSTILE.includes(err.name)) this.c.metrics.reject('discovery', err.name)
        this.log.debug({ peer: peer.toString(), err: err.message, name: err.name }, 'provider not usable')
      }).finally(() => { running.delete(p) })
      running.set(p, this.clock.now())
    }
    // The DHT query notices an abort only when its in-flight requests settle:
    // race each step against the signal so a find returns as soon as it has enough.
    const walk = this.init.dht.findProviders(key, walkSignal, {
      ...(hooks.exclude != null ? { isDead: hooks.exclude } : {}),
      ...(hooks.onUnreachable != null ? { onUnreachable: hooks.onUnreachable } : {}),
      onEnd: (end) => { dhtEnd = end }
    })
    const stopped = new Promise<'stopped'>((resolve) => {
      if (walkSignal.aborted) resolve('stopped')
      else walkSignal.addEventListener('abort', () => { resolve('stopped') }, { once: true })
    })
    try {
      for (;;) {
        await this.hold(running, missing, stopped, walkSignal)
        if (walkSignal.aborted) break
        const step = walk.next()
        step.catch(() => {})
        const next = await Promise.race([step, stopped])
        if (next === 'stopped' || next.done === true) break
        const info = next.value
        const id = info.id.toString()
        if (skip.has(id) || hooks.exclude?.(id) === true) continue
        skip.add(id)
        while (running.size >= C.FIND_CONCURRENCY) await Promise.race(running.keys())
        if (walkSignal.aborted) break
        run(info.id, info.multiaddrs.map(a => a.toString()))
      }
    } catch (err) {
      if (!walkSignal.aborted) this.log.debug({ key: key.toString(), err: (err as Error).message }, 'DHT walk ended with an error')
    } finally {
      stopWalk.abort()
      walk.return(undefined).catch(() => {})
    }
    await Promise.all(running.keys())
    if (hooks.onProgress != null) {
      const reason: WalkEndReason = signals.caller?.aborted === true ? 'aborted' : limited || missing() <= 0 ? 'limit' : signals.timeout.aborted ? 'timeout' : signal.aborted ? 'aborted' : dhtEnd === 'stalled' ? 'stalled' : 'done'
      hooks.onProgress({ type: 'pl:discovery:walk-end', key: key.toString(), reason })
    }
  }

  /**
   * Waits while the providers being asked for less than FIND_HEDGE_MS are
   * enough to meet the limit by themselves: until one of them settles, one
   * turns FIND_HEDGE_MS old, or the walk stops. Returns at once without a limit.
   */
  private async hold (running: Map<Promise<void>, number>, missing: () => number, stopped: Promise<'stopped'>, walkSignal: AbortSignal): Promise<void> {
    for (;;) {
      const wanted = missing()
      if (!Number.isFinite(wanted) || wanted <= 0 || walkSignal.aborted) return
      const now = this.clock.now()
      const fresh = [...running.values()].filter(t => now - t < C.FIND_HEDGE_MS)
      if (fresh.length < wanted) return
      let timer: TimerHandle | undefined
      const aged = new Promise<void>((resolve) => { timer = this.clock.setTimeout(resolve, Math.min(...fresh) + C.FIND_HEDGE_MS - now) })
      try {
        await Promise.race([...running.keys(), stopped, aged])
      } finally {
        this.clock.clearTimeout(timer)
      }
    }
  }

  /** A descriptor this node already holds (own, catalog or block store). */
  private async knownDescriptor (cid: string): Promise<CapabilityDescriptor | undefined> {
    const own = this.init.local.get(cid)
    if (own != null) return own.descriptor
    if (await this.c.store.blocks.has(cid)) {
      const d = await this.c.store.blocks.get<CapabilityDescriptor>(cid)
      if (this.c.registry.isValid('Capability.v1', d)) return d
    }
    return undefined
  }

  /** Fetches a descriptor over /pl/fetch (bytes verified against the CID), checks it, keeps it. */
  private async fetchDescriptor (peer: string, cid: string, signal: AbortSignal): Promise<CapabilityDescriptor> {
    const bytes = await this.init.fetcher().fetch(peer, cid, { signal })
    if (bytes.byteLength > this.init.maxDescriptorBytes) {
      throw new DescriptorTooLargeError(`descriptor ${cid} from ${peer} is ${bytes.byteLength} bytes, the limit is ${this.init.maxDescriptorBytes}`, { cid, peer, size: bytes.byteLength })
    }
    const descriptor = decodeCanonical<CapabilityDescriptor>(bytes)
    this.c.registry.validate('Capability.v1', descriptor)
    assertDescriptorSize(descriptor, this.init.maxDescriptorBytes)
    await this.c.store.blocks.putBytes(cid, bytes)
    return descriptor
  }

  private async remember (descriptor: CapabilityDescriptor, cid: string, peer: string, addrs: string[], ttl: number): Promise<CatalogEntry> {
    const now = this.clock.now()
    const entry: CatalogEntry = { cid, name: descriptor.name, version: descriptor.version, provider: peer, descriptor, addrs: addrs.slice(0, 32), ts: now, expires: now + Math.min(ttl, this.init.ttlMs * 10), source: 'dht' }
    await this.init.catalog.upsert(entry)
    return entry
  }

  /** Schema CIDs resolve from the block store, else from the capability's provider. */
  private resolver (provider: string, signal: AbortSignal): SchemaResolver {
    return async (cid) => {
      try {
        if (await this.c.store.blocks.has(cid)) return await this.c.store.blocks.get<Record<string, any>>(cid)
        if (provider === this.c.identity.id || signal.aborted) return undefined
        return await this.init.fetcher().fetchDocument<Record<string, any>>(provider, cid, { signal })
      } catch (err) {
        this.log.debug({ cid, provider, err: (err as Error).message }, 'schema not resolvable')
        return undefined
      }
    }
  }
}
