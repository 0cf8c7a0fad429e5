/**
 * The provider side of the contract net. Answers calls for proposals with a
 * signed Bid or Decline (through the bid strategy), accepts at most one award
 * per bid it made (unexpired, from the requester it bid to, matching the
 * call), and executes awarded steps: input inline or fetched by CID, the
 * module run through the injected `runStep`, progress frames, then a signed
 * Result carrying the output CID, the output bytes and a provider-signed
 * receipt.
 */
import { cidOfBytes, decodeCanonical, encodeCanonical, verifyBytes } from '../core/encoding.js'
import { envelopeId, type Envelope, type SignOptions, type EnvelopeVerifier, type Identity, type Metrics, type ModuleSpec } from '../core/index.js'
import { errorToData, type ErrorData } from '../core/errors.js'
import { clockInterval, systemClock, timeoutSignal, type Clock } from '../core/clock.js'
import type { Logger } from '../core/logger.js'
import type { Rpc, HandlerContext, RpcResponse } from '../net/index.js'
import type { SchemaRegistry } from '../spec/index.js'
import { signReceipt, type Receipt, isStepCall, receiptLimits, receiptUsage } from '../receipts/index.js'
import { effectiveLimits } from '../exec/index.js'
import {
  DEFAULT_AWARD_HOLD_MS, DEFAULT_BID_TTL_MS, DEFAULT_DONE_KEEP_MS, DEFAULT_MAX_ACTIVE, DEFAULT_MAX_OPEN_BIDS, DEFAULT_MAX_OPEN_BIDS_PER_PEER,
  DEFAULT_EXEC_GRACE_MS, DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_BID_SWEEP_MS, DEFAULT_MAX_DEPTH, EXEC_PROTOCOL, MAX_AWARD_DEADLINE_MS
} from './constants.js'
import {
  AwardAlreadyExecutedError, AwardMismatchError, BidAlreadyAwardedError, BidExpiredError, CfpExpiredError, InputUnavailableError,
  InvalidStepInputError, ProviderBusyError, StepOutputTooLargeError, UnknownAwardError, UnknownBidError
} from './errors.js'
import { execProtocol, type ExecRequest, type ExecResponse } from './wire.js'
import type { PolicyResolver } from './policy.js'
import type { InnerRun, StepSandbox } from '../exec/types.js'
import { attestationCid, type Attestation, type IoSchemas } from '../trust/index.js'
import { MAX_BID_CREDENTIALS } from '../trust/constants.js'
import { defaultBidStrategy } from './strategy.js'
import { LIMIT_KEYS, type Award, type Bid, type BidDecision, type BidRelease, type BidStrategy, type CallForProposal, type Decline, type InputFetcher, type Limits, type LocalCapabilities, type LocalOffer, type Result, type RunStep } from './types.js'

export interface ProviderComponents {
  identity: Identity
  registry: SchemaRegistry
  verifier: EnvelopeVerifier
  rpc: Rpc
  /** to remove the /pl/exec handler on stop (otherwise the node's rpc.stop removes it) */
  libp2p?: { unhandle: (protocol: string) => Promise<void> }
  logger: Logger
  metrics?: Metrics
  sign: <B extends object>(type: string, body: B, options?: SignOptions) => Envelope<B>
  /** bid and award expiry, the sweep, the execution budget, receipt times @default systemClock */
  clock?: Clock
}

