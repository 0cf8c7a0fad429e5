/**
 * RemoteRunner: the requester side, a StepRunner for steps whose capability
 * is not installed here. Per step: store the input as a block, find
 * candidates, run a CFP round, award the best bid and keep the rest as
 * backups, execute on the winner over /pl/exec, verify the Result (signed by
 * the winner, output bytes hash to the claimed CID) and the receipt (award,
 * input, output, usage within limits, policies), countersign and store it.
 * A winner that rejects the award, fails, times out, disconnects or returns
 * something that does not verify is replaced by the next backup (bounded
 * attempts, within the step deadline; a new round when backups run out).
 *
 * @example
 * const runner = new RemoteRunner(components, { finder: discovery, local })
 * const { output, receipt, executor } = await runner.run(step, inputData, ctx)
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { cidOfBytes, decodeCanonical, encodeCanonical, parseCid, verifyBytes, DAG_CBOR } from '../core/encoding.js'
import { envelopeId, type Envelope, type SignOptions, type EnvelopeVerifier, type Identity, type Metrics, mapBounded } from '../core/index.js'
import type { Logger } from '../core/logger.js'
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js'
import type { Store } from '../store/index.js'
import type { Rpc, RpcResponse } from '../net/index.js'
import type { PlLibp2p } from '../net/libp2p.js'
import type { SchemaRegistry } from '../spec/index.js'
import type { RunnerQuery, StepContext, StepRunner, StepRunResult } from '../exec/types.js'
import type { Step } from '../workflow/index.js'
import { countersignVerified, type SignedReceipt, verifyInnerReceipts, verifyReceiptAgainst, stepCallDocument, prevReceipts, receiptLimits, receiptUsage, type ReceiptStore } from '../receipts/index.js'
import {
  DEFAULT_CFP_CONCURRENCY, DEFAULT_COST_ATTRS, DEFAULT_EXEC_GRACE_MS, DEFAULT_ROUND_FIND_TIMEOUT_MS, DEFAULT_INLINE_INPUT_BYTES,
  DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_CANDIDATES, DEFAULT_MAX_REMOTE_STEPS, DEFAULT_MAX_ROUNDS, DEFAULT_REPLY_WINDOW_MS, DEFAULT_NEGOTIATION_DIAL_MS, DEFAULT_SELECT,
  MAX_CFP_CONSTRAINTS, MAX_CFP_CONSTRAINT_KEY, MAX_CFP_CONSTRAINT_VALUE
} from './constants.js'
import { AllProvidersFailedError, InvalidResultError, NegotiationDeadlineError, NoBidsError, NoProvidersError, RemoteStepFailedError } from './errors.js'
import { CfpRound, judgeBid, carriedReleases, type OpenCallPort, type PendingRelease, type RankedBid } from './round.js'
import type { PeerQuarantine } from './quarantine.js'
import { resolvePolicies, type EffectivePolicy, type PolicyResolver } from './policy.js'
import { execProtocol, negotiateProtocol, MAX_CARRIED_RELEASES, type ExecProgress, type ExecResponse } from './wire.js'
import type { AttemptExplanation, ExplanationStore, StepExplanation } from './explanation.js'
import { checkOutputConstraints, constraintWarnings, type Verdict, attestationCid, type IoSchemas, type BidEvidence, type Requirement } from '../trust/index.js'
import { Semaphore } from '../exec/index.js'
import { LIMIT_KEYS, type Bid, type BidRelease, type Award, type Candidate, type CandidateFinder, type CandidateFindOptions, type Limits, type LocalCapabilities, type Result } from './types.js'
import { RecentWalks } from './recent-walks.js'

export interface RemoteRunnerComponents {
  identity: Identity
  registry: SchemaRegistry
  verifier: EnvelopeVerifier
  rpc: Rpc
  libp2p: PlLibp2p
  store: Store
  logger: Logger
  metrics?: Metrics
  sign: <B extends object>(type: string, body: B, options?: SignOptions) => Envelope<B>
  /** step deadlines, reply windows, bid expiry of backups, explanation times @default systemClock */
  clock?: Clock
}

