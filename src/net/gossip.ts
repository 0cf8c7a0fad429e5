/**
 * Signed envelopes over gossipsub. The topic validator decodes (with a size
 * limit) and verifies every message before gossipsub forwards it, mapping
 * failures to Reject (forged, malformed: the sender loses score) or Ignore
 * (stale, duplicate). Publishing is rate-limited: gossipsub has no
 * backpressure, and a fast publisher makes latency grow to seconds.
 */
import { TopicValidatorResult, type GossipSub } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { decodeCanonical, encodeCanonical } from '../core/encoding.js'
import type { Envelope, EnvelopeVerifier, VerifiedEnvelope } from '../core/envelope.js'
import type { ReplayStore } from '../store/replay.js'
import type { Metrics } from '../core/metrics.js'
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
}

export class Gossip {
  private readonly handlers = new Map<string, GossipHandler>()
  /** envelopes verified by the topic validator, so delivery does not verify again */
  private readonly validated = new WeakMap<Uint8Array, VerifiedEnvelope<any>>()
  private readonly maxBytes: number
  private readonly rate: number
  private tokens: number
  private lastRefill = Date.now()
  /** `gossipsub:message` (not `message`): only it carries the propagation source the handlers charge */
  private readonly onMessageEvent = (evt: CustomEvent<any>): void => { void this.deliver(evt.detail) }
  private started = false
  private readonly network?: string

  constructor (private readonly c: GossipComponents, init: GossipInit = {}) {
    this.network = init.network
    this.maxBytes = init.maxMessageBytes ?? 256 * 1024
    this.rate = init.publishRate ?? 50
    this.tokens = this.rate
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
  }

  unsubscribe (name: string): void {
    const topic = this.wireTopic(name)
    this.handlers.delete(topic)
    this.c.pubsub.topicValidators.delete(topic)
    try { this.c.pubsub.unsubscribe(topic) } catch {}
  }

  private decode (topic: string, data: Uint8Array, source: string): VerifiedEnvelope<any> {
    const handler = this.handlers.get(topic)
    if (handler == null) throw new PlError(`not subscribed to ${topic}`)
    if (data.byteLength > this.maxBytes) throw new GossipMessageTooLargeError(`gossip message of ${data.byteLength} bytes on ${topic} from ${source} exceeds ${this.maxBytes}`, { topic, source, size: data.byteLength, max: this.maxBytes })
    const verified = this.c.verifier.verifyStateless(decodeCanonical(data), { expectedTypes: handler.types })
    return verified
  }

  private validate (topic: string, source: string, data: Uint8Array): TopicValidatorResult {
    try {
      const verified = this.decode(topic, data, source)
      this.validated.set(data, verified)
      const extra = this.handlers.get(topic)?.validate?.(verified, source)
      if (extra === 'ignore') {
        this.c.metrics.gossip.inc({ topic, result: 'ignore' })
        return TopicValidatorResult.Ignore
      }
      this.c.metrics.gossip.inc({ topic, result: 'accept' })
      return TopicValidatorResult.Accept
    } catch (err) {
      const name = (err as Error).name
      this.c.metrics.reject('gossip', name)
      const result = IGNORE_ERRORS.has(name) ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
      this.c.metrics.gossip.inc({ topic, result })
      this.c.logger.debug({ topic, source, err: (err as Error).message, result }, 'gossip message refused')
      return result
    }
  }

  private async deliver (detail: any): Promise<void> {
    const msg = detail?.msg ?? detail
    const topic: string = msg?.topic
    const handler = this.handlers.get(topic)
    if (handler == null) return
    const source = detail?.propagationSource?.toString() ?? ''
    try {
      const verified = this.validated.get(msg.data) ?? this.decode(topic, msg.data, source)
      if (!await this.c.replay.add(verified.id, verified.envelope.exp)) return
      await handler.onMessage(verified, source)
    } catch (err) {
      this.c.metrics.reject('gossip', (err as Error).name)
      this.c.logger.debug({ topic, err: (err as Error).message }, 'gossip message dropped')
    }
  }

  /** Publishes a signed envelope; throws GossipRateLimitedError past the publish rate. */
  async publish (name: string, envelope: Envelope<any>): Promise<void> {
    const topic = this.wireTopic(name)
    const bytes = encodeCanonical(envelope)
    if (bytes.byteLength > this.maxBytes) throw new GossipMessageTooLargeError(`envelope of ${bytes.byteLength} bytes is too large for gossip on ${topic} (max ${this.maxBytes})`, { topic, size: bytes.byteLength, max: this.maxBytes })
    const now = Date.now()
    this.tokens = Math.min(this.rate, this.tokens + (now - this.lastRefill) * this.rate / 1000)
    this.lastRefill = now
    if (this.tokens < 1) throw new GossipRateLimitedError(`publishing faster than ${this.rate}/s on ${topic}`, {}, true)
    this.tokens -= 1
    await this.c.pubsub.publish(topic, bytes)
  }
}