export interface ProviderInit {
  local: LocalCapabilities
  runStep: RunStep
  /** fetches inputs that were not sent inline */
  fetcher?: InputFetcher
  /** @default defaultBidStrategy() */
  strategy?: BidStrategy
  /** @default DEFAULT_MAX_ACTIVE */
  maxActive?: number
  /** @default DEFAULT_BID_TTL_MS */
  bidTtlMs?: number
  /** @default DEFAULT_AWARD_HOLD_MS */
  awardHoldMs?: number
  /** @default DEFAULT_BID_SWEEP_MS */
  sweepMs?: number
  /** @default DEFAULT_MAX_OUTPUT_BYTES */
  maxOutputBytes?: number
  /** @default DEFAULT_MAX_OPEN_BIDS */
  maxOpenBids?: number
  /** @default DEFAULT_MAX_OPEN_BIDS_PER_PEER */
  maxOpenBidsPerPeer?: number
  /**
   * Whether an offer's module can be run now: an external implementation
   * whose bridge is not running, or whose attached process is gone, cannot
   * (the call is declined 'unsupported' instead of bid and failed).
   * @default every offer can
   */
  canRun?: (module: ModuleSpec) => boolean
  /** resolves the policies an offer is made under (a Policy.v1 with `network: none` runs the step without network) */
  policyResolver?: PolicyResolver
  /** the attestations this node carries for a capability (the trust service): sent whole in bids */
  credentials?: (capability: string) => Promise<Attestation[]>
  /** checks step inputs against the capability's input schema before running */
  io?: IoSchemas
  /** deepest composite nesting served: calls with a larger `depth` are declined 'too-deep' @default DEFAULT_MAX_DEPTH */
  maxDepth?: number
}

/** The parts of a call a bid needs later: the whole decoded call (constraints, reply_to…) is not kept per open bid. */
type CallFacts = Pick<CallForProposal, 'input' | 'deadline'> & { capability: { name: string }, policies?: string[], constraints?: Record<string, unknown>, depth?: number }

interface BidRecord {
  id: string
  body: Bid
  cfp: CallFacts
  cfpId: string
  requester: string
  offer: LocalOffer
  awarded: boolean
}

interface AwardRecord {
  id: string
  body: Award
  bid: BidRecord
  state: 'awarded' | 'running' | 'done'
  /** dropped by the sweep after this time */
  until: number
}

function awardMismatch (field: string, expected: unknown, actual: unknown): AwardMismatchError {
  return new AwardMismatchError(`award ${field} is ${JSON.stringify(actual)}, the bid was for ${JSON.stringify(expected)}`, { field, expected, actual })
}

/** The award's limits with the bid's as the ceiling (acceptAward already refused an award above them). */
function cappedLimits (awarded: Limits, offered: Limits): Limits {
  const out: Limits = {}
  for (const k of LIMIT_KEYS) {
    const a = awarded[k] != null && awarded[k] > 0 ? awarded[k] : undefined
    const o = offered[k]
    const v = a != null && o != null ? Math.min(a, o) : a ?? o
    if (v != null) out[k] = v
  }
  return out
}

/** Result.v1 caps error name/message sizes; stacks never leave the node. */
function wireError (err: unknown): ErrorData {
  const d = errorToData(err)
  const out: ErrorData = { name: d.name.slice(0, 128), message: d.message.slice(0, 4096) }
  if (d.retryable != null) out.retryable = d.retryable
  if (d.details != null) {
    try {
      encodeCanonical(d.details)
      out.details = d.details
    } catch {}
  }
  return out
}

export class Provider {
  private readonly bids = new Map<string, BidRecord>()
  private readonly bidsPerPeer = new Map<string, number>()
  private openBidCount = 0
  private readonly awards = new Map<string, AwardRecord>()
  private shutdown = new AbortController()
  private readonly strategy: BidStrategy
  private readonly maxActive: number
  private sweepTimer?: { clear: () => void }
  private readonly clock: Clock
  private started = false
  private readonly log: Logger

  constructor (private readonly components: ProviderComponents, private readonly init: ProviderInit) {
    this.strategy = init.strategy ?? defaultBidStrategy()
    this.maxActive = init.maxActive ?? DEFAULT_MAX_ACTIVE
    this.log = components.logger.child({ component: 'negotiation-provider' })
    this.clock = components.clock ?? systemClock
  }

  /** Remote steps awarded to or running on this node. */
  get active (): number {
    let n = 0
    for (const a of this.awards.values()) if (a.state !== 'done') n++
    return n
  }

  /** Remote steps executing here now. */
  get running (): number {
    let n = 0
    for (const a of this.awards.values()) if (a.state === 'running') n++
    return n
  }

