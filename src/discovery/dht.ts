/**
 * DHT provider records of this node's capabilities: one under the CID of
 * `pl:cap:<name>` and one under each descriptor CID. A failed provide (no
 * DHT peers yet, a timeout) is retried with doubling delays; every record is
 * provided again each `reprovideMs` (kad-dht keeps records 48 h), and
 * `cancel` stops re-providing and removes our own local record.
 *
 * A record also follows the network's growth. A provide stores the record on
 * the K peers closest to the key that the walk could find then; a node that
 * provides while it (or the network) is still joining reaches few peers, and
 * not the ones a later walk converges on (measured at 100 nodes: ~10 holders
 * per key, ~3 of them among the true 20 closest; docs/SCALE.md "DHT record
 * placement"). So a key is provided again early when this node's routing table
 * has grown by a quarter since its last provide, or could now reach a quarter
 * more peers than took the record (`earlyReprovideDue`), checked every
 * `PROVIDE_GROWTH_CHECK_MS`. Each early re-provide of a key doubles its next
 * wait (up to `reprovideMs`) as it starts, whether it succeeds or not, so a
 * key costs at most ~10 early walks (and the retries of those that fail)
 * however its routing table moves, and none in a network that does not grow.
 */
import type { CID } from 'multiformats/cid'
import type { PeerInfo } from '@libp2p/interface'
import { setMaxListeners } from 'node:events'
import { MessageType } from '@libp2p/kad-dht'
import { clockInterval, systemClock, type Clock, type TimerHandle } from '../core/clock.js'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PlLibp2p } from '../net/index.js'
import type { Logger } from '../core/logger.js'
import type { Metrics } from '../core/index.js'
import { Counter } from 'prom-client'

/** How a DHT walk ended: the query ran out, only dead peers were left, or the caller stopped it. */
export type WalkEnd = 'done' | 'stalled' | 'stopped'

/** A DHT dial pending this long when the caller's budget runs out counts as unreachable. */
export const UNREACHABLE_DIAL_MS = 1_000

export interface WalkHooks {
  /** peers known dead: once the walk waits only for them, it ends */
  isDead?: (peer: string) => boolean
  /** a DHT peer the walk could not connect to (its dial failed, or was still pending after `unreachableAfterMs` when the caller stopped the walk) */
  onUnreachable?: (peer: string) => void
  /** @default UNREACHABLE_DIAL_MS */
  unreachableAfterMs?: number
  onEnd?: (end: WalkEnd) => void
}

/** Kademlia's K: kad-dht's default bucket size and replication (src/net/libp2p.ts keeps it). */
export const KAD_K = 20
/** How much larger a routing table must be than at a key's last provide (or the peers that took it) for an early re-provide. */
export const PROVIDE_GROWTH = 1.25
/** How often keys are checked for an early re-provide, and the first wait after a provide before one. */
export const PROVIDE_GROWTH_CHECK_MS = 30_000

/** What a key's last provide reached: when, how many peers took the record, the routing table's size then; the wait before an early re-provide. */
export interface ProvideReach { at: number, stored: number, rt: number, earlyWait: number }

/**
 * Whether a key provided as `last` says should be provided again now, before
 * its regular re-provide: its wait is over, and the routing table (`rtNow`
 * peers) has grown by a quarter since, or could reach a quarter more peers
 * than took the record (at most K).
 */
export function earlyReprovideDue (last: ProvideReach, rtNow: number, now: number): boolean {
  if (now - last.at < last.earlyWait) return false
  return rtNow >= PROVIDE_GROWTH * Math.max(1, last.rt) || Math.min(KAD_K, rtNow) >= PROVIDE_GROWTH * Math.max(1, last.stored)
}

/** Why a provide ran: `provide()`, a retry after a failure, the regular re-provide, or an early one (the routing table grew). */
export type ProvideKind = 'first' | 'retry' | 'regular' | 'early'

export interface DhtProviderInit {
  /** counts provides as `pl_dht_provides_total{area, kind, result}` in this node's registry */
  metrics?: Metrics
  /** the service whose records these are @default 'discovery' */
  area?: string
  reprovideMs: number
  retryMs: number
  retryMaxMs: number
  /** re-provide and retry timers @default systemClock */
  clock?: Clock
}

export class DhtProvider {
  private readonly keys = new Map<string, { cid: CID, retry?: TimerHandle, delay: number, running: boolean, reach?: ProvideReach }>()
  private shutdown = new AbortController()
  private reprovideTimer?: { clear: () => void }
  private growthTimer?: { clear: () => void }
  private running = false

