/**
 * Keeps this node joined to its bootstrap peers and relays: dials each
 * address at start and again, with exponential backoff and equal jitter,
 * whenever it is not connected to that peer (the peer was down at start,
 * restarted, or the connection dropped). libp2p's bootstrap module dials only
 * once at start; this is the node's one redialer (PlNode runs it for every
 * node). A relay is kept like a bootstrap: once its connection is back, the
 * relay client's bare `/p2p-circuit` listen address reserves a slot on it
 * again. Each failure is reported once per cause with what is wrong
 * (`unreachable: ECONNREFUSED …`, `peer id mismatch: …`); a join clears it.
 * Every timer runs on the clock from the components (a FakeClock in tests).
 *
 * An address without `/p2p/<peerId>` is accepted only with `learnIds` (the
 * `--learn-bootstrap-ids` flag, for trusted networks such as a compose
 * network): the keeper dials it, takes whatever peer answers as that
 * bootstrap and keeps that id for later reconnects of the same address.
 *
 * @example
 * const keeper = new BootstrapKeeper({ libp2p, logger }, { addrs: ['/dns4/bootstrap/tcp/4001'], learnIds: true, relays: ['/dns4/relay/tcp/4001/p2p/12D3KooW...'] })
 * keeper.start()   // joins in the background
 * keeper.status()  // [{ addr, kind, peerId, connected, attempts, problem? }]
 * keeper.stop()
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { systemClock, timeoutSignal, type Clock, type TimerHandle } from '../core/clock.js'
import type { Logger } from '../core/logger.js'
import { bootstrapPeerId, hasPeerId, withoutPeerId } from './libp2p.js'

/** First retry after a failed dial or a lost bootstrap. @default 1 s */
export const BOOTSTRAP_MIN_BACKOFF_MS = 1_000
/** Retries back off (doubling, then jittered between half and all of it) up to this. @default 60 s */
export const BOOTSTRAP_MAX_BACKOFF_MS = 60_000
/** Budget of one dial. @default 10 s */
export const BOOTSTRAP_DIAL_MS = 10_000

/** What the keeper needs of libp2p (a real node in production, a stand-in in unit tests). */
export interface KeeperLibp2p {
  dial: (addr: Multiaddr, options: { signal: AbortSignal }) => Promise<{ remotePeer: { toString: () => string }, close: () => Promise<void> }>
  getConnections: (peer?: any) => Array<{ remotePeer: { toString: () => string } }>
  addEventListener: (type: 'peer:connect' | 'peer:disconnect', fn: (ev: CustomEvent<{ toString: () => string }>) => void) => void
  removeEventListener: (type: 'peer:connect' | 'peer:disconnect', fn: (ev: CustomEvent<{ toString: () => string }>) => void) => void
}

export interface BootstrapKeeperComponents {
  libp2p: KeeperLibp2p
  logger: Logger
  /** @default systemClock */
  clock?: Clock
}

export interface BootstrapKeeperInit {
  addrs: string[]
  /** relays to keep connected too (multiaddrs with `/p2p/<peerId>`; an address also in `addrs` is kept once) @default [] */
  relays?: string[]
  /** accept addresses without `/p2p/<peerId>` and learn the id from whoever answers @default false */
  learnIds?: boolean
  /** @default BOOTSTRAP_MIN_BACKOFF_MS */
  minBackoffMs?: number
  /** @default BOOTSTRAP_MAX_BACKOFF_MS */
  maxBackoffMs?: number
  /** @default BOOTSTRAP_DIAL_MS */
  dialTimeoutMs?: number
  /** the jitter's random source, in [0, 1) @default Math.random */
  random?: () => number
}