  /** Open bids this node made (not awarded, not yet swept). */
  get openBids (): number {
    return this.openBidCount
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    if (this.shutdown.signal.aborted) this.shutdown = new AbortController()
    // /pl/negotiate is served by the negotiation service, which hands calls and awards to answerCall / acceptAward
    await this.components.rpc.handle(execProtocol(async (req, ctx) => await this.onExec(req, ctx)))
    this.sweepTimer = clockInterval(this.clock, () => { this.sweep() }, this.init.sweepMs ?? DEFAULT_BID_SWEEP_MS)
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.sweepTimer?.clear()
    this.sweepTimer = undefined
    this.shutdown.abort()
    await this.components.libp2p?.unhandle(EXEC_PROTOCOL).catch(() => {})
    this.bids.clear()
    this.bidsPerPeer.clear()
    this.openBidCount = 0
    this.awards.clear()
    this.started = false
  }

  /** Drops expired bids and awards that were never executed or finished long ago. */
  sweep (now = this.clock.now()): void {
    for (const b of this.bids.values()) if (b.body.expires <= now && !b.awarded) this.forget(b)
    for (const [id, a] of this.awards) {
      if (a.state !== 'running' && a.until <= now) {
        this.awards.delete(id)
        this.forget(a.bid)
      }
    }
  }

  // bidsPerPeer and openBidCount count open bids: made, not awarded, not yet swept

  private remember (bid: BidRecord): void {
    this.bids.set(bid.id, bid)
    this.bidsPerPeer.set(bid.requester, (this.bidsPerPeer.get(bid.requester) ?? 0) + 1)
    this.openBidCount++
  }

  private closeBid (bid: BidRecord): void {
    const n = (this.bidsPerPeer.get(bid.requester) ?? 1) - 1
    if (n <= 0) this.bidsPerPeer.delete(bid.requester)
    else this.bidsPerPeer.set(bid.requester, n)
    this.openBidCount = Math.max(0, this.openBidCount - 1)
  }

  private markAwarded (bid: BidRecord): void {
    if (bid.awarded) return
    bid.awarded = true
    this.closeBid(bid)
  }

  private forget (bid: BidRecord): void {
    if (!this.bids.delete(bid.id)) return
    if (!bid.awarded) this.closeBid(bid)
  }

  /**
   * The requester `from` will not award these bids (BidRelease.v1): drop
   * them now rather than at their expiry, so the capacity they hold is free
   * for the next call. Only the requester the bid answered may release it;
   * an awarded bid, or an id this node does not hold, is left alone.
   * Returns how many bids were released.
   */
  releaseBids (release: BidRelease, from: string): number {
    let released = 0
    for (const id of release.bids) {
      const bid = this.bids.get(id)
      if (bid == null || bid.awarded || bid.requester !== from || bid.body.run !== release.run || bid.body.step !== release.step) continue
      this.forget(bid)
      released++
    }
    if (released > 0) this.log.debug({ run: release.run, step: release.step, released, reason: release.reason }, 'bids released by their requester')
    return released
  }

  /** Why no more bids can be held (for `requester`), or undefined. */
  private bidRoomProblem (requester: string): string | undefined {
    const max = this.init.maxOpenBids ?? DEFAULT_MAX_OPEN_BIDS
    const perPeer = this.init.maxOpenBidsPerPeer ?? DEFAULT_MAX_OPEN_BIDS_PER_PEER
    if (this.openBidCount >= max || (this.bidsPerPeer.get(requester) ?? 0) >= perPeer) this.sweep()
    if (this.openBidCount >= max) return `${this.openBidCount} open bids, the limit is ${max}`
    const mine = this.bidsPerPeer.get(requester) ?? 0
    if (mine >= perPeer) return `${mine} open bids for this requester, the limit is ${perPeer}`
    return undefined
  }