export interface RemoteRunnerInit {
  finder: CandidateFinder
  /** capabilities installed here: steps naming one are not this runner's */
  local?: LocalCapabilities
  receipts: ReceiptStore
  explanations: ExplanationStore
  /** lets the awarded provider fetch a step input that is too large to send inline (the node's BlockFetcher `grant`) */
  grantInput?: (cid: string, peer: string, ttlMs: number) => void
  policies: PolicyResolver
  /** judges bids' attestations (the trust service); without it only `self_attest` policies can be met */
  trust?: () => { judge: (requirements: Requirement[], residency: string[] | undefined, bid: BidEvidence) => Verdict } | undefined
  /** checks outputs against the winner's output schema (compiled once per schema CID) */
  io?: IoSchemas
  /** @default DEFAULT_REPLY_WINDOW_MS */
  replyWindowMs?: number
  /** how long opening a stream to a provider may take (CFP, award, exec) @default DEFAULT_NEGOTIATION_DIAL_MS */
  dialTimeoutMs?: number
  /** @default DEFAULT_MAX_ATTEMPTS */
  maxAttempts?: number
  /** @default DEFAULT_MAX_ROUNDS */
  maxRounds?: number
  /** @default DEFAULT_CFP_CONCURRENCY */
  cfpConcurrency?: number
  /** @default DEFAULT_MAX_CANDIDATES */
  maxCandidates?: number
  /** @default DEFAULT_ROUND_FIND_TIMEOUT_MS */
  findTimeoutMs?: number
  /** at most one DHT walk per capability in this period while the catalog knows candidates (0: a walk at every round) @default DEFAULT_WALK_EVERY_MS */
  walkEveryMs?: number
  /** @default DEFAULT_INLINE_INPUT_BYTES */
  inlineInputBytes?: number
  /** @default DEFAULT_EXEC_GRACE_MS */
  execGraceMs?: number
  /** a fixed negotiation deadline per step; default: reply window + attempts × (wall limit + grace) */
  stepDeadlineMs?: number
  /** @default DEFAULT_COST_ATTRS */
  costAttrs?: string[]
  /** remote steps negotiated and run at once; more wait (they take no executor slot) @default DEFAULT_MAX_REMOTE_STEPS */
  maxRemoteSteps?: number
  /** publish an open call on gossip when discovery finds nobody (the service passes its gossip and collector) */
  open?: OpenCallPort
  /** dead-peer memory: quarantined peers are not dialed by discovery nor called (unless nobody else is left) */
  quarantine?: PeerQuarantine
}

interface StepJob {
  step: Step
  ctx: StepContext
  name: string
  version?: string
  inputCid: string
  inputBytes: Uint8Array
  prev: string[]
  policy: EffectivePolicy
  deadline: number
  signal: AbortSignal
  exp: StepExplanation
  /** the input block's write and the earlier explanation's merge (awaited before the first exec call) */
  ready: Promise<void>
}

const NOT_FAILOVER = new Set(['RpcAbortedError'])
/** Errors of a call or award that mean the connection to the peer failed (it is quarantined when no connection to it is left). */
/** bids per BidRelease.v1 (its schema's maxItems) and how long delivering one may take */
const MAX_RELEASE_BIDS = 64
const RELEASE_TTL_MS = 10_000
/** how long a release waits for a call to its provider to ride with before it goes on its own */
const RELEASE_FLUSH_MS = 250
/** providers remembered as taking `plain_releases` */
const MAX_PLAIN_PEERS = 4096
const CONNECTION_ERRORS = new Set(['RpcDialError', 'RpcStreamError'])
/** What a provider answers /pl/exec when it refuses the award the call carries (the attempt's outcome is then 'award-rejected'). */
const AWARD_REFUSALS = new Set(['AwardMismatchError', 'UnknownBidError', 'BidAlreadyAwardedError', 'BidExpiredError', 'ProviderBusyError', 'ReplayError'])
/** Runs remembered as having had their plan warnings logged. */
const WARNED_RUNS = 1024
/** Earlier negotiations of one step kept in its explanation. */
const MAX_HISTORY = 5

/**
 * The plan's constraints as a call carries them (CallForProposal.v1): scalar
 * entries only, short keys and strings, at most MAX_CFP_CONSTRAINTS; the
 * rest stays with the requester (its policy filter reads the plan's own).
 */
export function cfpConstraints (constraints: unknown): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = {}
  if (constraints == null || typeof constraints !== 'object' || Array.isArray(constraints)) return out
  let n = 0
  for (const [k, v] of Object.entries(constraints)) {
    if (n >= MAX_CFP_CONSTRAINTS) break
    if (k.length > MAX_CFP_CONSTRAINT_KEY) continue
    const ok = typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.length <= MAX_CFP_CONSTRAINT_VALUE)
    if (!ok) continue
    out[k] = v
    n++
  }
  return out
}

/** Each limit of the award: min(plan, bid) where both set it, else the one that does (the round filtered bids below the plan). */
export function awardLimits (plan: Limits, bid: Limits): Limits {
  const out: Limits = {}
  for (const k of LIMIT_KEYS) {
    const p = plan[k]
    const b = bid[k]
    const v = p != null && b != null ? Math.min(p, b) : p ?? b
    if (v != null) out[k] = v
  }
  return out
}

function errorInfo (err: unknown): { name: string, message: string } {
  const e = err as { name?: string, message?: string }
  return { name: e?.name ?? 'Error', message: e?.message ?? String(err) }
}