  private readonly clock: Clock
  private readonly provides?: Counter<'area' | 'kind' | 'result'>
  private readonly area: string

  constructor (private readonly libp2p: PlLibp2p, private readonly logger: Logger, private readonly init: DhtProviderInit) {
    this.clock = init.clock ?? systemClock
    this.area = init.area ?? 'discovery'
    // one counter per node, shared by the services that provide (discovery, registry, trust)
    const registry = init.metrics?.registry
    if (registry != null) {
      this.provides = (registry.getSingleMetric('pl_dht_provides_total') as Counter<'area' | 'kind' | 'result'> | undefined) ??
        new Counter({ name: 'pl_dht_provides_total', help: 'DHT provides of this node\'s records, by service, why they ran (first, retry, regular, early) and result', labelNames: ['area', 'kind', 'result'], registers: [registry] })
    }
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.shutdown = new AbortController()
    setMaxListeners(Infinity, this.shutdown.signal) // one listener per provide in flight
    this.reprovideTimer = clockInterval(this.clock, () => {
      for (const k of this.keys.keys()) this.run(k, 'regular')
    }, this.init.reprovideMs)
    this.growthTimer = clockInterval(this.clock, () => { this.followGrowth() }, PROVIDE_GROWTH_CHECK_MS)
  }

  stop (): void {
    this.running = false
    this.reprovideTimer?.clear()
    this.growthTimer?.clear()
    this.shutdown.abort()
    for (const k of this.keys.values()) this.clock.clearTimeout(k.retry)
    this.keys.clear()
  }

  /** Announces this node as a provider of `cid` (in the background, retried until it succeeds). */
  provide (cid: CID): void {
    const key = cid.toString()
    if (!this.keys.has(key)) this.keys.set(key, { cid, delay: this.init.retryMs, running: false })
    if (this.running) this.run(key, 'first')
  }

  /** Stops providing `cid`: no more re-provides, and our own record is removed locally. */
  async cancel (cid: CID): Promise<void> {
    const k = this.keys.get(cid.toString())
    if (k != null) this.clock.clearTimeout(k.retry)
    this.keys.delete(cid.toString())
    try {
      await this.libp2p.contentRouting.cancelReprovide(cid)
    } catch (err) {
      this.logger.debug({ cid: cid.toString(), err: (err as Error).message }, 'cancelReprovide failed')
    }
  }

  /**
   * Providers of `cid` found by the DHT walk (this node excluded), as the
   * walk finds them; their addresses go to the peer store. With `hooks.isDead`
   * the walk ends ("stalled") as soon as every DHT request still in flight
   * goes to a peer known dead and nothing else is queued: kad-dht would wait
   * out each dead peer's dial (5 s and more) before ending its query.
   */
  async * findProviders (cid: CID, signal: AbortSignal, hooks: WalkHooks = {}): AsyncGenerator<PeerInfo> {
    const self = this.libp2p.peerId.toString()
    const seen = new Set<string>()
    const stop = new AbortController()
    const walkSignal = AbortSignal.any([signal, stop.signal])
    setMaxListeners(Infinity, walkSignal)
    // kad requests in flight (dial started; `connected` once the query was sent) and peers queued per disjoint path
    const pending = new Map<string, { since: number, connected: boolean }>()
    const queued = new Map<number, number>()
    const isDead = hooks.isDead
    // every path starts dialing at once, before any answer can arrive: after one answer, `queued` covers every path
    let answered = 0
    const stalled = (): boolean => isDead != null && answered > 0 && pending.size > 0 && [...queued.values()].every(n => n === 0) && [...pending.keys()].every(p => isDead(p))
    let end: WalkEnd = 'done'
    try {
      for await (const ev of this.libp2p.services.dht.findProviders(cid, { signal: walkSignal })) {
        if ('path' in ev && ev.path != null) queued.set(ev.path.index, ev.path.queued)
        switch (ev.name) {
          case 'DIAL_PEER':
            pending.set(ev.peer.toString(), { since: performance.now(), connected: false })
            break
          case 'SEND_QUERY': {
            const p = pending.get(ev.to.toString())
            if (p != null) p.connected = true
            break
          }
          case 'PEER_RESPONSE':
            answered++
            pending.delete(ev.from.toString())
            break
          case 'QUERY_ERROR': {
            const id = ev.from.toString()
            const p = pending.get(id)
            pending.delete(id)
            // a dial that failed (not one we gave up on) while no connection to the peer is left: it is unreachable.
            // A peer we hold a connection with is alive: a peer behind NAT reached through a circuit relay has only a
            // limited connection, which kad-dht does not run on — its query fails, yet /pl/* protocols reach it.
            if (p != null && !p.connected && !walkSignal.aborted && this.libp2p.getConnections(peerIdFromString(id)).length === 0) hooks.onUnreachable?.(id)
            break
          }
          case 'PROVIDER':
            for (const peer of ev.providers) {
              const id = peer.id.toString()
              if (id === self || seen.has(id)) continue
              seen.add(id)
              if (peer.multiaddrs.length > 0) await this.libp2p.peerStore.merge(peer.id, { multiaddrs: peer.multiaddrs }).catch(() => {})
              yield peer
            }
            break
          default:
        }
        if (stalled()) {
          end = 'stalled'
          break
        }
      }
    } catch (err) {
      if (!walkSignal.aborted) throw err
      end = 'stopped'
    } finally {
      if (end === 'done' && walkSignal.aborted) end = 'stopped'
      if (signal.aborted) {
        // the caller's budget ran out while dials were still pending: a peer that
        // could not be connected to in all that time is unreachable
        const now = performance.now()
        for (const [id, p] of pending) {
          if (!p.connected && now - p.since >= (hooks.unreachableAfterMs ?? UNREACHABLE_DIAL_MS) && this.libp2p.getConnections(peerIdFromString(id)).length === 0) hooks.onUnreachable?.(id)
        }
      }
      stop.abort()
      hooks.onEnd?.(end)
    }
  }

