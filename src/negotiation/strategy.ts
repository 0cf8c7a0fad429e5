/**
 * The default bid strategy: bid when this node published the capability
 * (and the call does not pin another descriptor), has room for one more
 * remote step, and offers at least the limits asked for. The descriptor's
 * `policies` and `attestations` strings go in the bid as self-attestations
 * (the trust service adds the attestations it carries). The bid's price and attrs come
 * from the descriptor; `eta_ms` from `attrs.eta_ms` or the default.
 */
import { DEFAULT_ETA_MS } from './constants.js'
import { LIMIT_KEYS, type BidContext, type BidDecision, type BidStrategy, type Limits } from './types.js'

export interface DefaultStrategyInit {
  /** @default DEFAULT_ETA_MS */
  etaMs?: number
}

export function defaultBidStrategy (init: DefaultStrategyInit = {}): BidStrategy {
  return { decide: (ctx) => decide(ctx, init) }
}

function decide (ctx: BidContext, init: DefaultStrategyInit): BidDecision {
  const { cfp, offer } = ctx
  if (offer == null) return { decline: 'unsupported', message: `no capability ${cfp.capability.name}${cfp.capability.version != null ? `@${cfp.capability.version}` : ''} is installed here` }
  if (cfp.capability.cid != null && cfp.capability.cid !== offer.cid) return { decline: 'unsupported', message: `the call asks for descriptor ${cfp.capability.cid}, this node offers ${offer.cid}` }
  if (ctx.active >= ctx.maxActive) return { decline: 'busy', message: `${ctx.active} of ${ctx.maxActive} remote step slots in use` }
  const offered = offer.descriptor.limits ?? {}
  const limits: Limits = {}
  for (const k of LIMIT_KEYS) {
    const asked = cfp.limits?.[k]
    const max = offered[k]
    // 0 is no limit at all: never ask the executor to run without one
    if (asked != null && asked <= 0) return { decline: 'over-limits', message: `${k} ${asked} asked, a limit must be > 0` }
    if (asked != null && max != null && asked > max) return { decline: 'over-limits', message: `${k} ${asked} asked, at most ${max} offered` }
    const v = asked ?? (max != null && max > 0 ? max : undefined)
    if (v != null) limits[k] = v
  }
  // policies are judged by the requester against attestations from issuers it trusts (src/trust);
  // the descriptor's own strings go along as self-attestations, which count only under `self_attest: true`
  const honoured = new Set([...(offer.descriptor.policies ?? []), ...(offer.descriptor.attestations ?? [])])
  const eta = offer.descriptor.attrs?.eta_ms
  return {
    bid: {
      price: offer.descriptor.price ?? 0,
      eta_ms: typeof eta === 'number' && Number.isInteger(eta) && eta >= 0 ? eta : init.etaMs ?? DEFAULT_ETA_MS,
      attrs: offer.descriptor.attrs,
      limits,
      attestations: [...honoured].sort()
    }
  }
}