export interface BootstrapState {
  addr: string
  /** a bootstrap peer, or a relay this node reserves a slot on */
  kind: 'bootstrap' | 'relay'
  /** pinned in the address, or learned from the peer that answered */
  peerId?: string
  pinned: boolean
  connected: boolean
  /** failed dials since the last join */
  attempts: number
  /** when the next dial is due (ms since epoch), while not connected */
  nextDialAt?: number
  /** the last failure, until the next join */
  problem?: string
}

/** The first line of an error, and the socket error code under it when there is one. */
export function describeDialError (err: unknown): string {
  const codes: string[] = []
  const visit = (e: any, depth: number): void => {
    if (e == null || depth > 4) return
    if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) codes.push(e.code)
    for (const x of Array.isArray(e.errors) ? e.errors : []) visit(x, depth + 1)
    visit(e.cause, depth + 1)
  }
  visit(err, 0)
  const e = err as Error
  const line = `${e?.name ?? 'Error'}: ${String(e?.message ?? err).split('\n')[0]}`
  return codes.length > 0 ? `${codes[0]} (${line})` : line
}

interface Entry extends BootstrapState { timer?: TimerHandle, dialing: boolean }

export class BootstrapKeeper {
  private readonly entries: Entry[]
  private readonly clock: Clock
  private readonly minBackoffMs: number
  private readonly maxBackoffMs: number
  private readonly dialTimeoutMs: number
  private readonly random: () => number
  private shutdown = new AbortController()
  private running = false

  constructor (private readonly components: BootstrapKeeperComponents, init: BootstrapKeeperInit) {
    this.clock = components.clock ?? systemClock
    this.minBackoffMs = init.minBackoffMs ?? BOOTSTRAP_MIN_BACKOFF_MS
    this.maxBackoffMs = init.maxBackoffMs ?? BOOTSTRAP_MAX_BACKOFF_MS
    this.dialTimeoutMs = init.dialTimeoutMs ?? BOOTSTRAP_DIAL_MS
    this.random = init.random ?? Math.random
    const addrs = init.addrs.filter(a => a.length > 0)
    this.entries = addrs.map((addr): Entry => {
      // refuses a bad entry (not a multiaddr; no peer id without learnIds) before anything starts
      const pinned = init.learnIds !== true || hasPeerId(addr)
      return { addr, kind: 'bootstrap', peerId: pinned ? bootstrapPeerId(addr) : undefined, pinned, connected: false, attempts: 0, dialing: false }
    })
    // a relay always names its peer id (the reservation is on that peer)
    for (const addr of new Set((init.relays ?? []).filter(a => a.length > 0 && !addrs.includes(a)))) {
      this.entries.push({ addr, kind: 'relay', peerId: bootstrapPeerId(addr), pinned: true, connected: false, attempts: 0, dialing: false })
    }
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.shutdown = new AbortController()
    this.components.libp2p.addEventListener('peer:connect', this.onConnect)
    this.components.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    for (const e of this.entries) void this.dial(e)
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    this.shutdown.abort()
    this.components.libp2p.removeEventListener('peer:connect', this.onConnect)
    this.components.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    for (const e of this.entries) { this.clock.clearTimeout(e.timer); e.timer = undefined; e.nextDialAt = undefined }
  }

  status (): BootstrapState[] {
    return this.entries.map(({ timer, dialing, ...state }) => ({ ...state }))
  }

  /** Failure messages of bootstrap entries not joined now (for `GET /health` warnings). */
  problems (): string[] {
    return this.entries.filter(e => !e.connected && e.problem != null).map(e => `${e.kind} ${e.addr}: ${String(e.problem)}`)
  }

  private readonly onConnect = (ev: CustomEvent<{ toString: () => string }>): void => {
    const id = ev.detail.toString()
    for (const e of this.entries) if (e.peerId === id) this.joined(e)
  }

