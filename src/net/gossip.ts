/**
 * Signed envelopes over gossipsub. The topic validator decodes (with a size
 * limit) and verifies every message before gossipsub forwards it, mapping
 * failures to Reject (forged, malformed: the sender loses score) or Ignore
 * (stale, duplicate). Publishing is rate-limited: gossipsub has no
 * backpressure, and a fast publisher makes latency grow to seconds.
 */
import { systemClock, type Clock } from '../core/clock.js'
import { TopicValidatorResult, type GossipSub } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { decodeCanonical, encodeCanonical } from '../core/encoding.js'
import type { Envelope, EnvelopeVerifier, VerifiedEnvelope, Metrics } from '../core/index.js'
import type { ReplayStore } from '../store/index.js'
import type { Logger } from '../core/logger.js'
import { PlError } from '../core/errors.js'

export class GossipRateLimitedError extends PlError {
  override name = 'GossipRateLimitedError'
}

/** A gossip message received or to be published is over the gossip size limit (default 256 KiB). */
export class GossipMessageTooLargeError extends PlError {
  override name = 'GossipMessageTooLargeError'
}

export interface GossipHandler {
  /** envelope types accepted on this topic */
  types: string[]
  /** extra checks after signature verification; throw a PlError to refuse */
  validate?: (verified: VerifiedEnvelope<any>, propagationSource: string) => void | 'ignore'
  onMessage: (verified: VerifiedEnvelope<any>, propagationSource: string) => void | Promise<void>
}

/**
 * Another carrier of the same topics (the NATS binding, src/bridges/nats):
 * it is told which topics this node follows and gets every envelope this
 * node publishes; what it receives goes through `Gossip.receiveBridged`,
 * the same checks, counting and delivery as a gossipsub message.
 */
export interface GossipBridge {
  subscribe: (topic: string) => void
  unsubscribe: (topic: string) => void
  publish: (topic: string, bytes: Uint8Array) => Promise<void>
}

export type BridgedResult = { result: 'accept', from: string } | { result: 'ignore' | 'reject' }

export interface GossipInit {
  /** @default 256 KiB */
  maxMessageBytes?: number
  /** publishes per second allowed from this node (token bucket) @default 50 */
  publishRate?: number
  /**
   * The network this node is on (`pl-node --network`): topics `pl/v1/...`
   * go on the wire as `pl/<network>/v1/...`, so separate networks never share
   * a topic. Callers keep using the plain names.
   * @default undefined (the default network: topics as named)
   */
  network?: string
}

const IGNORE_ERRORS = new Set(['EnvelopeExpiredError', 'ClockSkewError', 'ReplayError', 'NotForMeError'])

export interface GossipComponents {
  pubsub: GossipSub
  verifier: EnvelopeVerifier
  replay: ReplayStore
  metrics: Metrics
  logger: Logger
  /** refills the publish rate's tokens @default systemClock */
  clock?: Clock
}

export class Gossip {
  private readonly handlers = new Map<string, GossipHandler>()
  /** envelopes verified by the topic validator, so delivery does not verify again */
  private readonly validated = new WeakMap<Uint8Array, VerifiedEnvelope<any>>()
  private readonly maxBytes: number
  private readonly rate: number
  private tokens: number
  private lastRefill: number
  private readonly clock: Clock
  /** `gossipsub:message` (not `message`): only it carries the propagation source the handlers charge */
  private readonly onMessageEvent = (evt: CustomEvent<any>): void => { void this.deliver(evt.detail) }
  private started = false
  private readonly bridges: GossipBridge[] = []
  /** the network this node is on (GossipInit.network); other protocols named per network take it from here */
  readonly network?: string

  constructor (private readonly c: GossipComponents, init: GossipInit = {}) {
    this.network = init.network
    this.maxBytes = init.maxMessageBytes ?? 256 * 1024
    this.rate = init.publishRate ?? 50
    this.tokens = this.rate
    this.clock = c.clock ?? systemClock
    this.lastRefill = this.clock.now()
  }

