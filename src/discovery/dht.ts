/**
 * DHT provider records of this node's capabilities: one under the CID of
 * `pl:cap:<name>` and one under each descriptor CID. A failed provide (no
 * DHT peers yet, a timeout) is retried with doubling delays; every record is
 * provided again each `reprovideMs` (kad-dht keeps records 48 h), and
 * `cancel` stops re-providing and removes our own local record.
 */
import type { CID } from 'multiformats/cid'
import type { PeerInfo } from '@libp2p/interface'
import { setMaxListeners } from 'node:events'
import { MessageType } from '@libp2p/kad-dht'
import { clockInterval, systemClock, type Clock, type TimerHandle } from '../core/clock.js'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PlLibp2p } from '../net/index.js'
import type { Logger } from '../core/logger.js'

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

export interface DhtProviderInit {
  reprovideMs: number
  retryMs: number
  retryMaxMs: number
  /** re-provide and retry timers @default systemClock */
  clock?: Clock
}

export class DhtProvider {
  private readonly keys = new Map<string, { cid: CID, retry?: TimerHandle, delay: number, running: boolean }>()
  private shutdown = new AbortController()
  private reprovideTimer?: { clear: () => void }
  private running = false

  private readonly clock: Clock

  constructor (private readonly libp2p: PlLibp2p, private readonly logger: Logger, private readonly init: DhtProviderInit) {
    this.clock = init.clock ?? systemClock
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.shutdown = new AbortController()
    setMaxListeners(Infinity, this.shutdown.signal) // one listener per provide in flight
    this.reprovideTimer = clockInterval(this.clock, () => {
      for (const k of this.keys.keys()) this.run(k)
    }, this.init.reprovideMs)
  }

  stop (): void {
    this.running = false
    this.reprovideTimer?.clear()
    this.shutdown.abort()
    for (const k of this.keys.values()) this.clock.clearTimeout(k.retry)
    this.keys.clear()
  }

  /** Announces this node as a provider of `cid` (in the background, retried until it succeeds). */
  provide (cid: CID): void {
    const key = cid.toString()
    if (!this.keys.has(key)) this.keys.set(key, { cid, delay: this.init.retryMs, running: false })
    if (this.running) this.run(key)
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

  /** One provide: the closest peers' walk, then ADD_PROVIDER to each; fails unless at least one peer took the record. */
  private async provideOnce (cid: CID): Promise<void> {
    let stored = 0
    for await (const ev of this.libp2p.services.dht.provide(cid, { signal: this.shutdown.signal })) {
      if (ev.name === 'PEER_RESPONSE' && ev.messageType === MessageType.ADD_PROVIDER) stored++
    }
    if (stored === 0) throw new Error('no DHT peer took the provider record')
  }

  private run (key: string): void {
    const k = this.keys.get(key)
    if (k == null || k.running || !this.running) return
    k.running = true
    this.clock.clearTimeout(k.retry)
    k.retry = undefined
    this.provideOnce(k.cid).then(() => {
      k.running = false
      k.delay = this.init.retryMs
      this.logger.debug({ cid: key }, 'provided on the DHT')
    }, (err: Error) => {
      k.running = false
      if (!this.running || this.keys.get(key) !== k) return
      // equal jitter: keys that failed together (a lost connection) do not all retry at the same instant
      const wait = Math.round(k.delay / 2 + Math.random() * k.delay / 2)
      this.logger.debug({ cid: key, err: err.message, retryMs: wait }, 'DHT provide failed; retrying')
      k.retry = this.clock.setTimeout(() => { this.run(key) }, wait)
      k.delay = Math.min(this.init.retryMaxMs, k.delay * 2)
    })
  }
}