export class RemoteRunner implements StepRunner {
  readonly name = 'remote'
  /**
   * A remote step does not take one of the executor's slots (sized for local
   * CPU work: 2 on a 2-core machine): it mostly waits on the network and on
   * the provider, and holding a slot for that queued every other step of
   * every run behind two remote ones. This runner bounds its own steps.
   */
  readonly ownSlots = true
  private readonly slots: Semaphore
  /** when each capability was last walked in the DHT (one walk per capability per `walkEveryMs`) */
  private readonly walks: RecentWalks
  private readonly round: CfpRound
  private readonly negotiate = negotiateProtocol()
  private readonly exec = execProtocol()
  private readonly shutdown = new AbortController()
  private readonly log: Logger
  private readonly clock: Clock
  /** runs whose plan warnings were logged */
  private readonly warnedRuns = new Set<string>()
  /** signed BidRelease.v1 envelopes waiting for the next call to their provider, or for the flush */
  private readonly pendingReleases = new Map<string, PendingRelease[]>()
  /** providers that answered a call with `plain_releases: true` (at most MAX_PLAIN_PEERS, the oldest out) */
  private readonly plainPeers = new Set<string>()
  private releaseTimer?: TimerHandle

  constructor (private readonly components: RemoteRunnerComponents, private readonly init: RemoteRunnerInit) {
    this.clock = components.clock ?? systemClock
    this.round = new CfpRound({ ...components, releasesFor: (provider) => this.takeReleases(provider), takesPlainReleases: (provider, takes) => { this.takesPlain(provider, takes) } })
    this.log = components.logger.child({ component: 'negotiation-requester' })
    this.slots = new Semaphore(init.maxRemoteSteps ?? DEFAULT_MAX_REMOTE_STEPS)
    this.walks = new RecentWalks({ everyMs: init.walkEveryMs, clock: this.clock })
  }

  /** True the first time `runId` is seen (the last WARNED_RUNS runs are remembered). */
  private warned (runId: string): boolean {
    if (this.warnedRuns.has(runId)) return false
    this.warnedRuns.add(runId)
    if (this.warnedRuns.size > WARNED_RUNS) this.warnedRuns.delete(this.warnedRuns.values().next().value as string)
    return true
  }

  /** Steps that name a capability this node has no module for. */
  async canRun (step: Step, query: RunnerQuery): Promise<boolean> {
    if (step.capability == null || step.kind === 'branch' || step.kind === 'loop' || step.kind === 'human') return false
    if (step.module != null && query.modules[step.module.key] != null) return false
    if (this.init.local != null && await this.init.local.localOffer(step.capability.name, step.capability.version) != null) return false
    return true
  }

  /** A remote step runs on another node: nothing it does can bring this process down, so it need not wait for its `running` record. */
  outOfProcess (): boolean {
    return true
  }

  async stop (): Promise<void> {
    this.shutdown.abort()
    // releases not sent yet are dropped: their bids expire on their own
    this.clock.clearTimeout(this.releaseTimer)
    this.releaseTimer = undefined
    this.pendingReleases.clear()
  }

  async run (step: Step, inputData: Record<string, unknown>, ctx: StepContext): Promise<StepRunResult> {
    if (step.capability == null) throw new TypeError(`step ${step.id} names no capability; the remote runner cannot run it`)
    return await this.slots.run(async () => await this.runStep(step, inputData, ctx), ctx.signal)
  }

