/**
 * Open calls: when discovery finds no candidate, the requester publishes its
 * CallForProposal (no `to`, with `reply_to` addresses) on the gossip topic
 * `pl/v1/cfp/<capability name>`. Providers subscribed to the topics of the
 * capabilities they publish answer point-to-point, sending their signed Bid
 * or Decline to the requester over /pl/negotiate; the requester collects
 * the answers until `reply_by`. Awards and execution then go point-to-point
 * as usual (bids and awards never travel over gossip).
 */
import type { Envelope, VerifiedEnvelope } from '../core/index.js'
import type { Gossip, Rpc, PlLibp2p } from '../net/index.js'
import type { Logger } from '../core/logger.js'
import { systemClock, type Clock } from '../core/clock.js'
import { negotiateProtocol } from './wire.js'
import { learnAddrs, onPrivateNetwork } from './addrs.js'
import { MAX_OPEN_CALL_ANSWERS, MAX_OPEN_CALL_REPLY_MS } from './constants.js'
import type { Bid, CallForProposal, Decline } from './types.js'

export const CFP_TOPIC_PREFIX = 'pl/v1/cfp/'

export function cfpTopic (capability: string): string {
  return CFP_TOPIC_PREFIX + capability
}

export interface OpenAnswer {
  provider: string
  id: string
  envelope: Envelope<Bid | Decline>
}

/** Requester side: the open calls of this node waiting for answers. */
export class OpenCallCollector {
  private readonly pending = new Map<string, OpenAnswer[]>()

  /** Starts collecting answers to `cfpId`; `close` returns them and stops collecting. */
  open (cfpId: string): { close: () => OpenAnswer[] } {
    const list: OpenAnswer[] = []
    this.pending.set(cfpId, list)
    return { close: () => { this.pending.delete(cfpId); return list } }
  }

  /** Records a verified answer; false when it answers no open call of this node (or one already closed). */
  receive (verified: VerifiedEnvelope<Bid | Decline>, provider: string): boolean {
    const list = this.pending.get(verified.envelope.body.cfp)
    if (list == null) return false
    if (list.some(a => a.provider === provider)) return false
    list.push({ provider, id: verified.id, envelope: verified.envelope })
    return true
  }

  get size (): number {
    return this.pending.size
  }
}

export interface OpenCallListenerComponents {
  gossip: Gossip
  rpc: Rpc
  libp2p: PlLibp2p
  logger: Logger
  self: string
  /** judges reply windows and answer budgets @default systemClock */
  clock?: Clock
}

/** Provider side: listens on the topics of the capabilities it offers and answers calls directly. */
export class OpenCallListener {
  private readonly topics = new Set<string>()
  private readonly negotiate = negotiateProtocol()
  private inFlight = 0
  private readonly clock: Clock

  constructor (
    private readonly c: OpenCallListenerComponents,
    /** answers a call as if it had come directly; undefined = stay silent */
    private readonly answer: (cfp: CallForProposal, cfpId: string, requester: string) => Promise<Envelope<Bid | Decline> | undefined>
  ) {
    this.clock = c.clock ?? systemClock
  }

  /** Subscribes to the topics of `names` and leaves the others. */
  sync (names: string[]): void {
    const want = new Set(names.map(cfpTopic))
    for (const topic of [...this.topics]) {
      if (!want.has(topic)) {
        this.c.gossip.unsubscribe(topic)
        this.topics.delete(topic)
      }
    }
    for (const topic of want) {
      if (this.topics.has(topic)) continue
      this.topics.add(topic)
      this.c.gossip.subscribe(topic, {
        types: ['CallForProposal.v1'],
        validate: (v) => {
          const cfp = v.envelope.body as CallForProposal
          // a stale call, one addressed to somebody, or one collecting answers for over a minute is not an open call: do not forward it
          const now = this.clock.now()
          return cfp.reply_by <= now || cfp.reply_by > now + MAX_OPEN_CALL_REPLY_MS || v.envelope.to != null ? 'ignore' : undefined
        },
        onMessage: async (v) => { await this.onCall(v as VerifiedEnvelope<CallForProposal>) }
      })
    }
  }

  get subscribed (): string[] {
    return [...this.topics].sort()
  }

  stop (): void {
    for (const topic of this.topics) this.c.gossip.unsubscribe(topic)
    this.topics.clear()
  }

  private async onCall (v: VerifiedEnvelope<CallForProposal>): Promise<void> {
    const requester = v.envelope.from
    if (requester === this.c.self) return
    const cfp = v.envelope.body
    // each answer in flight holds a bid and a dial: a flood of open calls must not grow them without bound
    if (this.inFlight >= MAX_OPEN_CALL_ANSWERS) {
      this.c.logger.debug({ requester, cfp: v.id, inFlight: this.inFlight }, 'too many open call answers in flight: call ignored')
      return
    }
    this.inFlight++
    try {
      const envelope = await this.answer(cfp, v.id, requester)
      if (envelope == null) return
      // anyone can sign a call: its reply_to is used only when no route to the caller is known, and
      // private addresses only when this node itself runs on a private network (a local swarm, tests)
      await learnAddrs(this.c.libp2p, requester, cfp.reply_to, { onlyWithoutRoute: true, allowPrivate: onPrivateNetwork(this.c.libp2p) })
      const budget = Math.max(1, Math.min(cfp.reply_by - this.clock.now(), MAX_OPEN_CALL_REPLY_MS))
      const res = await this.c.rpc.request(requester, this.negotiate, { envelope }, { timeouts: { totalMs: budget, firstByteMs: budget, dialMs: Math.min(budget, 5_000) } })
      if (res.status !== 'OK') this.c.logger.debug({ requester, cfp: v.id, status: res.status, err: res.error?.name }, 'open call answer refused')
    } catch (err) {
      this.c.logger.debug({ requester, cfp: v.id, err: (err as Error).message }, 'cannot answer an open call')
    } finally {
      this.inFlight--
    }
  }
}
