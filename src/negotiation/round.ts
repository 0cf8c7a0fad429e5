/**
 * One call-for-proposals round of the requester: ask every candidate
 * directly (a signed CFP per candidate, bounded parallelism), collect what
 * comes back until `reply_by`, verify each answer (signature, sender, type,
 * that it answers our call), then filter by policy and constraints and rank
 * with the plan's `select` weights. Everything heard goes into the step's
 * explanation.
 */
import { envelopeId, type Envelope, type SignOptions, type EnvelopeVerifier, type VerifiedEnvelope, mapBounded } from '../core/index.js'
import type { Gossip, Rpc, PlLibp2p } from '../net/index.js'
import { cfpTopic, type OpenAnswer, type OpenCallCollector } from './open-calls.js'
import type { Logger } from '../core/logger.js'
import { clockSleepUntil, systemClock, type Clock } from '../core/clock.js'
import type { SelectWeight } from '../workflow/index.js'
import { negotiateProtocol, type NegotiateResponse } from './wire.js'
import { learnAddrs } from './addrs.js'
import { InvalidBidError } from './errors.js'
import { DEFAULT_NEGOTIATION_DIAL_MS } from './constants.js'
import { bidViolation, peerExclusion, type EffectivePolicy } from './policy.js'
import { scoreBids, type Scored } from './scoring.js'
import type { AnswerExplanation, BidExplanation, StepExplanation } from './explanation.js'
import { judgeRequirements, type Requirement, type Verdict, type BidEvidence } from '../trust/index.js'
import { LIMIT_KEYS, type Bid, type BidRelease, type CallForProposal, type Candidate, type CapabilityDescriptor, type Decline, type Limits } from './types.js'

export interface RoundComponents {
  rpc: Rpc
  verifier: EnvelopeVerifier
  libp2p: PlLibp2p
  logger: Logger
  sign: <B extends object>(type: string, body: B, options?: SignOptions) => Envelope<B>
  /** reply windows, CFP lifetimes, bid expiry on arrival @default systemClock */
  clock?: Clock
  /** BidRelease.v1 envelopes (or bodies, for a provider that takes `plain_releases`) waiting for a call to `provider`: they go with its CFP */
  releasesFor?: (provider: string) => PendingRelease[] | undefined
  /** whether `provider` answered a call with `plain_releases: true` (its releases then need no signature) */
  takesPlainReleases?: (provider: string, takes: boolean) => void
}

/** A release waiting for a call: signed, or a plain body for a provider that takes `plain_releases`. */
export type PendingRelease = Envelope<BidRelease> | BidRelease

/** The request members that carry `pending`: signed ones in `releases`, plain ones in `plain_releases`. */
export function carriedReleases (pending: PendingRelease[] | undefined): { releases?: Array<Envelope<BidRelease>>, plain_releases?: BidRelease[] } {
  if (pending == null || pending.length === 0) return {}
  const releases: Array<Envelope<BidRelease>> = []
  const plain: BidRelease[] = []
  for (const r of pending) {
    if ('sig' in r) releases.push(r)
    else plain.push(r)
  }
  return { ...(releases.length > 0 ? { releases } : {}), ...(plain.length > 0 ? { plain_releases: plain } : {}) }
}

export interface RoundInput {
  round: number
  candidates: Candidate[]
  /** the CFP without `capability.cid` (set per candidate) */
  cfp: Omit<CallForProposal, 'capability'> & { capability: { name: string, version?: string } }
  policy: EffectivePolicy
  /** checks a bid's attestations against the policy's requirements and residency (src/trust) @default no trusted issuers: only `self_attest` requirements can be met */
  judge?: (bid: Bid, provider: string) => Verdict
  select: SelectWeight[]
  costAttrs: string[]
  concurrency: number
  /** how long opening the stream to a candidate may take (bounded by the reply window) @default DEFAULT_NEGOTIATION_DIAL_MS */
  dialMs?: number
  signal: AbortSignal
}