  private async runStep (step: Step, inputData: Record<string, unknown>, ctx: StepContext): Promise<StepRunResult> {
    if (step.capability == null) throw new TypeError(`step ${step.id} names no capability; the remote runner cannot run it`)
    const started = this.clock.now()
    const call = stepCallDocument(step, inputData, ctx.dag)
    const inputBytes = encodeCanonical(call)
    const inputCid = cidOfBytes(inputBytes).toString()
    const attempts = this.init.maxAttempts ?? DEFAULT_MAX_ATTEMPTS
    const replyWindow = this.init.replyWindowMs ?? DEFAULT_REPLY_WINDOW_MS
    const deadline = started + (this.init.stepDeadlineMs ?? replyWindow + attempts * (ctx.limits.wall_ms + (this.init.execGraceMs ?? DEFAULT_EXEC_GRACE_MS)))
    // the input block's write and the read of an earlier explanation overlap with the call for proposals (the
    // calls only name the input's CID): both are awaited before the first exec call, so the input is on disk
    // before any provider is sent it or may fetch it. The policies and upstream receipts are needed for the calls.
    const stored = Promise.all([
      this.components.store.blocks.putBytes(inputCid, inputBytes),
      this.init.explanations.find(ctx.runId, ctx.key)
    ])
    stored.catch(() => {}) // awaited (job.ready), or dropped when the step fails before any award
    const [policy, prev] = await Promise.all([
      resolvePolicies(ctx.dag.policies ?? [], this.init.policies, ctx.dag.constraints, { signal: ctx.signal }),
      prevReceipts(this.init.receipts, ctx.runId, ctx.dag, step)
    ])
    const warnings = constraintWarnings(ctx.dag.constraints)
    // once per run in the log (every step's explanation keeps them): a plan's warning is not news at each of its steps
    if (warnings.length > 0 && this.warned(ctx.runId)) for (const w of warnings) this.log.warn({ run: ctx.runId, step: ctx.key }, w)
    const exp: StepExplanation = {
      v: 1,
      run: ctx.runId,
      step: ctx.key,
      capability: step.capability.name,
      select: ctx.dag.select.length > 0 ? ctx.dag.select : DEFAULT_SELECT,
      policies: policy.cids,
      input: inputCid,
      rounds: 0,
      started,
      reawards: 0,
      answers: [],
      bids: [],
      attempts: [],
      ...(warnings.length > 0 ? { warnings } : {})
    }
    const ready = stored.then(([, earlier]) => {
      if (earlier == null) return
      // an earlier negotiation of this step (an executor retry, a resumed run): keep it, newest last
      const { history, ...previous } = earlier
      exp.history = [...(history ?? []), previous].slice(-MAX_HISTORY)
    })
    ready.catch(() => {})
    const signal = AbortSignal.any([ctx.signal, this.shutdown.signal])
    const job: StepJob = {
      step, ctx, name: step.capability.name, version: step.capability.version, inputCid, inputBytes,
      prev, policy, deadline, signal, exp, ready
    }
    let result: StepRunResult | undefined
    try {
      result = await this.negotiateAndRun(job)
      exp.outcome = 'ok'
    } catch (err) {
      exp.outcome = 'failed'
      exp.error = errorInfo(err)
      throw err
    } finally {
      exp.ended = this.clock.now()
      await ready.catch(() => {}) // the earlier explanation, when the step ended before any award
      this.releaseBids(exp, signal.aborted ? 'cancelled' : exp.outcome === 'ok' ? 'lost' : 'step-failed')
      const explained = this.init.explanations.put(exp).catch((err: Error) => { this.log.warn({ err: err.message }, 'cannot store the award explanation') })
      // the accepted receipt and the explanation share one group commit; the receipt is on disk before the step resolves
      if (result != null) await Promise.all([this.init.receipts.put(result.receipt as SignedReceipt), explained])
      else await explained
    }
    return result
  }

  /**
   * The step is settled: the bids it did not award (backups, and bids the
   * policy filtered out) are released (BidRelease.v1 to each provider), so
   * their providers stop holding capacity for them until their expiry — a
   * provider at its open-bid limit otherwise declines the next calls until
   * the losing bids time out. Fire and forget, bounded; a provider that
   * cannot be reached lets its bids expire as before.
   */
  private releaseBids (exp: StepExplanation, reason: BidRelease['reason']): void {
    const byProvider = new Map<string, string[]>()
    for (const b of exp.bids) {
      if (b.status !== 'backup' && b.status !== 'filtered') continue
      if (b.expires <= this.clock.now()) continue
      byProvider.set(b.provider, [...(byProvider.get(b.provider) ?? []), b.bid])
    }
    if (byProvider.size === 0 || this.shutdown.signal.aborted) return
    const calls = [...byProvider].flatMap(([provider, bids]) => {
      const chunks: Array<[string, string[]]> = []
      for (let i = 0; i < bids.length; i += MAX_RELEASE_BIDS) chunks.push([provider, bids.slice(i, i + MAX_RELEASE_BIDS)])
      return chunks
    })
    for (const [provider, bids] of calls) {
      const release: BidRelease = { run: exp.run, step: exp.step, bids, ...(reason != null ? { reason } : {}) }
      // a provider that takes plain releases gets the body alone: the stream it rides on says who released it
      const pending = this.plainPeers.has(provider) ? release : this.signRelease(provider, release)
      const queued = this.pendingReleases.get(provider)
      if (queued != null) queued.push(pending)
      else this.pendingReleases.set(provider, [pending])
    }
    // they ride with the next call to each provider (CarriedReleases), or go on their own after RELEASE_FLUSH_MS
    this.releaseTimer ??= this.clock.setTimeout(() => { this.releaseTimer = undefined; this.flushReleases() }, RELEASE_FLUSH_MS)
  }

  private signRelease (provider: string, release: BidRelease): Envelope<BidRelease> {
    return this.components.sign('BidRelease.v1', release, { to: provider, ttlMs: RELEASE_TTL_MS })
  }

  /** Remembers whether `provider` takes plain releases, from its last answer to a call (a provider may restart as an older version). */
  private takesPlain (provider: string, takes: boolean): void {
    if (!takes) { this.plainPeers.delete(provider); return }
    if (this.plainPeers.has(provider)) return
    if (this.plainPeers.size >= MAX_PLAIN_PEERS) this.plainPeers.delete(this.plainPeers.values().next().value as string)
    this.plainPeers.add(provider)
  }

