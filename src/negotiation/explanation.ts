/**
 * Award explanations: for every remotely negotiated step, why its provider
 * won — every candidate's answer (bids with their score breakdown, declines
 * with reasons, silences, invalid answers), and every attempt (award
 * rejected, provider failed, re-award to a backup). Stored in LevelDB under
 * `neg-explanations/<run>\0<step key>` and served at `GET /runs/:id/explanations`.
 */
import type { Store, JsonSublevel } from '../store/index.js'
import type { SelectWeight } from '../workflow/index.js'
import type { ScoreTerm } from './scoring.js'
import type { DeclineReason } from './types.js'
import { ExplanationNotFoundError } from './errors.js'

export interface AnswerExplanation {
  round: number
  provider: string
  /** what the candidate answered */
  kind: 'bid' | 'decline' | 'timeout' | 'error' | 'invalid' | 'excluded'
  /** decline reason */
  reason?: DeclineReason
  /** decline message, error name + message, exclusion reason */
  message?: string
  error?: string
}

export interface BidExplanation {
  round: number
  provider: string
  /** the bid envelope id */
  bid: string
  capability: string
  price: number
  eta_ms: number
  attrs?: Record<string, number | string | boolean>
  expires: number
  /** rank among the usable bids of its round (1 = best) */
  rank?: number
  score?: number
  breakdown?: Record<string, ScoreTerm>
  /** won: delivered the result; backup: ranked, not needed; failed: awarded and failed; filtered: refused by policy/constraints */
  status: 'won' | 'backup' | 'failed' | 'filtered'
  reason?: string
  /** CIDs of the attestations (from trusted issuers) that met the policies */
  admitted?: string[]
  /** requirements met only by a bare string in the bid, allowed by a policy with `self_attest: true` */
  self_attested?: string[]
}

export interface AttemptExplanation {
  n: number
  round: number
  provider: string
  bid: string
  /** the award envelope id */
  award?: string
  outcome: 'ok' | 'award-rejected' | 'failed' | 'rejected'
  error?: { name: string, message: string }
  at: number
}

export interface FindExplanation {
  round: number
  /** distinct providers discovery returned (this node and providers already failed this step not counted) */
  found: number
  /** of those, left out because they are quarantined (unreachable or silent lately) */
  quarantined: number
  /** how the DHT walk ended: limit (enough candidates known), done, stalled (only dead peers left), timeout, aborted; recent (no walk: this capability was walked within walkEveryMs and the catalog had candidates) */
  walk?: string
}

export interface StepExplanation {
  v: 1
  run: string
  step: string
  capability: string
  select: SelectWeight[]
  policies: string[]
  input: string
  rounds: number
  /** the call went out as an open call on pl/v1/cfp/<name> (discovery found nobody) */
  open?: boolean
  started: number
  ended?: number
  outcome?: 'ok' | 'failed'
  winner?: string
  /** awards after the first one */
  reawards: number
  answers: AnswerExplanation[]
  bids: BidExplanation[]
  attempts: AttemptExplanation[]
  /** per round: candidates found, how many were left out as quarantined, how discovery's DHT walk ended */
  finds?: FindExplanation[]
  error?: { name: string, message: string }
  /** constraints passed to modules but not checked (x- extensions, unknown keys) */
  warnings?: string[]
  /** earlier negotiations of the same step key (executor retries, resumed runs), oldest first */
  history?: Array<Omit<StepExplanation, 'history'>>
}

const SEP = '\x00'

export class ExplanationStore {
  private readonly db: JsonSublevel<StepExplanation>

  constructor (private readonly store: Store) {
    this.db = store.json<StepExplanation>('neg-explanations')
  }

  /** Stores `exp` (in the store's group commit: it shares a batch with the step's receipt). */
  async put (exp: StepExplanation): Promise<void> {
    await this.store.write([{ type: 'put', key: exp.run + SEP + exp.step, value: exp, sublevel: this.db }])
  }

  /** The explanation of one step, or undefined. */
  async find (run: string, step: string): Promise<StepExplanation | undefined> {
    return await this.db.get(run + SEP + step) as StepExplanation | undefined ?? undefined
  }

  /** The explanation of one step; throws ExplanationNotFoundError when there is none. */
  async get (run: string, step: string): Promise<StepExplanation> {
    const exp = await this.db.get(run + SEP + step) as StepExplanation | undefined
    if (exp == null) throw new ExplanationNotFoundError(`no award explanation for step ${step} of run ${run}`, { run, step })
    return exp
  }

  /** Every explanation of a run, in step key order. */
  async forRun (run: string): Promise<StepExplanation[]> {
    const out: StepExplanation[] = []
    for await (const value of this.db.values({ gte: run + SEP, lt: run + '\x01' })) out.push(value as StepExplanation)
    return out
  }
}

/** One line per step: who won and why, for CLIs and logs. */
export function summarize (exp: StepExplanation): string {
  const won = exp.bids.find(b => b.status === 'won')
  const declines = exp.answers.filter(a => a.kind === 'decline').map(a => `${a.provider.slice(-6)} declined (${a.reason ?? ''})`)
  const failures = exp.attempts.filter(a => a.outcome !== 'ok').map(a => `${a.provider.slice(-6)} ${a.outcome} (${a.error?.name ?? ''})`)
  const head = won != null
    ? `${exp.step}: ${won.provider} won with score ${won.score?.toFixed(3) ?? '-'} of ${exp.bids.filter(b => b.status !== 'filtered').length} bids (price ${won.price}, eta ${won.eta_ms} ms)`
    : `${exp.step}: no provider delivered (${exp.error?.name ?? 'failed'})`
  return [head, ...declines, ...failures, exp.reawards > 0 ? `re-awarded ${exp.reawards}×` : ''].filter(s => s !== '').join('; ')
}
