/**
 * Estimate: a dry run of a plan's negotiation. For every step whose
 * capability is not installed here, one call for proposals marked
 * `estimate: true` goes to the providers discovery finds (they answer as
 * usual but hold no bid, and nothing is awarded); the bids are ranked with
 * the plan's `select` weights exactly as a run would rank them. Local steps
 * report their declared limits. The answer gives per step the candidates,
 * the one a run would choose, and for the plan the critical-path time and
 * the total price. Policies resolve and bids are judged as a run does: by
 * the node's trust service (trusted issuers, revocations, residency) when it
 * runs one, so a provider a run would exclude shows as excluded, with the
 * reason, and is never the chosen one.
 */
import { randomBytes } from 'node:crypto'
import { cidOfBytes, encodeCanonical } from '../core/encoding.js'
import type { Envelope, EnvelopeVerifier, SignOptions, ModuleSpec } from '../core/index.js'
import type { Logger } from '../core/logger.js'
import type { Rpc, PlLibp2p } from '../net/index.js'
import type { Step, TaskDag } from '../workflow/index.js'
import type { BlockStore } from '../store/index.js'
import type { SchemaRegistry } from '../spec/index.js'
import { effectiveLimits } from '../exec/index.js'
import type { EffectiveLimits } from '../exec/types.js'
import { CfpRound, judgeBid, type BidJudge, cfpConstraints, policyResolver, resolvePolicies, type PolicyDoc, type StepExplanation } from '../negotiation/index.js'
import { DEFAULT_COST_ATTRS, DEFAULT_SELECT, DEFAULT_CFP_CONCURRENCY } from '../negotiation/constants.js'
import type { Candidate, CandidateFinder } from '../negotiation/types.js'
import { receiptLimits } from '../receipts/index.js'
import { DEFAULT_ESTIMATE_CANDIDATES, DEFAULT_ESTIMATE_REPLY_MS } from './constants.js'
import { systemClock, type Clock } from '../core/clock.js'

export interface EstimateDeps {
  self: string
  rpc: Rpc
  verifier: EnvelopeVerifier
  libp2p: PlLibp2p
  logger: Logger
  sign: <B extends object>(type: string, body: B, options?: SignOptions) => Envelope<B>
  blocks: BlockStore
  registry: SchemaRegistry
  /** discovery: who provides a capability */
  finder?: CandidateFinder
  /** is this capability installed here? */
  localCapability?: (name: string, version?: string) => ModuleSpec | undefined | Promise<ModuleSpec | undefined>
  /** the executor's node defaults under each step's limits */
  defaults?: Partial<EffectiveLimits>
  replyMs?: number
  /** the node's clock: the call for proposals' deadlines @default systemClock */
  clock?: Clock
  maxCandidates?: number
  /** the node's trust service: judges bids and resolves policies by CID in the mesh, as negotiation does @default none (only `self_attest` requirements can be met) */
  trust?: () => (BidJudge & { resolvePolicy: (ref: string, options?: { signal?: AbortSignal }) => Promise<{ cid: string, doc: Record<string, unknown> }> }) | undefined
}

export interface EstimateCandidate {
  provider: string
  price: number
  eta_ms: number
  attrs?: Record<string, number | string | boolean>
  score?: number
  rank?: number
  /** why a bid could not be used (policy, attestations, residency, limits, deadline): a run would exclude this provider */
  filtered?: string
  /** CIDs of the attestations that admitted the provider */
  admitted?: string[]
  /** requirements met by a bare string under `self_attest: true` */
  self_attested?: string[]
}

export interface StepEstimate {
  step: string
  kind: Step['kind']
  capability?: string
  /** local: a module or capability installed here; negotiated: asked from the mesh; control: branch/loop/human */
  placement: 'local' | 'negotiated' | 'control'
  /** local steps: the limits they run under */
  limits?: EffectiveLimits
  candidates?: EstimateCandidate[]
  /** what a run would choose (the best ranked bid), if anyone bid */
  chosen?: EstimateCandidate
  /** answers that were not bids: declines, timeouts, errors, peers the policy excludes */
  answers?: Array<{ provider: string, kind: string, message?: string }>
  /** providers a run would not use, with the reason: filtered bids and excluded peers */
  excluded?: Array<{ provider: string, reason: string }>
  /** the time this step adds to a path: the chosen bid's eta, a local step's wall limit (an upper bound), 0 for control steps */
  eta_ms: number
  price: number
  /** no bid: the plan cannot run as is */
  unavailable?: string
}

export interface Estimate {
  name: string
  select: Array<{ attr: string, weight: number }>
  steps: StepEstimate[]
  /** longest path through the DAG summing each step's eta_ms */
  critical_path_ms: number
  critical_path: string[]
  /** sum of the chosen prices (a map step counts once: its fan-out is only known at run time) */
  total_price: number
  /** every negotiated step found a bid */
  feasible: boolean
}

function candidateOf (b: StepExplanation['bids'][number]): EstimateCandidate {
  return {
    provider: b.provider,
    price: b.price,
    eta_ms: b.eta_ms,
    ...(b.attrs != null ? { attrs: b.attrs } : {}),
    ...(b.score != null ? { score: b.score } : {}),
    ...(b.rank != null ? { rank: b.rank } : {}),
    ...(b.status === 'filtered' ? { filtered: b.reason ?? 'filtered' } : {}),
    ...(b.admitted != null ? { admitted: b.admitted } : {}),
    ...(b.self_attested != null ? { self_attested: b.self_attested } : {})
  }
}