  /** Takes the releases waiting for `provider` (at most MAX_CARRIED_RELEASES), to go with a call to it. */
  private takeReleases (provider: string): PendingRelease[] | undefined {
    const pending = this.pendingReleases.get(provider)
    if (pending == null) return undefined
    const taken = pending.splice(0, MAX_CARRIED_RELEASES)
    if (pending.length === 0) this.pendingReleases.delete(provider)
    return taken
  }

  /** Sends the releases no call took: one /pl/negotiate call per provider, the first as its envelope and the rest carried. Best effort. */
  private flushReleases (): void {
    if (this.shutdown.signal.aborted) return
    const providers = [...this.pendingReleases.keys()]
    void mapBounded(providers, this.init.cfpConcurrency ?? DEFAULT_CFP_CONCURRENCY, async (provider) => {
      for (let taken = this.takeReleases(provider); taken != null && taken.length > 0; taken = this.takeReleases(provider)) {
        // the call's own envelope is a signed release: the first signed one, or the first plain one signed now
        const first = Math.max(0, taken.findIndex(r => 'sig' in r))
        const head = taken[first]
        const envelope = 'sig' in head ? head : this.signRelease(provider, head)
        const rest = taken.filter((_, i) => i !== first)
        await this.components.rpc.request(provider, this.negotiate, { envelope, ...carriedReleases(rest) }, { signal: this.shutdown.signal, timeouts: { dialMs: this.init.dialTimeoutMs ?? DEFAULT_NEGOTIATION_DIAL_MS, firstByteMs: RELEASE_TTL_MS, totalMs: RELEASE_TTL_MS } })
          .catch((err: Error) => { this.log.debug({ provider, err: err.message }, 'bid release not delivered (the bids expire on their own)') })
      }
    })
  }

  private async negotiateAndRun (job: StepJob): Promise<StepRunResult> {
    const maxAttempts = this.init.maxAttempts ?? DEFAULT_MAX_ATTEMPTS
    const maxRounds = this.init.maxRounds ?? DEFAULT_MAX_ROUNDS
    const failed = new Set<string>()
    let backups: RankedBid[] = []
    let attempt = 0
    for (;;) {
      if (job.signal.aborted) throw job.signal.reason ?? new Error('aborted')
      if (attempt >= maxAttempts) break
      if (this.clock.now() >= job.deadline) {
        throw new NegotiationDeadlineError(`step ${job.ctx.key} (${job.name}): the negotiation deadline passed after ${attempt} attempt${attempt === 1 ? '' : 's'}`, { attempts: job.exp.attempts })
      }
      backups = backups.filter(b => b.body.expires > this.clock.now() && !failed.has(b.provider))
      if (backups.length === 0) {
        if (job.exp.rounds >= maxRounds) break
        backups = await this.newRound(job, failed)
        if (backups.length === 0) break
      }
      const best = backups.shift() as RankedBid
      // the input block is on disk (and the earlier explanation merged) before the first exec call; a store error fails the step, not the provider
      await job.ready
      attempt++
      if (attempt > 1) job.exp.reawards++
      const record: AttemptExplanation = { n: attempt, round: best.explanation.round, provider: best.provider, bid: best.id, outcome: 'failed', at: this.clock.now() }
      job.exp.attempts.push(record)
      try {
        const result = await this.attempt(job, best, attempt, record)
        record.outcome = 'ok'
        best.explanation.status = 'won'
        job.exp.winner = best.provider
        return result
      } catch (err) {
        const info = errorInfo(err)
        record.error = info
        best.explanation.status = 'failed'
        failed.add(best.provider)
        this.log.info({ step: job.ctx.key, provider: best.provider, err: info.name }, 'awarded provider failed')
        if (CONNECTION_ERRORS.has(info.name) && !this.connected(best.provider)) this.init.quarantine?.add(best.provider, 'connection-lost')
        if (job.signal.aborted || NOT_FAILOVER.has(info.name)) throw err
        if (err instanceof RemoteStepFailedError && !err.retryable) throw err
      }
    }
    const tried = job.exp.attempts.map(a => `${a.provider}: ${a.outcome} (${a.error?.name ?? ''}: ${a.error?.message ?? ''})`).join('; ')
    throw new AllProvidersFailedError(`step ${job.ctx.key} (${job.name}): every awarded provider failed — ${tried}`, { attempts: job.exp.attempts })
  }

