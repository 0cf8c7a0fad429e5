/**
 * The NATS binding of a pl-node (`services.nats: {url, prefix}`): one
 * connection to a NATS server that carries
 *   - the gossip topics this node follows: `pl/v1/catalog` on
 *     `<prefix>.catalog`, `pl/v1/cfp/<name>` on `<prefix>.cfp.<name>` (a
 *     GossipBridge: what arrives is checked and counted as gossipsub
 *     messages are, what this node publishes goes out on both);
 *   - request-reply of every RPC protocol this node serves, on
 *     `<prefix>.<peerId>.<name>` (an RpcTransport: calls.ts).
 * Peers heard on NATS (their ads, calls and answers) are called over NATS
 * while libp2p has no connection to them. The connection is retried until
 * the node stops: a server that is down at start or goes away later only
 * makes the binding wait (see `status()`).
 */
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import { Counter } from 'prom-client'
import type { PlComponents, PlService } from '../../node.js'
import type { Logger } from '../../core/logger.js'
import type { GossipBridge } from '../../net/index.js'
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js'
import { NatsCalls } from './calls.js'
import { checkPrefix, topicSubject } from './subjects.js'
import {
  DEFAULT_CALL_SKEW_MS, DEFAULT_HEARD_TTL_MS, DEFAULT_MAX_HEARD_PEERS, DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_NATS_PREFIX, DEFAULT_RECONNECT_WAIT_MS
} from './constants.js'