export async function estimateDag (dag: TaskDag, modules: Record<string, ModuleSpec> | undefined, input: Record<string, unknown>, deps: EstimateDeps, options: { signal?: AbortSignal } = {}): Promise<Estimate> {
  const signal = options.signal ?? AbortSignal.timeout(60_000)
  const select = dag.select.length > 0 ? dag.select : DEFAULT_SELECT
  const run = `estimate-${randomBytes(6).toString('hex')}`
  // providers see the size and CID of what they would get; the document itself is not sent for an estimate
  const inputBytes = encodeCanonical({ estimate: run, input })
  const inputCid = cidOfBytes(inputBytes).toString()
  const trust = deps.trust?.()
  const policy = await resolvePolicies(dag.policies ?? [], policyResolver(deps.blocks, deps.registry, {}, trust == null
    ? undefined
    : async (ref, o) => {
      const { cid, doc } = await trust.resolvePolicy(ref, o)
      return { cid, doc: doc as unknown as PolicyDoc }
    }), dag.constraints, { signal })
  const round = new CfpRound(deps)
  const steps = await Promise.all(Object.values(dag.steps).map(async (step): Promise<StepEstimate> => {
    const base = { step: step.id, kind: step.kind, ...(step.capability != null ? { capability: step.capability.name } : {}) }
    if (step.capability == null || step.kind === 'branch' || step.kind === 'loop' || step.kind === 'human') {
      return { ...base, placement: 'control', eta_ms: 0, price: 0 }
    }
    const isLocal = (step.module != null && modules?.[step.module.key] != null) ||
      (await deps.localCapability?.(step.capability.name, step.capability.version)) != null
    if (isLocal) {
      const limits = effectiveLimits(step.limits, deps.defaults)
      return { ...base, placement: 'local', limits, eta_ms: limits.wall_ms, price: 0 }
    }
    const exp: StepExplanation = { v: 1, run, step: step.id, capability: step.capability.name, select, policies: policy.cids, input: inputCid, rounds: 1, started: (deps.clock ?? systemClock).now(), reawards: 0, answers: [], bids: [], attempts: [] }
    let found: Candidate[] = []
    if (deps.finder != null) {
      try {
        found = await deps.finder.find({ name: step.capability.name, ...(step.capability.version != null ? { version: step.capability.version } : {}) }, { signal, timeoutMs: 3_000 })
      } catch (err) {
        deps.logger.info({ step: step.id, err: (err as Error).message }, 'estimate: discovery failed')
      }
    }
    const seen = new Set<string>()
    const candidates = found.filter(c => c.provider !== deps.self && !seen.has(c.provider) && seen.add(c.provider) != null).slice(0, deps.maxCandidates ?? DEFAULT_ESTIMATE_CANDIDATES)
    if (candidates.length === 0) return { ...base, placement: 'negotiated', candidates: [], eta_ms: 0, price: 0, unavailable: `no provider of ${step.capability.name} was found` }
    const now = (deps.clock ?? systemClock).now()
    const replyBy = now + (deps.replyMs ?? DEFAULT_ESTIMATE_REPLY_MS)
    const ranked = await round.run({
      round: 1,
      candidates,
      cfp: {
        run,
        step: step.id,
        capability: { name: step.capability.name, ...(step.capability.version != null ? { version: step.capability.version } : {}) },
        input: inputCid,
        input_size: inputBytes.byteLength,
        deadline: now + Math.max(10_000, typeof dag.constraints.deadline_ms === 'number' ? dag.constraints.deadline_ms : 0),
        reply_by: replyBy,
        constraints: cfpConstraints(dag.constraints),
        policies: policy.refs,
        limits: receiptLimits(step.limits ?? {}),
        estimate: true
      },
      policy,
      judge: (bid, provider) => judgeBid(policy, bid, provider, trust),
      select,
      costAttrs: DEFAULT_COST_ATTRS,
      concurrency: DEFAULT_CFP_CONCURRENCY,
      signal
    }, exp)
    const list = exp.bids.map(candidateOf).sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity))
    const answers = exp.answers.filter(a => a.kind !== 'bid').map(a => ({ provider: a.provider, kind: a.kind, ...(a.message != null ? { message: a.message } : a.reason != null ? { message: a.reason } : {}) }))
    const excluded = [
      ...list.filter(c => c.filtered != null).map(c => ({ provider: c.provider, reason: c.filtered as string })),
      ...exp.answers.filter(a => a.kind === 'excluded').map(a => ({ provider: a.provider, reason: a.message ?? 'excluded by the policy' }))
    ]
    const shown = { candidates: list, answers, ...(excluded.length > 0 ? { excluded } : {}) }
    const best = ranked[0]
    if (best == null) return { ...base, placement: 'negotiated', ...shown, eta_ms: 0, price: 0, unavailable: 'no usable bid' }
    const chosen = candidateOf(best.explanation)
    return { ...base, placement: 'negotiated', ...shown, chosen, eta_ms: chosen.eta_ms, price: chosen.price }
  }))
  const byId = new Map(steps.map(s => [s.step, s]))
  // longest path, in the DAG's topological (insertion) order
  const finish = new Map<string, { t: number, path: string[] }>()
  for (const step of Object.values(dag.steps)) {
    let best = { t: 0, path: [] as string[] }
    for (const up of step.after) {
      const f = finish.get(up)
      if (f != null && f.t > best.t) best = f
    }
    finish.set(step.id, { t: best.t + (byId.get(step.id)?.eta_ms ?? 0), path: [...best.path, step.id] })
  }
  let critical = { t: 0, path: [] as string[] }
  for (const f of finish.values()) if (f.t > critical.t || critical.path.length === 0) critical = f
  return {
    name: dag.name,
    select,
    steps,
    critical_path_ms: critical.t,
    critical_path: critical.path,
    total_price: steps.reduce((n, s) => n + s.price, 0),
    feasible: steps.every(s => s.unavailable == null)
  }
}