  /** Answers a verified call (direct or open) with a signed Bid or Decline addressed to `requester`. */
  async answerCall (cfp: CallForProposal, cfpId: string, requester: string): Promise<Envelope<Bid | Decline>> {
    const now = this.clock.now()
    if (cfp.reply_by <= now || cfp.deadline <= now) {
      throw new CfpExpiredError(`call ${cfpId} expired ${now - Math.min(cfp.reply_by, cfp.deadline)} ms ago`, { cfp: cfpId, reply_by: cfp.reply_by, deadline: cfp.deadline })
    }
    const offer = await this.init.local.localOffer(cfp.capability.name, cfp.capability.version)
    const room = this.bidRoomProblem(requester)
    const runnable = offer == null || (this.init.canRun?.(offer.module) ?? true)
    const depth = cfp.depth ?? 0
    const maxDepth = this.init.maxDepth ?? DEFAULT_MAX_DEPTH
    const decision: BidDecision = depth > maxDepth
      ? { decline: 'too-deep', message: `call depth ${depth} is above this node's maximum of ${maxDepth}: a composite capability that (through the mesh) calls itself?` }
      : !runnable
      ? { decline: 'unsupported', message: `${cfp.capability.name} is served by an external '${offer?.module.external?.kind ?? '?'}' implementation that is not available now` }
      : room != null
      ? { decline: 'busy', message: room }
      : await this.strategy.decide({ cfp, cfpId, requester, offer, active: this.active, maxActive: this.maxActive, now })
    const ttlMs = Math.max(1_000, cfp.reply_by - now + 5_000)
    if ('decline' in decision || offer == null) {
      const reason = 'decline' in decision ? decision.decline : 'unsupported'
      const message = 'decline' in decision ? decision.message : 'no offer'
      const decline: Decline = { cfp: cfpId, run: cfp.run, step: cfp.step, reason, message: message.slice(0, 1000) }
      this.log.debug({ cfp: cfpId, requester, reason }, 'declined a call')
      return this.components.sign('Decline.v1', decline, { to: requester, ttlMs })
    }
    const d = decision.bid
    const credentials = d.credentials ?? (await this.init.credentials?.(offer.cid) ?? []).slice(0, MAX_BID_CREDENTIALS)
    const attestations = [...new Set([...(d.attestations ?? []), ...credentials.map(a => attestationCid(a))])]
    const bid: Bid = {
      cfp: cfpId,
      run: cfp.run,
      step: cfp.step,
      capability: offer.cid,
      price: d.price,
      eta_ms: Math.max(0, Math.round(d.eta_ms)),
      attrs: d.attrs,
      limits: d.limits,
      ...(attestations.length > 0 ? { attestations } : {}),
      ...(credentials.length > 0 ? { credentials } : {}),
      expires: Math.min(now + (this.init.bidTtlMs ?? DEFAULT_BID_TTL_MS), cfp.deadline)
    }
    const envelope = this.components.sign('Bid.v1', bid, { to: requester, ttlMs })
    const id = envelopeId(envelope)
    const facts: CallFacts = { capability: { name: cfp.capability.name }, input: cfp.input, deadline: cfp.deadline, ...(cfp.policies != null ? { policies: [...cfp.policies] } : {}), ...(cfp.constraints != null ? { constraints: cfp.constraints } : {}), ...(depth > 0 ? { depth } : {}) }
    // an estimate (gateway dry run) is answered like any call but holds nothing: its bid cannot be awarded
    if (cfp.estimate !== true) this.remember({ id, body: bid, cfp: facts, cfpId, requester, offer, awarded: false })
    this.log.debug({ cfp: cfpId, bid: id, requester, price: bid.price }, 'bid')
    return envelope
  }

