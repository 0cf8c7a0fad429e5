/**
 * The bid strategy of a node with attached providers: for a capability
 * served by an attached process that registered with `bids: true`, the node
 * first applies its own rules (the default strategy: room, limits,
 * policies), then asks the process over its connection
 * (`{type:'bid', call, capability, cfp, default}` → `{op:'bid', call, offer?|decline?}`)
 * with a short timeout; no answer, or a malformed one, declines 'other'.
 * Every other capability gets the fallback strategy's answer.
 */
import type { BidContext, BidDecision, BidStrategy, DeclineReason } from '../../negotiation/types.js'
import { errorToData } from '../../core/errors.js'
import type { AttachedService } from './service.js'
import { ATTACHED_KIND, DEFAULT_BID_TIMEOUT_MS } from './constants.js'

const REASONS: DeclineReason[] = ['busy', 'policy', 'unsupported', 'over-limits', 'other']

function scalarAttrs (v: unknown): v is Record<string, string | number | boolean> {
  return v != null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every(x => ['string', 'number', 'boolean'].includes(typeof x))
}

export function attachedBidStrategy (service: () => AttachedService | undefined, fallback: BidStrategy, timeoutMs = DEFAULT_BID_TIMEOUT_MS): BidStrategy {
  return {
    decide: async (ctx: BidContext): Promise<BidDecision> => {
      const base = await fallback.decide(ctx)
      const impl = ctx.offer?.module.external
      if ('decline' in base || impl?.kind !== ATTACHED_KIND) return base
      const a = service()?.attachment(impl.target)
      if (a == null || !a.bids) return base
      let answer: Record<string, unknown>
      try {
        answer = await a.session.ask('bid', {
          attachment: a.id,
          capability: { name: a.name, version: a.version },
          cfp: { id: ctx.cfpId, run: ctx.cfp.run, step: ctx.cfp.step, requester: ctx.requester, limits: ctx.cfp.limits ?? {}, deadline: ctx.cfp.deadline },
          default: { price: base.bid.price, eta_ms: base.bid.eta_ms, attrs: base.bid.attrs ?? {} }
        }, timeoutMs)
      } catch (err) {
        return { decline: 'other', message: `the attached provider did not answer the bid question: ${errorToData(err).message}` }
      }
      const decline = answer.decline as { reason?: unknown, message?: unknown } | undefined
      if (decline != null && typeof decline === 'object') {
        const reason = REASONS.includes(decline.reason as DeclineReason) ? decline.reason as DeclineReason : 'other'
        return { decline: reason, message: `attached provider: ${typeof decline.message === 'string' ? decline.message : String(decline.reason)}`.slice(0, 1000) }
      }
      const offer = answer.offer as { price?: unknown, eta_ms?: unknown, attrs?: unknown } | undefined
      if (offer == null || typeof offer !== 'object' ||
        (offer.price !== undefined && !(typeof offer.price === 'number' && Number.isFinite(offer.price) && offer.price >= 0)) ||
        (offer.eta_ms !== undefined && !(Number.isInteger(offer.eta_ms) && (offer.eta_ms as number) >= 0)) ||
        (offer.attrs !== undefined && !scalarAttrs(offer.attrs))) {
        return { decline: 'other', message: 'the attached provider answered the bid question with neither a valid offer {price?, eta_ms?, attrs?} nor a decline {reason, message}' }
      }
      const attrs = { ...(base.bid.attrs ?? {}), ...(offer.attrs ?? {}) }
      return {
        bid: {
          ...base.bid,
          ...(offer.price !== undefined ? { price: offer.price } : {}),
          ...(offer.eta_ms !== undefined ? { eta_ms: offer.eta_ms as number } : {}),
          ...(Object.keys(attrs).length > 0 ? { attrs } : {})
        }
      }
    }
  }
}
