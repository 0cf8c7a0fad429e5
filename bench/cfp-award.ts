/**
 * One CFP → award exchange as the benchmarks measure it: a CFP round over
 * the given candidates, the best bid awarded and its acknowledgement awaited
 * (what a requester does before a remote step runs). Used by the negotiation
 * and scale benches so that both time the same thing.
 */
import { negotiateProtocol, CfpRound, resolvePolicies, DEFAULT_COST_ATTRS, type Candidate, type StepExplanation, type Award } from '../src/negotiation/index.js'
import { cidOfBytes, encodeCanonical } from '../src/core/encoding.js'
import { envelopeId } from '../src/core/index.js'
import type { PlNode } from '../src/node.js'

export interface CfpAwardOptions {
  /** the capability the candidates offer */
  capability: string
  /** the run id the CFPs name */
  run: string
  candidates: Candidate[]
  /** fail unless this many candidates bid @default 1 */
  minBids?: number
  /** the CFP's reply window @default 5000 */
  replyMs?: number
}

/** Answers a function running one exchange for step `step`; it resolves when the award is acknowledged. */
export async function cfpAwardRig (requester: PlNode, o: CfpAwardOptions): Promise<(step: string, signal: AbortSignal) => Promise<void>> {
  const c = requester.components
  const round = new CfpRound(c)
  const negotiate = negotiateProtocol()
  const policy = await resolvePolicies([], async (ref) => { throw new Error(`no policy ${ref}`) })
  const input = cidOfBytes(encodeCanonical({ n: 1 })).toString()
  return async (step, signal) => {
    const exp = { answers: [], bids: [] } as unknown as StepExplanation
    const now = Date.now()
    const ranked = await round.run({
      round: 1,
      candidates: o.candidates,
      cfp: { run: o.run, step, capability: { name: o.capability }, input, input_size: 8, deadline: now + 60_000, reply_by: now + (o.replyMs ?? 5_000), limits: { wall_ms: 5_000 } },
      policy,
      select: [{ attr: 'quality', weight: 1 }, { attr: 'price', weight: 0.5 }],
      costAttrs: DEFAULT_COST_ATTRS,
      concurrency: 16,
      signal
    }, exp)
    const best = ranked[0]
    if (best == null) throw new Error(`no usable bid: ${JSON.stringify(exp)}`)
    if (ranked.length < (o.minBids ?? 1)) throw new Error(`only ${ranked.length} of ${o.minBids ?? 1} candidates bid: ${JSON.stringify(exp)}`)
    const award: Award = { cfp: best.cfpId, bid: best.id, run: o.run, step, provider: best.provider, capability: best.body.capability, input, limits: best.body.limits, deadline: now + 60_000 }
    const env = c.sign('Award.v1', award, { to: best.provider })
    const ack = await c.rpc.request(best.provider, negotiate, { envelope: env })
    if (ack.status !== 'OK' || (ack.body as { award?: string })?.award !== envelopeId(env)) throw new Error(`award not acknowledged: ${JSON.stringify(ack.error)}`)
  }
}