/** What an open call needs: the gossip to publish on and the collector the /pl/negotiate handler feeds. */
export interface OpenCallPort {
  gossip: Gossip
  collector: OpenCallCollector
}

/** A usable bid, ranked. */
export interface RankedBid {
  provider: string
  id: string
  cfpId: string
  body: Bid
  envelope: Envelope<Bid>
  score: number
  explanation: BidExplanation
  /** attestation CIDs that admitted the bid (the award and the receipt repeat them) */
  admitted: string[]
  /** the descriptor discovery reported for this provider's capability (its io schemas), when known */
  descriptor?: CapabilityDescriptor
}

interface Answer {
  provider: string
  cfpId: string
  bid?: { id: string, envelope: Envelope<Bid> }
  explanation: AnswerExplanation
}

function describe (err: unknown): { name: string, message: string } {
  const e = err as { name?: string, message?: string, details?: { remote?: { name?: string, message?: string } } }
  const remote = e?.details?.remote
  if (remote?.name != null) return { name: remote.name, message: remote.message ?? '' }
  return { name: e?.name ?? 'Error', message: e?.message ?? String(err) }
}

/** What judges bids' attestations: the trust service (src/trust/service.ts `judge`). */
export interface BidJudge {
  judge: (requirements: Requirement[], residency: string[] | undefined, bid: BidEvidence) => Verdict
}

/**
 * The one verdict on a bid's attestations, for runs and estimates alike:
 * the trust service's when there is one, else judgeWithoutIssuers.
 */
export function judgeBid (policy: EffectivePolicy, bid: Bid, provider: string, trust: BidJudge | undefined): Verdict {
  if (policy.requirements.length === 0 && policy.residency == null) return { admitted: [], selfAttested: [] }
  if (trust != null) return trust.judge(policy.requirements, policy.residency, { provider, capability: bid.capability, credentials: bid.credentials, strings: bid.attestations })
  return judgeWithoutIssuers(policy, bid)
}

/** The verdict when no trust service is at hand: no issuer is trusted, so only `self_attest` requirements can be met. */
export function judgeWithoutIssuers (policy: EffectivePolicy, bid: Bid): Verdict {
  if (policy.requirements.length === 0 && policy.residency == null) return { admitted: [], selfAttested: [] }
  return judgeRequirements(policy.requirements, policy.residency, { valid: [], rejected: [] }, bid.attestations, [])
}

export class CfpRound {
  private readonly protocol = negotiateProtocol()

  private readonly clock: Clock

  constructor (private readonly components: RoundComponents) {
    this.clock = components.clock ?? systemClock
  }

  /** Asks every candidate; returns the usable bids ranked best first, and records everything in `exp`. */
  async run (input: RoundInput, exp: StepExplanation): Promise<RankedBid[]> {
    const asked: Candidate[] = []
    for (const c of input.candidates) {
      const excluded = peerExclusion(input.policy, c.provider)
      if (excluded != null) exp.answers.push({ round: input.round, provider: c.provider, kind: 'excluded', message: excluded })
      else asked.push(c)
    }
    const answers = await mapBounded(asked, input.concurrency, async (c) => await this.ask(c, input))
    return this.rank(answers, input, exp)
  }