  /** One provide: the closest peers' walk, then ADD_PROVIDER to each; the number of peers that took the record (fails if none did). */
  private async provideOnce (cid: CID): Promise<number> {
    let stored = 0
    for await (const ev of this.libp2p.services.dht.provide(cid, { signal: this.shutdown.signal })) {
      if (ev.name === 'PEER_RESPONSE' && ev.messageType === MessageType.ADD_PROVIDER) stored++
    }
    if (stored === 0) throw new Error('no DHT peer took the provider record')
    return stored
  }

  /** Provides again, early, every key whose record the routing table's growth may have left on the wrong peers. */
  private followGrowth (): void {
    const rt = this.libp2p.services.dht.routingTable.size
    const now = this.clock.now()
    for (const [key, k] of this.keys) {
      if (k.reach == null || k.running || k.retry != null || !earlyReprovideDue(k.reach, rt, now)) continue
      this.logger.debug({ cid: key, stored: k.reach.stored, rtThen: k.reach.rt, rt }, 'routing table grew since the last provide; providing again')
      // doubled as it starts: an early provide that fails (and is retried) still uses up its turn
      k.reach.earlyWait = Math.min(this.init.reprovideMs, k.reach.earlyWait * 2)
      this.run(key, 'early')
    }
  }

  private run (key: string, kind: ProvideKind): void {
    const k = this.keys.get(key)
    if (k == null || k.running || !this.running) return
    k.running = true
    this.clock.clearTimeout(k.retry)
    k.retry = undefined
    this.provideOnce(k.cid).then((stored) => {
      this.provides?.inc({ area: this.area, kind, result: 'ok' })
      k.running = false
      k.delay = this.init.retryMs
      k.reach = { at: this.clock.now(), stored, rt: this.libp2p.services.dht.routingTable.size, earlyWait: k.reach?.earlyWait ?? PROVIDE_GROWTH_CHECK_MS }
      this.logger.debug({ cid: key, stored, rt: k.reach.rt }, 'provided on the DHT')
    }, (err: Error) => {
      if (!this.shutdown.signal.aborted) this.provides?.inc({ area: this.area, kind, result: 'failed' })
      k.running = false
      if (!this.running || this.keys.get(key) !== k) return
      // equal jitter: keys that failed together (a lost connection) do not all retry at the same instant
      const wait = Math.round(k.delay / 2 + Math.random() * k.delay / 2)
      this.logger.debug({ cid: key, err: err.message, retryMs: wait }, 'DHT provide failed; retrying')
      k.retry = this.clock.setTimeout(() => { this.run(key, 'retry') }, wait)
      k.delay = Math.min(this.init.retryMaxMs, k.delay * 2)
    })
  }
}