  /** Finds candidates and asks them; throws NoProvidersError / NoBidsError when the first round yields nothing. */
  private async newRound (job: StepJob, failed: Set<string>): Promise<RankedBid[]> {
    const self = this.components.identity.id
    const round = ++job.exp.rounds
    const quarantine = this.init.quarantine
    const maxCandidates = this.init.maxCandidates ?? DEFAULT_MAX_CANDIDATES
    const skip = (p: string): boolean => p === self || failed.has(p)
    const excluded = (p: string): boolean => skip(p) || quarantine?.has(p) === true
    let walk: string | undefined
    // policies are not a discovery filter here: providers that do not honour them get to say so (a decline in the explanation).
    // Discovery stops once maxCandidates live providers are known and does not dial quarantined peers.
    const query = { name: job.name, ...(job.version != null ? { version: job.version } : {}) }
    const options: CandidateFindOptions = {
      signal: job.signal,
      timeoutMs: this.init.findTimeoutMs ?? DEFAULT_ROUND_FIND_TIMEOUT_MS,
      limit: maxCandidates,
      exclude: excluded,
      onUnreachable: (p) => { if (!skip(p)) quarantine?.add(p, 'unreachable') },
      onProgress: (e) => { if (e?.type === 'pl:discovery:walk-end') walk = e.reason }
    }
    // one DHT walk per capability per walkEveryMs: in between, the catalog's candidates (gossip ads, the last walk) are asked
    let found: Candidate[] | undefined
    if (!this.walks.due(job.name)) {
      found = await this.init.finder.find(query, { ...options, localOnly: true })
      if (found.some(c => !excluded(c.provider))) walk = 'recent'
      else found = undefined
    }
    if (found == null) {
      this.walks.walked(job.name)
      found = await this.init.finder.find(query, options)
    }
    const seen = new Set<string>()
    const distinct = found.filter((c) => {
      if (skip(c.provider) || seen.has(c.provider)) return false
      seen.add(c.provider)
      return true
    })
    // a fresh signed ad means the peer is back
    if (quarantine != null) for (const c of found) if (c.source === 'gossip' && typeof c.expires === 'number') quarantine.sawAd(c.provider, c.expires)
    const held = distinct.filter(c => quarantine?.has(c.provider) === true)
    // quarantine is a preference, not a ban: when nobody else is left, the quarantined are asked anyway
    const candidates = (held.length < distinct.length ? distinct.filter(c => quarantine?.has(c.provider) !== true) : distinct).slice(0, maxCandidates)
    if (held.length < distinct.length) {
      for (const c of held) {
        const q = quarantine?.get(c.provider)
        job.exp.answers.push({ round, provider: c.provider, kind: 'excluded', message: `quarantined (${q?.reason ?? 'unreachable'}) until ${new Date(q?.until ?? 0).toISOString()}` })
      }
    }
    ;(job.exp.finds ??= []).push({ round, found: distinct.length, quarantined: held.length < distinct.length ? held.length : 0, ...(walk != null ? { walk } : {}) })
    if (candidates.length === 0 && (round > 1 || this.init.open == null)) {
      if (round > 1) return []
      throw new NoProvidersError(`no provider of ${job.name}${job.version != null ? `@${job.version}` : ''} was found for step ${job.ctx.key}${found.length > 0 ? ' other than this node' : ''}`, { capability: job.name })
    }
    const now = this.clock.now()
    const replyBy = Math.min(now + (this.init.replyWindowMs ?? DEFAULT_REPLY_WINDOW_MS), job.deadline)
    const input = {
      round,
      cfp: {
        run: job.ctx.runId,
        step: job.ctx.key,
        capability: { name: job.name, ...(job.version != null ? { version: job.version } : {}) },
        input: job.inputCid,
        input_size: job.inputBytes.byteLength,
        deadline: job.deadline,
        reply_by: replyBy,
        constraints: cfpConstraints(job.ctx.dag.constraints),
        ...(job.ctx.depth != null && job.ctx.depth > 0 ? { depth: job.ctx.depth } : {}),
        policies: job.policy.cids,
        // the plan's own limits for the step; node defaults are the executor's business, not a demand on providers
        limits: receiptLimits(job.step.limits ?? {})
      },
      policy: job.policy,
      judge: (bid: Bid, provider: string) => this.judge(job.policy, bid, provider),
      select: job.exp.select,
      costAttrs: this.init.costAttrs ?? DEFAULT_COST_ATTRS,
      concurrency: this.init.cfpConcurrency ?? DEFAULT_CFP_CONCURRENCY,
      dialMs: this.init.dialTimeoutMs ?? DEFAULT_NEGOTIATION_DIAL_MS,
      signal: job.signal
    }
    if (candidates.length === 0 && this.init.open != null) {
      // nobody known: ask whoever listens on pl/v1/cfp/<name>
      job.exp.open = true
      const ranked = await this.round.runOpen(input, job.exp, this.init.open)
      if (ranked.length > 0) return ranked
      if (job.exp.answers.length === 0) {
        throw new NoProvidersError(`no provider of ${job.name} was found for step ${job.ctx.key}, and nobody answered an open call on pl/v1/cfp/${job.name} within ${replyBy - now} ms`, { capability: job.name })
      }
      throw this.noBids(job)
    }
    const ranked = await this.round.run({ ...input, candidates }, job.exp)
    this.quarantineSilent(job, round)
    if (ranked.length === 0 && round === 1) throw this.noBids(job)
    return ranked
  }