  /**
   * An open call: publishes one CFP (no `to`) on `pl/v1/cfp/<name>` and
   * takes the answers providers send to us until `reply_by`.
   */
  async runOpen (input: Omit<RoundInput, 'candidates'>, exp: StepExplanation, open: OpenCallPort): Promise<RankedBid[]> {
    const cfp: CallForProposal = { ...input.cfp, reply_to: this.components.libp2p.getMultiaddrs().map(a => a.toString()).slice(0, 16) }
    const envelope = this.components.sign('CallForProposal.v1', cfp, { ttlMs: Math.max(1_000, cfp.reply_by - this.clock.now() + 5_000) })
    const cfpId = envelopeId(envelope)
    const collecting = open.collector.open(cfpId)
    let heard: OpenAnswer[]
    try {
      await open.gossip.publish(cfpTopic(cfp.capability.name), envelope)
      await clockSleepUntil(this.clock, cfp.reply_by, input.signal)
    } finally {
      heard = collecting.close()
    }
    const answers: Answer[] = []
    for (const a of heard) {
      const excluded = peerExclusion(input.policy, a.provider)
      if (excluded != null) {
        exp.answers.push({ round: input.round, provider: a.provider, kind: 'excluded', message: excluded })
        continue
      }
      answers.push(this.judge(a.provider, cfpId, cfp, { id: a.id, envelope: a.envelope }, input.round))
    }
    return this.rank(answers, { ...input, candidates: [] }, exp)
  }

  private rank (answers: Answer[], input: RoundInput, exp: StepExplanation): RankedBid[] {
    const usable: Array<{ answer: Answer, bid: Bid, envelope: Envelope<Bid>, id: string, admitted: string[] }> = []
    for (const a of answers) {
      exp.answers.push(a.explanation)
      if (a.bid == null) continue
      const body = a.bid.envelope.body
      const bidExp: BidExplanation = { round: input.round, provider: a.provider, bid: a.bid.id, capability: body.capability, price: body.price, eta_ms: body.eta_ms, attrs: body.attrs, expires: body.expires, status: 'backup' }
      const reason = this.filter(body, a.provider, input)
      if (reason != null) {
        exp.bids.push({ ...bidExp, status: 'filtered', reason })
        continue
      }
      const verdict = input.judge != null ? input.judge(body, a.provider) : judgeWithoutIssuers(input.policy, body)
      if (verdict.reason != null) {
        exp.bids.push({ ...bidExp, status: 'filtered', reason: verdict.reason })
        continue
      }
      if (verdict.admitted.length > 0) bidExp.admitted = verdict.admitted
      if (verdict.selfAttested.length > 0) bidExp.self_attested = verdict.selfAttested
      exp.bids.push(bidExp)
      usable.push({ answer: a, bid: body, envelope: a.bid.envelope, id: a.bid.id, admitted: verdict.admitted })
    }
    const ranked = scoreBids(usable.map(u => ({ ...u, provider: u.answer.provider, price: u.bid.price, eta_ms: u.bid.eta_ms, attrs: u.bid.attrs })), input.select, input.costAttrs)
    return ranked.map((s: Scored<typeof usable[number] & { provider: string }>, i) => {
      const explanation = exp.bids.find(b => b.bid === s.item.id) as BidExplanation
      explanation.rank = i + 1
      explanation.score = s.score
      explanation.breakdown = s.breakdown
      const descriptor = input.candidates.find(c => c.provider === s.item.provider && c.cid === s.item.bid.capability)?.descriptor
      return { provider: s.item.provider, id: s.item.id, cfpId: s.item.answer.cfpId, body: s.item.bid, envelope: s.item.envelope, score: s.score, explanation, admitted: s.item.admitted, ...(descriptor != null ? { descriptor } : {}) }
    })
  }

  /** Why a verified bid is not usable, or undefined. */
  private filter (bid: Bid, provider: string, input: RoundInput): string | undefined {
    const violation = bidViolation(input.policy, bid, provider)
    if (violation != null) return violation
    const asked: Limits = input.cfp.limits ?? {}
    for (const k of LIMIT_KEYS) {
      const want = asked[k]
      const got = bid.limits[k]
      if (want != null && got == null) return `offers no ${k} limit, the step needs ${want}`
      if (want != null && got != null && got < want) return `offers ${k} ${got}, the step needs ${want}`
    }
    const left = input.cfp.deadline - this.clock.now()
    if (bid.eta_ms > left) return `eta ${bid.eta_ms} ms does not fit the ${left} ms left before the deadline`
    return undefined
  }