  start (): void {
    if (this.started) return
    this.started = true
    this.c.pubsub.addEventListener('gossipsub:message', this.onMessageEvent)
  }

  stop (): void {
    if (!this.started) return
    this.started = false
    this.c.pubsub.removeEventListener('gossipsub:message', this.onMessageEvent)
    for (const topic of this.handlers.keys()) {
      this.c.pubsub.topicValidators.delete(topic)
      try { this.c.pubsub.unsubscribe(topic) } catch {}
      for (const b of this.bridges) b.unsubscribe(topic)
    }
    this.handlers.clear()
  }

  /** The topic name on the wire: `pl/v1/catalog` → `pl/<network>/v1/catalog` on a named network. */
  wireTopic (topic: string): string {
    return this.network == null ? topic : topic.replace(/^pl\//, `pl/${this.network}/`)
  }

  subscribe (name: string, handler: GossipHandler): void {
    const topic = this.wireTopic(name)
    this.handlers.set(topic, handler)
    this.c.pubsub.topicValidators.set(topic, (peer: PeerId, msg: any) => this.validate(topic, peer.toString(), msg.data as Uint8Array))
    this.c.pubsub.subscribe(topic)
    for (const b of this.bridges) b.subscribe(topic)
  }

  unsubscribe (name: string): void {
    const topic = this.wireTopic(name)
    this.handlers.delete(topic)
    this.c.pubsub.topicValidators.delete(topic)
    try { this.c.pubsub.unsubscribe(topic) } catch {}
    for (const b of this.bridges) b.unsubscribe(topic)
  }

  /** Adds a bridge and tells it the topics followed so far. */
  attachBridge (bridge: GossipBridge): void {
    if (this.bridges.includes(bridge)) return
    this.bridges.push(bridge)
    for (const topic of this.handlers.keys()) bridge.subscribe(topic)
  }

  detachBridge (bridge: GossipBridge): void {
    const i = this.bridges.indexOf(bridge)
    if (i >= 0) this.bridges.splice(i, 1)
  }

  /**
   * A message that came over a bridge: checked, counted and delivered as a
   * gossipsub message is. An envelope already received (over gossipsub or
   * another bridge) is ignored before the topic's own checks, as gossipsub
   * drops duplicates before validation. `onAccept` learns the signer of an
   * accepted message before its delivery (the bridge can then answer it).
   */
  async receiveBridged (topic: string, data: Uint8Array, source: string, onAccept?: (from: string) => void): Promise<BridgedResult> {
    const handler = this.handlers.get(topic)
    if (handler == null) return { result: 'ignore' }
    let verified: VerifiedEnvelope<any>
    try {
      verified = this.decode(topic, data, source)
    } catch (err) {
      return { result: this.refused(topic, source, err) === TopicValidatorResult.Ignore ? 'ignore' : 'reject' }
    }
    if (await this.c.replay.has(verified.id)) {
      this.c.metrics.gossip.inc({ topic, result: 'ignore' })
      return { result: 'ignore' }
    }
    const checked = this.validate(topic, source, data, verified)
    if (checked !== TopicValidatorResult.Accept) return { result: checked === TopicValidatorResult.Ignore ? 'ignore' : 'reject' }
    onAccept?.(verified.envelope.from)
    await this.deliverVerified(topic, handler, verified, source)
    return { result: 'accept', from: verified.envelope.from }
  }

  private decode (topic: string, data: Uint8Array, source: string): VerifiedEnvelope<any> {
    const handler = this.handlers.get(topic)
    if (handler == null) throw new PlError(`not subscribed to ${topic}`)
    if (data.byteLength > this.maxBytes) throw new GossipMessageTooLargeError(`gossip message of ${data.byteLength} bytes on ${topic} from ${source} exceeds ${this.maxBytes}`, { topic, source, size: data.byteLength, max: this.maxBytes })
    const verified = this.c.verifier.verifyStateless(decodeCanonical(data), { expectedTypes: handler.types })
    return verified
  }

  private validate (topic: string, source: string, data: Uint8Array, decoded?: VerifiedEnvelope<any>): TopicValidatorResult {
    try {
      const verified = decoded ?? this.decode(topic, data, source)
      this.validated.set(data, verified)
      const extra = this.handlers.get(topic)?.validate?.(verified, source)
      if (extra === 'ignore') {
        this.c.metrics.gossip.inc({ topic, result: 'ignore' })
        return TopicValidatorResult.Ignore
      }
      this.c.metrics.gossip.inc({ topic, result: 'accept' })
      return TopicValidatorResult.Accept
    } catch (err) {
      return this.refused(topic, source, err)
    }
  }

  /** Counts a refused message; stale and duplicate ones are Ignore, the rest Reject (the sender loses score). */
  private refused (topic: string, source: string, err: unknown): TopicValidatorResult {
    const name = (err as Error).name
    this.c.metrics.reject('gossip', name)
    const result = IGNORE_ERRORS.has(name) ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
    this.c.metrics.gossip.inc({ topic, result })
    this.c.logger.debug({ topic, source, err: (err as Error).message, result }, 'gossip message refused')
    return result
  }

  private async deliver (detail: any): Promise<void> {
    const msg = detail?.msg ?? detail
    const topic: string = msg?.topic
    const handler = this.handlers.get(topic)
    if (handler == null) return
    const source = detail?.propagationSource?.toString() ?? ''
    let verified: VerifiedEnvelope<any>
    try {
      verified = this.validated.get(msg.data) ?? this.decode(topic, msg.data, source)
    } catch (err) {
      this.c.metrics.reject('gossip', (err as Error).name)
      this.c.logger.debug({ topic, err: (err as Error).message }, 'gossip message dropped')
      return
    }
    await this.deliverVerified(topic, handler, verified, source)
  }

  private async deliverVerified (topic: string, handler: GossipHandler, verified: VerifiedEnvelope<any>, source: string): Promise<void> {
    try {
      // the signed ts lets a new envelope skip the replay store's database read (ReplayStore.add): every
      // re-ad at rest used to cost a LevelDB get; an old envelope (ts at or before the horizon) is still looked up
      if (!await this.c.replay.add(verified.id, verified.envelope.exp, verified.envelope.ts)) {
        // a replay past gossipsub's own seen cache (2 min): refused here, and counted as one
        this.c.metrics.reject('gossip', 'ReplayError')
        return
      }
      await handler.onMessage(verified, source)
    } catch (err) {
      this.c.metrics.reject('gossip', (err as Error).name)
      this.c.logger.debug({ topic, err: (err as Error).message }, 'gossip message dropped')
    }
  }

  /**
   * Publishes a signed envelope; throws GossipRateLimitedError past the
   * publish rate. Resolves to the number of peers and bridges it was handed
   * to: 0 when no peer in the topic is known yet (gossipsub then drops it,
   * and does not send it again later).
   */
  async publish (name: string, envelope: Envelope<any>): Promise<number> {
    const topic = this.wireTopic(name)
    const bytes = encodeCanonical(envelope)
    if (bytes.byteLength > this.maxBytes) throw new GossipMessageTooLargeError(`envelope of ${bytes.byteLength} bytes is too large for gossip on ${topic} (max ${this.maxBytes})`, { topic, size: bytes.byteLength, max: this.maxBytes })
    const now = this.clock.now()
    this.tokens = Math.min(this.rate, this.tokens + (now - this.lastRefill) * this.rate / 1000)
    this.lastRefill = now
    if (this.tokens < 1) throw new GossipRateLimitedError(`publishing faster than ${this.rate}/s on ${topic}`, {}, true)
    this.tokens -= 1
    for (const b of this.bridges) {
      b.publish(topic, bytes).catch((err: Error) => { this.c.logger.debug({ topic, err: err.message }, 'bridge publish failed') })
    }
    this.c.metrics.gossipPublished.inc({ topic })
    const { recipients } = await this.c.pubsub.publish(topic, bytes)
    return recipients.length + this.bridges.length
  }
}