  /** Accepts a verified award for one of this node's bids, or throws why not. */
  acceptAward (award: Award, awardId: string, requester: string): { award: string, accepted: true } {
    const now = this.clock.now()
    const self = this.components.identity.id
    if (award.provider !== self) throw new AwardMismatchError(`award names provider ${award.provider}, this node is ${self}`, { field: 'provider', expected: self, actual: award.provider })
    const bid = this.bids.get(award.bid)
    if (bid == null || bid.requester !== requester) {
      throw new UnknownBidError(`this node made no bid ${award.bid} to ${requester}`, { bid: award.bid })
    }
    if (bid.awarded) throw new BidAlreadyAwardedError(`bid ${bid.id} was already awarded`, { bid: bid.id })
    if (bid.body.expires <= now) throw new BidExpiredError(`bid ${bid.id} expired ${now - bid.body.expires} ms ago`, { bid: bid.id, expires: bid.body.expires })
    if (award.cfp !== bid.cfpId) throw awardMismatch('cfp', bid.cfpId, award.cfp)
    if (award.run !== bid.body.run) throw awardMismatch('run', bid.body.run, award.run)
    if (award.step !== bid.body.step) throw awardMismatch('step', bid.body.step, award.step)
    if (award.capability !== bid.body.capability) throw awardMismatch('capability', bid.body.capability, award.capability)
    if (award.input !== bid.cfp.input) throw awardMismatch('input', bid.cfp.input, award.input)
    // every limit the bid set is a ceiling the award must restate, > 0: a missing or 0 limit would run unbounded
    for (const k of LIMIT_KEYS) {
      const asked = award.limits[k]
      const offered = bid.body.limits[k]
      if (offered != null && (asked == null || asked <= 0 || asked > offered)) throw awardMismatch(`limits.${k}`, offered, asked)
    }
    if (award.deadline > bid.cfp.deadline) throw awardMismatch('deadline', bid.cfp.deadline, award.deadline)
    if (award.deadline > now + MAX_AWARD_DEADLINE_MS) {
      throw new AwardMismatchError(`award deadline is ${award.deadline - now} ms away, at most ${MAX_AWARD_DEADLINE_MS} ms is accepted`, { field: 'deadline', expected: now + MAX_AWARD_DEADLINE_MS, actual: award.deadline })
    }
    if (this.active >= this.maxActive) throw new ProviderBusyError(`all ${this.maxActive} remote step slots are in use`, { active: this.active })
    this.markAwarded(bid)
    this.awards.set(awardId, { id: awardId, body: award, bid, state: 'awarded', until: Math.min(award.deadline, now + (this.init.awardHoldMs ?? DEFAULT_AWARD_HOLD_MS)) })
    this.log.info({ award: awardId, bid: bid.id, requester, run: award.run, step: award.step }, 'award accepted')
    return { award: awardId, accepted: true }
  }

  private async onExec (req: ExecRequest, ctx: HandlerContext): Promise<RpcResponse<ExecResponse>> {
    const id = await this.execAward(req, ctx.peer)
    const rec = this.awards.get(id)
    if (rec == null || rec.bid.requester !== ctx.peer) throw new UnknownAwardError(`this node accepted no award ${id} from ${ctx.peer}`, { award: id })
    if (rec.state !== 'awarded') throw new AwardAlreadyExecutedError(`award ${id} is already ${rec.state === 'running' ? 'running' : 'done'}`, { award: id, state: rec.state })
    rec.state = 'running'
    try {
      return await this.execute(rec, req, ctx)
    } finally {
      rec.state = 'done'
      rec.until = this.clock.now() + DEFAULT_DONE_KEEP_MS
    }
  }

  /**
   * The id of the award an exec call runs. An award this node accepted on
   * /pl/negotiate from this peer (same id: the same signed bytes, verified
   * and recorded then) and not expired needs no second check. A call with
   * `accept: true` carries an award not sent before (one round trip instead
   * of two): it is verified in full (signature, sender, type, expiry, and
   * recorded in the replay store) and accepted exactly as on /pl/negotiate
   * (this node's own bid, made to this requester, awarded once) before
   * anything runs. Anything else is verified without the replay record (it
   * was recorded when accepted) and must name an accepted award (onExec).
   */
  private async execAward (req: ExecRequest, peer: string): Promise<string> {
    const known = this.components.verifier.idOf(req?.award)
    const held = known != null ? this.awards.get(known) : undefined
    if (known != null && held != null && held.bid.requester === peer && req.award.exp > this.clock.now()) return known
    if (req?.accept !== true) return (await this.components.verifier.verify<Award>(req?.award, { expectedFrom: peer, expectedTypes: ['Award.v1'], skipReplay: true })).id
    // the replay record's write need not be awaited (its lease keeps replays refused across a crash)
    const verified = await this.components.verifier.verify<Award>(req.award, { expectedFrom: peer, expectedTypes: ['Award.v1'], deferRecord: true })
    this.acceptAward(verified.envelope.body, verified.id, peer)
    return verified.id
  }