export interface NatsInit {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222` */
  url: string | string[]
  /** subject prefix @default DEFAULT_NATS_PREFIX ('pl.v1') */
  prefix?: string
  /** server credentials, when it asks for them */
  token?: string
  user?: string
  pass?: string
  /** wait between attempts to reach the server @default DEFAULT_RECONNECT_WAIT_MS */
  reconnectWaitMs?: number
  /** calls served at once @default DEFAULT_MAX_IN_FLIGHT */
  maxInFlight?: number
  /** largest message published @default DEFAULT_MAX_MESSAGE_BYTES (and never over the server's max_payload) */
  maxMessageBytes?: number
  /** how long a peer heard on NATS counts as reachable there @default DEFAULT_HEARD_TTL_MS */
  heardTtlMs?: number
}

export type NatsComponents = Pick<PlComponents, 'identity' | 'rpc' | 'gossip' | 'replay' | 'verifier' | 'metrics' | 'logger'> & { clock?: Clock }

export class NatsBridge implements PlService, GossipBridge {
  readonly prefix: string
  private readonly servers: string[]
  private readonly log: Logger
  private readonly clock: Clock
  private readonly calls: NatsCalls
  private readonly subjects = new Map<string, { topic: string, sub?: Subscription, ready?: boolean }>()
  private readonly heardAt = new Map<string, number>()
  private readonly messages: Counter<'direction' | 'kind'>
  private nc?: NatsConnection
  private up = false
  private reconnects = 0
  private retryTimer?: TimerHandle
  private state: 'stopped' | 'started' = 'stopped'
  private generation = 0

  constructor (private readonly c: NatsComponents, private readonly init: NatsInit) {
    this.servers = (Array.isArray(init.url) ? init.url : [init.url]).filter(u => typeof u === 'string' && u.length > 0)
    if (this.servers.length === 0) throw new TypeError('services.nats.url is required (e.g. nats://127.0.0.1:4222)')
    this.prefix = checkPrefix(init.prefix ?? DEFAULT_NATS_PREFIX)
    this.log = c.logger.child({ component: 'nats' })
    this.clock = c.clock ?? systemClock
    const existing = c.metrics.registry.getSingleMetric('pl_nats_messages_total') as Counter<'direction' | 'kind'> | undefined
    this.messages = existing ?? new Counter({ name: 'pl_nats_messages_total', help: 'NATS messages of the binding, by direction and kind (gossip, call)', labelNames: ['direction', 'kind'], registers: [c.metrics.registry] })
    this.calls = new NatsCalls(c, {
      prefix: this.prefix,
      maxInFlight: init.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
      maxMessageBytes: init.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      skewMs: c.verifier.clockSkewMs ?? DEFAULT_CALL_SKEW_MS,
      connection: () => this.nc,
      connected: () => this.up,
      heard: (peer) => { this.heard(peer) },
      reaches: (peer) => this.reaches(peer)
    })
  }

  /** Whether the connection to the NATS server is up now. */
  get connected (): boolean { return this.up }

  async start (): Promise<void> {
    if (this.state === 'started') return
    this.state = 'started'
    this.c.rpc.attach(this.calls)
    this.c.gossip.attachBridge(this)
    await this.connectOnce()
  }

  async stop (): Promise<void> {
    if (this.state === 'stopped') return
    this.state = 'stopped'
    this.generation++
    this.clock.clearTimeout(this.retryTimer)
    this.c.rpc.detach(this.calls)
    this.c.gossip.detachBridge(this)
    this.calls.stop()
    const nc = this.nc
    this.nc = undefined
    this.up = false
    for (const s of this.subjects.values()) s.sub = undefined
    this.subjects.clear()
    await nc?.close().catch(() => {})
  }

  status (): Record<string, unknown> {
    return { connected: this.up, server: this.up ? this.nc?.getServer() : undefined, reconnects: this.reconnects, heard: this.heardAt.size, prefix: this.prefix }
  }

  /**
   * One attempt at the first connection; on failure another is scheduled
   * (the client's own reconnect logic takes over once a connection existed).
   */
  private async connectOnce (): Promise<void> {
    const generation = this.generation
    try {
      const nc = await connect({
        servers: this.servers,
        name: `pl-node ${this.c.identity.id}`,
        noEcho: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: this.init.reconnectWaitMs ?? DEFAULT_RECONNECT_WAIT_MS,
        ...(this.init.token != null ? { token: this.init.token } : {}),
        ...(this.init.user != null ? { user: this.init.user, pass: this.init.pass } : {})
      })
      if (generation !== this.generation || this.state !== 'started') { await nc.close().catch(() => {}); return }
      this.nc = nc
      this.up = true
      this.calls.listen(nc)
      for (const [subject, entry] of this.subjects) this.follow(nc, subject, entry)
      void this.watch(nc)
      this.log.info({ server: nc.getServer(), prefix: this.prefix }, 'connected to NATS')
    } catch (err) {
      if (generation !== this.generation || this.state !== 'started') return
      this.log.warn({ servers: this.servers, err: (err as Error).message }, 'NATS server unreachable; retrying')
      this.retryTimer = this.clock.setTimeout(() => { void this.connectOnce() }, this.init.reconnectWaitMs ?? DEFAULT_RECONNECT_WAIT_MS)
    }
  }

  /** Follows the connection's status: disconnects and reconnects are logged and change `connected`. */
  private async watch (nc: NatsConnection): Promise<void> {
    try {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') {
          this.up = false
          this.log.warn('NATS connection lost; reconnecting')
        } else if (s.type === 'reconnect') {
          this.up = true
          this.reconnects++
          this.log.info({ server: nc.getServer() }, 'NATS connection back')
        }
      }
    } catch {}
    if (this.nc === nc) this.up = false
  }

  // ------------------------------------------------------------------ gossip bridge

  subscribe (topic: string): void {
    const subject = topicSubject(this.prefix, topic)
    if (subject == null) { this.log.debug({ topic }, 'topic has no NATS subject'); return }
    if (this.subjects.has(subject)) return
    const entry = { topic }
    this.subjects.set(subject, entry)
    if (this.nc != null) this.follow(this.nc, subject, entry)
  }

  /** Subjects whose subscription the server has confirmed (a flush after the SUB). */
  subscribed (): string[] {
    return [...this.subjects].filter(([, e]) => e.ready === true).map(([s]) => s).sort()
  }

  private follow (nc: NatsConnection, subject: string, entry: { topic: string, sub?: Subscription, ready?: boolean }): void {
    entry.sub = this.subscribeSubject(nc, subject, entry.topic)
    nc.flush().then(() => { entry.ready = true }, () => {})
  }

  unsubscribe (topic: string): void {
    const subject = topicSubject(this.prefix, topic)
    if (subject == null) return
    this.subjects.get(subject)?.sub?.unsubscribe()
    this.subjects.delete(subject)
  }

  async publish (topic: string, bytes: Uint8Array): Promise<void> {
    const subject = topicSubject(this.prefix, topic)
    if (subject == null || this.nc == null || !this.up) return
    this.nc.publish(subject, bytes)
    this.messages.inc({ direction: 'out', kind: 'gossip' })
  }

  private subscribeSubject (nc: NatsConnection, subject: string, topic: string): Subscription {
    const source = `nats:${this.servers[0]}`
    return nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err != null) return
        this.messages.inc({ direction: 'in', kind: 'gossip' })
        this.c.gossip.receiveBridged(topic, msg.data, source, (from) => { this.heard(from) })
          .catch((e: Error) => { this.log.debug({ topic, err: e.message }, 'nats gossip message dropped') })
      }
    })
  }

  // ------------------------------------------------------------------ reachability

  private heard (peer: string): void {
    if (peer === this.c.identity.id) return
    this.heardAt.delete(peer)
    this.heardAt.set(peer, this.clock.now())
    if (this.heardAt.size > DEFAULT_MAX_HEARD_PEERS) this.heardAt.delete(this.heardAt.keys().next().value as string)
  }

  /** Whether `peer` was heard on NATS within `heardTtlMs`. */
  reaches (peer: string): boolean {
    const at = this.heardAt.get(peer)
    return at != null && this.up && this.clock.now() - at <= (this.init.heardTtlMs ?? DEFAULT_HEARD_TTL_MS)
  }
}

/** Service factory: `services: { nats: nats({ url: 'nats://127.0.0.1:4222' }) }`. */
export function nats (init: NatsInit) {
  return (components: PlComponents): NatsBridge => new NatsBridge(components, init)
}