  /**
   * Candidates of this round that could not be reached, or let the bid
   * window pass with no connection to them left, are quarantined. A peer we
   * hold a connection with is alive: its silence is about this call (busy,
   * or a strategy that stays quiet), not a reason to stop calling it.
   */
  private quarantineSilent (job: StepJob, round: number): void {
    const quarantine = this.init.quarantine
    if (quarantine == null) return
    for (const a of job.exp.answers) {
      if (a.round !== round || this.connected(a.provider)) continue
      if (a.kind === 'timeout') quarantine.add(a.provider, 'missed-bid')
      else if (a.kind === 'error' && CONNECTION_ERRORS.has(a.error ?? '')) quarantine.add(a.provider, 'unreachable')
    }
  }

  private connected (peer: string): boolean {
    try {
      return this.components.libp2p.getConnections(peerIdFromString(peer)).length > 0
    } catch {
      return false
    }
  }

  private noBids (job: StepJob): NoBidsError {
    const said = job.exp.answers.map((a) => {
      switch (a.kind) {
        case 'decline': return `${a.provider} declined (${a.reason ?? 'other'}${a.message != null ? `: ${a.message}` : ''})`
        case 'timeout': return `${a.provider} did not answer (${a.message ?? 'timeout'})`
        case 'excluded': return `${a.provider} was not asked (${a.message ?? 'policy'})`
        case 'bid': {
          const b = job.exp.bids.find(x => x.provider === a.provider && x.round === a.round)
          return `${a.provider} bid but was filtered out (${b?.reason ?? 'unusable'})`
        }
        default: return `${a.provider} answered with ${a.error ?? 'an error'}${a.message != null ? `: ${a.message}` : ''}`
      }
    })
    // a provider at its limit of open bids or active steps refuses for now, not for good: the executor may retry the step
    const busy = job.exp.answers.some(a => a.kind === 'decline' && a.reason === 'busy')
    return new NoBidsError(`no usable bid for ${job.name} (step ${job.ctx.key}) from ${job.exp.answers.length} candidate${job.exp.answers.length === 1 ? '' : 's'}: ${said.join('; ')}`, { answers: job.exp.answers }, busy)
  }

  /** Whether a bid's attestations meet the policy's requirements and residency. */
  private judge (policy: EffectivePolicy, bid: Bid, provider: string): Verdict {
    return judgeBid(policy, bid, provider, this.init.trust?.())
  }

  /** Awards `best`, executes the step on it, verifies and accepts the result. */
  private async attempt (job: StepJob, best: RankedBid, n: number, record: AttemptExplanation): Promise<StepRunResult> {
    const provider = best.provider
    const award: Award = {
      cfp: best.cfpId,
      bid: best.id,
      run: job.ctx.runId,
      step: job.ctx.key,
      provider,
      capability: best.body.capability,
      input: job.inputCid,
      limits: awardLimits(receiptLimits(job.step.limits ?? {}), best.body.limits),
      price: best.body.price,
      deadline: job.deadline,
      attempt: n,
      prev: job.prev,
      ...(job.ctx.onBehalfOf != null ? { on_behalf_of: job.ctx.onBehalfOf } : {}),
      ...(best.admitted.length > 0 ? { attestations: best.admitted } : {})
    }
    const awardEnv = this.components.sign('Award.v1', award, { to: provider, ttlMs: Math.max(1_000, job.deadline - this.clock.now() + 5_000) })
    const awardId = envelopeId(awardEnv)
    record.award = awardId
    const inline = job.inputBytes.byteLength <= (this.init.inlineInputBytes ?? DEFAULT_INLINE_INPUT_BYTES)
    // only the awarded provider may fetch the input, and only until the step's deadline
    if (!inline) this.init.grantInput?.(job.inputCid, provider, Math.max(1, job.deadline - this.clock.now()))
    // the award travels with the exec call (one round trip): the provider verifies and accepts it before running anything
    let res = await this.execCall(job, provider, awardEnv, inline, true)
    if (res.status !== 'OK' && res.error?.name === 'UnknownAwardError') {
      // a provider that takes awards on /pl/negotiate only: award there, then call again
      await this.awardApart(job, provider, awardEnv, record)
      res = await this.execCall(job, provider, awardEnv, inline, false)
    }
    if (res.status !== 'OK') {
      const e = res.error
      const refusedAward = AWARD_REFUSALS.has(e?.name ?? '')
      if (refusedAward) record.outcome = 'award-rejected'
      throw new RemoteStepFailedError(`${provider} ${refusedAward ? 'rejected the award' : 'refused to execute'}: ${e?.name ?? res.status}: ${e?.message ?? ''}`, { remote: e, provider }, true)
    }
    return await this.accept(job, best, awardId, award, res.body as ExecResponse, record)
  }