  /**
   * How the step is isolated: without network when the offer or the call is
   * under a policy with `network: none` (the capability's descriptor lists it
   * in `policies`, or the requester's plan requires it).
   */
  async sandboxOf (offer: LocalOffer, policies: string[] = []): Promise<StepSandbox | undefined> {
    const resolve = this.init.policyResolver
    if (resolve == null) return undefined
    for (const ref of new Set([...(offer.descriptor.policies ?? []), ...policies])) {
      if ((await resolve(ref).catch(() => undefined))?.doc.network === 'none') return { network: 'none' }
    }
    return undefined
  }

  private async execute (rec: AwardRecord, req: ExecRequest, ctx: HandlerContext): Promise<RpcResponse<ExecResponse>> {
    const award = rec.body
    const limits = cappedLimits(award.limits, rec.bid.body.limits)
    // the run may not outlast the award's deadline, nor the wall time this node offered (plus time for input and result)
    const offeredWall = rec.bid.body.limits.wall_ms
    const budget = Math.min(award.deadline - this.clock.now(), offeredWall != null ? offeredWall + DEFAULT_EXEC_GRACE_MS : MAX_AWARD_DEADLINE_MS, MAX_AWARD_DEADLINE_MS)
    const timeout = timeoutSignal(this.clock, Math.max(1, budget))
    try {
      return await this.executeWithin(rec, req, ctx, limits, AbortSignal.any([ctx.signal, this.shutdown.signal, timeout.signal]))
    } finally {
      timeout.clear()
    }
  }