  private readonly onDisconnect = (ev: CustomEvent<{ toString: () => string }>): void => {
    const id = ev.detail.toString()
    for (const e of this.entries) {
      if (e.peerId !== id || this.components.libp2p.getConnections().some(c => c.remotePeer.toString() === id)) continue
      e.connected = false
      this.components.logger.warn({ [e.kind]: e.addr, peerId: id }, `lost the ${e.kind} peer; redialing with backoff`)
      this.schedule(e, this.jittered(this.minBackoffMs))
    }
  }

  private joined (e: Entry): void {
    if (e.problem != null) this.components.logger.info({ [e.kind]: e.addr, peerId: e.peerId, attempts: e.attempts }, `joined the ${e.kind} peer`)
    e.connected = true
    e.attempts = 0
    e.problem = undefined
    e.nextDialAt = undefined
    this.clock.clearTimeout(e.timer)
    e.timer = undefined
  }

  private schedule (e: Entry, delayMs: number): void {
    if (!this.running || e.timer != null) return
    e.nextDialAt = this.clock.now() + delayMs
    e.timer = this.clock.setTimeout(() => { e.timer = undefined; void this.dial(e) }, delayMs)
  }

  /** The ceiling of the delay before the next dial after `attempts` failures: min · 2^(attempts-1), capped. */
  backoff (attempts: number): number {
    return Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** Math.max(0, Math.min(attempts - 1, 30)))
  }

  /** Equal jitter (half fixed, half random): nodes that lost a bootstrap together do not redial it in lockstep. */
  private jittered (ceiling: number): number {
    return Math.round(ceiling / 2 + this.random() * ceiling / 2)
  }

  private async dial (e: Entry): Promise<void> {
    if (!this.running || e.dialing) return
    if (e.peerId != null && this.components.libp2p.getConnections().some(c => c.remotePeer.toString() === e.peerId)) { this.joined(e); return }
    e.dialing = true
    e.nextDialAt = undefined
    try {
      const problem = await this.tryDial(e)
      if (!this.running) return
      if (problem == null) { this.joined(e); return }
      e.attempts++
      if (problem !== e.problem) this.components.logger.warn({ [e.kind]: e.addr, attempts: e.attempts }, `${e.kind} ${e.addr}: ${problem}`)
      e.problem = problem
      this.schedule(e, this.jittered(this.backoff(e.attempts)))
    } finally {
      e.dialing = false
    }
  }

  /** One dial of the entry; undefined when joined, else what is wrong. */
  private async tryDial (e: Entry): Promise<string | undefined> {
    const { libp2p, logger } = this.components
    const once = async <T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> => {
      const t = timeoutSignal(this.clock, this.dialTimeoutMs)
      try {
        return await fn(AbortSignal.any([this.shutdown.signal, t.signal]))
      } finally {
        t.clear()
      }
    }
    if (!e.pinned) {
      try {
        const conn = await once(async signal => await libp2p.dial(withoutPeerId(e.addr), { signal }))
        const id = conn.remotePeer.toString()
        if (e.peerId !== id) logger.info({ bootstrap: e.addr, peerId: id, previous: e.peerId }, 'learned the bootstrap peer id from the peer that answered')
        e.peerId = id
        return undefined
      } catch (err) {
        return `unreachable: ${describeDialError(err)}`
      }
    }
    try {
      await once(async signal => await libp2p.dial(multiaddr(e.addr), { signal }))
      return undefined
    } catch (err) {
      if (this.shutdown.signal.aborted) return undefined
      let cause = `unreachable: ${describeDialError(err)}`
      try {
        // who answers there? dialing without /p2p learns its id
        const conn = await once(async signal => await libp2p.dial(withoutPeerId(e.addr), { signal }))
        const remote = conn.remotePeer.toString()
        if (remote === e.peerId) return undefined // reachable after all (a transient failure)
        cause = `peer id mismatch: expected ${String(e.peerId)}, remote is ${remote}`
        await conn.close().catch(() => {})
      } catch (err2) {
        cause = `unreachable: ${describeDialError(err2)}`
      }
      return cause
    }
  }
}