  private async ask (candidate: Candidate, input: RoundInput): Promise<Answer> {
    const provider = candidate.provider
    const cfp: CallForProposal = { ...input.cfp, capability: { ...input.cfp.capability, cid: candidate.cid } }
    const envelope = this.components.sign('CallForProposal.v1', cfp, { to: provider, ttlMs: Math.max(1_000, cfp.reply_by - this.clock.now() + 5_000) })
    const cfpId = envelopeId(envelope)
    const base = { provider, cfpId }
    const budget = Math.max(1, cfp.reply_by - this.clock.now())
    let body: NegotiateResponse | undefined
    try {
      await learnAddrs(this.components.libp2p, provider, candidate.addrs)
      const res = await this.components.rpc.request(provider, this.protocol, { envelope, ...carriedReleases(this.components.releasesFor?.(provider)) }, { signal: input.signal, timeouts: { dialMs: Math.min(budget, input.dialMs ?? DEFAULT_NEGOTIATION_DIAL_MS), firstByteMs: budget, totalMs: budget } })
      if (res.status !== 'OK') {
        return { ...base, explanation: { round: input.round, provider, kind: 'error', error: res.error?.name ?? res.status, message: `${res.status}: ${res.error?.name ?? ''} ${res.error?.message ?? ''}`.trim() } }
      }
      body = res.body
      this.components.takesPlainReleases?.(provider, (body as { plain_releases?: unknown } | undefined)?.plain_releases === true)
    } catch (err) {
      const d = describe(err)
      const kind = d.name === 'RpcTimeoutError' ? 'timeout' : 'error'
      return { ...base, explanation: { round: input.round, provider, kind, error: d.name, message: kind === 'timeout' ? `no answer within ${budget} ms` : d.message } }
    }
    let verified: VerifiedEnvelope<Bid | Decline>
    try {
      // no replay-store record: the answer comes back on our own call and must name that call's id
      // (fresh: our nonce, signed by us just now; `judge` refuses any other), so a replayed answer can
      // never be taken; the store's write would only put a LevelDB batch on the critical path
      verified = await this.components.verifier.verify<Bid | Decline>((body as { envelope?: unknown })?.envelope, { expectedFrom: provider, expectedTypes: ['Bid.v1', 'Decline.v1'], skipReplay: true })
    } catch (err) {
      return { ...base, explanation: this.invalid(provider, err, input.round) }
    }
    return this.judge(provider, cfpId, cfp, verified, input.round)
  }

  /** Checks that a verified answer answers our call, and classifies it. */
  private judge (provider: string, cfpId: string, cfp: CallForProposal, verified: VerifiedEnvelope<Bid | Decline>, round: number): Answer {
    const base = { provider, cfpId }
    try {
      const answer = verified.envelope.body
      if (answer.cfp !== cfpId || answer.run !== cfp.run || answer.step !== cfp.step) {
        throw new InvalidBidError(`answer is for call ${answer.cfp} (run ${answer.run}, step ${answer.step}), not ours (${cfpId})`, { cfp: answer.cfp })
      }
      if (verified.envelope.type === 'Decline.v1') {
        const d = answer as Decline
        return { ...base, explanation: { round, provider, kind: 'decline', reason: d.reason, message: d.message } }
      }
      const bid = answer as Bid
      if (bid.expires <= this.clock.now()) throw new InvalidBidError(`bid expired on arrival (${bid.expires})`, { expires: bid.expires })
      return { ...base, bid: { id: verified.id, envelope: verified.envelope as Envelope<Bid> }, explanation: { round, provider, kind: 'bid' } }
    } catch (err) {
      return { ...base, explanation: this.invalid(provider, err, round) }
    }
  }

  private invalid (provider: string, err: unknown, round: number): AnswerExplanation {
    const d = describe(err)
    this.components.logger.info({ provider, err: d.name }, 'refused an answer to a call for proposals')
    return { round, provider, kind: 'invalid', error: d.name, message: d.message }
  }
}