  /** Fetches the input, runs the step under `signal` and signs the receipt and result. */
  private async executeWithin (rec: AwardRecord, req: ExecRequest, ctx: HandlerContext, limits: Limits, signal: AbortSignal): Promise<RpcResponse<ExecResponse>> {
    const award = rec.body
    const requester = ctx.peer
    await ctx.progress({ type: 'pl:exec:accepted', award: rec.id })
    let inputBytes: Uint8Array
    if (req.input != null) {
      verifyBytes(award.input, req.input)
      inputBytes = req.input
    } else {
      if (this.init.fetcher == null) throw new InputUnavailableError(`input ${award.input} was not sent inline and this node has no block fetcher`, { input: award.input })
      inputBytes = await this.init.fetcher.fetch(requester, award.input, { signal })
      verifyBytes(award.input, inputBytes)
    }
    // the requester knows what it sent inline: the frame (one more message through the stream) reports a fetch only
    if (req.input == null) await ctx.progress({ type: 'pl:exec:input', cid: award.input, source: 'fetched', bytes: inputBytes.byteLength })
    const call = decodeCanonical(inputBytes)
    if (!isStepCall(call)) throw new InvalidStepInputError(`input ${award.input} is not a step call document {input_data, parameters, settings, global_settings, global_parameters}`, { input: award.input })

    const started = this.clock.now()
    let status: 'ok' | 'error' = 'ok'
    let outputBytes: Uint8Array | undefined
    let outputCid: string | undefined
    let usage: Receipt['usage']
    let via: Receipt['via']
    let error: ErrorData | undefined
    let isolation: Receipt['isolation']
    let permissions: Receipt['permissions']
    let inner: InnerRun | undefined
    let sending = false
    const onProgress = (n: number, total?: number, message?: string): void => {
      if (sending || typeof n !== 'number') return
      sending = true // drop progress while a frame is in flight rather than queue without bound
      const frame = { type: 'pl:step:progress' as const, n, ...(typeof total === 'number' ? { total } : {}), ...(typeof message === 'string' ? { message: message.slice(0, 500) } : {}) }
      ctx.progress(frame).catch(() => {}).finally(() => { sending = false })
    }
    try {
      const sandbox = await this.sandboxOf(rec.bid.offer, rec.bid.cfp.policies)
      if (this.init.io != null) {
        // previous_outputs is the runtime's view of upstream steps, not the capability's input
        const { previous_outputs: _upstream, ...input } = (call.input_data ?? {})
        await this.init.io.check('input', rec.bid.offer.descriptor.io?.input, input).catch((err: Error) => {
          this.components.metrics?.reject('negotiation', err.name)
          throw err
        })
      }
      const out = await this.init.runStep(rec.bid.offer.module, {
        name: rec.bid.offer.module.key,
        parameters: call.parameters,
        settings: call.settings,
        globalSettings: call.global_settings,
        globalParameters: call.global_parameters,
        inputData: call.input_data,
        limits: effectiveLimits(limits, { wall_ms: Math.max(1, Math.min(award.deadline - this.clock.now(), MAX_AWARD_DEADLINE_MS)) }),
        step: { runId: award.run, key: award.step, attempt: award.attempt ?? 1, constraints: rec.bid.cfp.constraints ?? {}, ...(rec.bid.cfp.depth != null ? { depth: rec.bid.cfp.depth } : {}) },
        ...(sandbox != null ? { sandbox } : {})
      }, { signal, onProgress })
      usage = receiptUsage(out.usage)
      via = out.via
      isolation = out.isolation
      permissions = out.permissions
      inner = out.inner
      outputBytes = encodeCanonical(out.output)
      const max = this.init.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
      if (outputBytes.byteLength > max) throw new StepOutputTooLargeError(`the step's output is ${outputBytes.byteLength} bytes, over this node's limit of ${max}`, { size: outputBytes.byteLength, max })
      outputCid = cidOfBytes(outputBytes).toString()
    } catch (err) {
      status = 'error'
      outputBytes = undefined
      outputCid = undefined
      inner = undefined
      error = wireError(err)
      const measured = (err as { details?: { usage?: Receipt['usage'] } }).details?.usage
      usage = receiptUsage(measured ?? { cpu_ms: 0, wall_ms: this.clock.now() - started, mem_peak_mb: 0 })
      this.log.info({ award: rec.id, err: error.name }, 'awarded step failed')
    }
    const ended = Math.max(started, this.clock.now())
    const receipt: Receipt = {
      run: award.run,
      step: award.step,
      capability: rec.bid.cfp.capability.name,
      provider: this.components.identity.id,
      requester,
      award: rec.id,
      input: award.input,
      output: outputCid ?? '',
      status,
      started,
      ended,
      usage,
      limits: receiptLimits(award.limits),
      policies: rec.bid.cfp.policies ?? [],
      prev: award.prev ?? [],
      ...(via != null ? { via } : {}),
      ...(award.on_behalf_of != null ? { on_behalf_of: award.on_behalf_of } : {}),
      ...(isolation != null ? { isolation } : {}),
      ...(permissions != null && permissions.length > 0 ? { permissions } : {}),
      ...(inner != null ? { inner: { run: inner.run, receipts: inner.receipts } } : {}),
      ...(award.attestations != null && award.attestations.length > 0 ? { attestations: award.attestations } : {})
    }
    const signed = signReceipt(this.components.identity, receipt, { registry: this.components.registry })
    const result: Result = { award: rec.id, run: award.run, step: award.step, status, usage, receipt: signed, ...(outputCid != null ? { output: outputCid } : {}), ...(error != null ? { error } : {}) }
    const envelope = this.components.sign('Result.v1', result, { to: requester })
    return { status: 'OK', body: { result: envelope, ...(outputBytes != null ? { output: outputBytes } : {}), ...(inner != null ? { inner: inner.signed } : {}) } }
  }
}