  /** One /pl/exec call with the award envelope (`accept`: not sent before, to be accepted with this call) and the input when small enough to go inline. */
  private async execCall (job: StepJob, provider: string, awardEnv: Envelope<Award>, inline: boolean, accept: boolean): Promise<RpcResponse<ExecResponse>> {
    const budget = Math.max(1, job.deadline - this.clock.now())
    return await this.components.rpc.request(provider, this.exec, { award: awardEnv, ...(inline ? { input: job.inputBytes } : {}), ...(accept ? { accept: true as const } : {}) }, {
      signal: job.signal,
      timeouts: { totalMs: budget, firstByteMs: Math.min(budget, 10_000), dialMs: this.init.dialTimeoutMs ?? DEFAULT_NEGOTIATION_DIAL_MS },
      onProgress: (body) => {
        const p = body as ExecProgress
        if (p?.type === 'pl:step:progress' && typeof p.n === 'number') job.ctx.progress(p.n, p.total, p.message)
      }
    })
  }

  /** The award on /pl/negotiate, for a provider that does not take it with the exec call; throws when refused. */
  private async awardApart (job: StepJob, provider: string, awardEnv: Envelope<Award>, record: AttemptExplanation): Promise<void> {
    const ack = await this.components.rpc.request(provider, this.negotiate, { envelope: awardEnv }, { signal: job.signal, timeouts: { dialMs: this.init.dialTimeoutMs ?? DEFAULT_NEGOTIATION_DIAL_MS } })
    if (ack.status === 'OK') return
    record.outcome = 'award-rejected'
    const e = ack.error
    throw new RemoteStepFailedError(`${provider} rejected the award: ${e?.name ?? ack.status}: ${e?.message ?? ''}`, { remote: e, provider }, true)
  }

  private async accept (job: StepJob, best: RankedBid, awardId: string, award: Award, body: ExecResponse, record: AttemptExplanation): Promise<StepRunResult> {
    const provider = best.provider
    // no replay-store record: the result comes back on our own /pl/exec call and must name our award's
    // id (fresh, signed by us for this attempt; checked next), so a replayed result can never be taken
    const verified = await this.components.verifier.verify<Result>(body?.result, { expectedFrom: provider, expectedTypes: ['Result.v1'], skipReplay: true })
    const result = verified.envelope.body
    if (result.award !== awardId || result.run !== award.run || result.step !== award.step) {
      throw new InvalidResultError(`the result answers award ${result.award} (run ${result.run}, step ${result.step}), not ${awardId}`, { award: result.award })
    }
    if (result.status === 'error') {
      const e = result.error
      throw new RemoteStepFailedError(`the step failed on ${provider}: ${e?.name ?? 'Error'}: ${e?.message ?? ''}`, { remote: e, provider }, e?.retryable === true)
    }
    if (result.output == null || !(body.output instanceof Uint8Array)) throw new InvalidResultError(`${provider} reported success without output bytes`, { provider })
    if (parseCid(result.output).code !== DAG_CBOR) throw new InvalidResultError(`output CID ${result.output} is not dag-cbor`, { output: result.output })
    verifyBytes(result.output, body.output)
    const output = decodeCanonical(body.output)
    if (result.receipt == null) throw new InvalidResultError(`${provider} returned no receipt`, { provider })
    const signed: unknown = result.receipt
    let inner: SignedReceipt[] = []
    verifyReceiptAgainst(signed, {
      award: { id: awardId, body: award },
      requester: this.components.identity.id,
      capability: job.name,
      input: job.inputCid,
      output: result.output,
      limits: award.limits,
      policies: job.policy.cids,
      attestations: award.attestations ?? [],
      registry: this.components.registry
    })
    try {
      // what the plan asked of the output: checked before we countersign
      if (best.descriptor != null && this.init.io != null) await this.init.io.check('output', best.descriptor.io?.output, output)
      checkOutputConstraints(job.ctx.dag.constraints, output, body.output.byteLength)
      // a composite step: the receipts of its inner run come along and must verify as the tree the receipt names
      if (signed.receipt.inner != null || body.inner != null) inner = verifyInnerReceipts(signed, body.inner, { registry: this.components.registry })
    } catch (err) {
      record.outcome = 'rejected'
      await this.init.receipts.putRejected(signed, errorInfo(err))
      this.components.metrics?.reject('negotiation', (err as Error).name)
      throw err
    }
    // verifyReceiptAgainst checked the schema and the provider's signature
    const accepted: SignedReceipt = countersignVerified(this.components.identity, signed)
    if (inner.length > 0) await this.init.receipts.putInner(inner)
    // the attestations that admitted the provider stay readable by CID, for `pl trust export` and offline checks
    for (const att of best.body.credentials ?? []) {
      if (best.admitted.includes(attestationCid(att))) await this.components.store.blocks.put(att)
    }
    // stored by `run`, in one batch with the step's explanation
    return { output, usage: receiptUsage(accepted.receipt.usage), receipt: accepted, executor: provider }
  }
}
