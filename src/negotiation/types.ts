/**
 * Message bodies of the contract net (protocols/schemas/*.v1.json) and the
 * narrow seams negotiation uses: who provides a capability (CandidateFinder),
 * what this node offers (LocalCapabilities), how a provider gets a step's
 * input (InputFetcher), how it runs one step (RunStep), and whether it bids
 * (BidStrategy).
 */
import type { ModuleSpec, SandboxPermission } from '../core/module.js'
import type { InnerRun, Isolation, ModuleCall, ModuleCallOptions, RunVia, Usage } from '../exec/types.js'
import type { SignedReceipt } from '../receipts/signing.js'
import type { ErrorData } from '../core/errors.js'
import type { Attestation } from '../trust/attestation.js'

export type { ModuleSpec, Usage }

export interface Limits { cpu_ms?: number, mem_mb?: number, wall_ms?: number }

/** The keys of Limits, for code that walks them. */
export const LIMIT_KEYS = ['cpu_ms', 'mem_mb', 'wall_ms'] as const

/** Capability.v1 */
export interface CapabilityDescriptor {
  name: string
  version: string
  provider: string
  description?: string
  io: { input: unknown, output: unknown }
  limits: Limits
  price?: number
  attrs?: Record<string, number | string | boolean>
  attestations?: string[]
  policies?: string[]
  module?: { cid: string, kind?: 'js' | 'py', path?: string }
}

/** CallForProposal.v1 */
export interface CallForProposal {
  run: string
  step: string
  capability: { name: string, version?: string, cid?: string }
  input: string
  input_size: number
  deadline: number
  reply_by: number
  constraints?: Record<string, unknown>
  policies?: string[]
  limits?: Limits
  /** open calls: where the requester takes answers */
  reply_to?: string[]
  /** a dry run (gateway estimate): the provider answers but holds no bid */
  estimate?: boolean
  /** composite nesting: absent or 0 for a plan's own step, +1 per composite capability the call is made from */
  depth?: number
}

/** Bid.v1 */
export interface Bid {
  cfp: string
  run: string
  step: string
  capability: string
  price: number
  eta_ms: number
  attrs?: Record<string, number | string | boolean>
  limits: Limits
  attestations?: string[]
  /** the attestations (Attestation.v1) whose CIDs `attestations` lists, carried whole */
  credentials?: Attestation[]
  expires: number
}

export type DeclineReason = 'busy' | 'policy' | 'unsupported' | 'over-limits' | 'too-deep' | 'other'

/** Decline.v1 */
export interface Decline {
  cfp: string
  run: string
  step: string
  reason: DeclineReason
  message?: string
}

/** BidRelease.v1: the requester will not award these bids (protocols/schemas/BidRelease.v1.json) */
export interface BidRelease {
  run: string
  step: string
  bids: string[]
  reason?: 'lost' | 'step-failed' | 'cancelled'
}

/** Award.v1 (`prev` is the receipts of the steps this one consumed; the provider's receipt must repeat it) */
export interface Award {
  cfp: string
  bid: string
  run: string
  step: string
  provider: string
  capability: string
  input: string
  limits: Limits
  price?: number
  deadline: number
  attempt?: number
  prev?: string[]
  /** PeerId of the agent the requester runs the step for (it goes into the receipt) */
  on_behalf_of?: string
  /** CIDs of the attestations that admitted the provider (its receipt repeats them) */
  attestations?: string[]
}

/** Result.v1 */
export interface Result {
  award: string
  run: string
  step: string
  status: 'ok' | 'error'
  output?: string
  error?: ErrorData
  usage: Usage
  receipt?: SignedReceipt
}

/** One provider of a capability, as discovery reports it. */
export interface Candidate {
  /** descriptor CID */
  cid: string
  descriptor: CapabilityDescriptor
  provider: string
  addrs?: string[]
  /** where discovery learned it (`gossip`: a signed ad, whose `expires` grows with each fresh ad) */
  source?: string
  expires?: number
}

export interface CandidateQuery {
  name: string
  version?: string
  policies?: string[]
}

/** What the requester asks of discovery (the discovery service's FindOptions plus its dead-peer hooks). */
export interface CandidateFindOptions {
  signal?: AbortSignal
  timeoutMs?: number
  /** stop looking once this many live providers are known */
  limit?: number
  /** peers known dead (quarantined) or not wanted: not dialed, not counted toward `limit` */
  exclude?: (peer: string) => boolean
  /** a provider or DHT peer the find could not connect to */
  onUnreachable?: (peer: string) => void
  /** typed progress, e.g. `{type: 'pl:discovery:walk-end', reason}` */
  onProgress?: (event: { type: string, reason?: string }) => void
}

/** Who provides a capability (the discovery service satisfies this). */
export interface CandidateFinder {
  find: (query: CandidateQuery, options: CandidateFindOptions) => Promise<Candidate[]>
}

/** A capability this node published, with the module that implements it. */
export interface LocalOffer {
  cid: string
  descriptor: CapabilityDescriptor
  module: ModuleSpec
}

/** What this node offers (adapter over the discovery service's published capabilities). */
export interface LocalCapabilities {
  localOffer: (name: string, version?: string) => LocalOffer | undefined | Promise<LocalOffer | undefined>
  /** names of every capability offered (to listen for open calls); without it no open calls are heard */
  names?: () => string[] | Promise<string[]>
}

/** Fetches content by CID from a peer; the bytes must be verified against the CID. */
export interface InputFetcher {
  fetch: (peer: string, cid: string, options: { signal?: AbortSignal }) => Promise<Uint8Array>
}

/** One module call: the executor's `ModuleCall` (limits are the awarded ones, with the executor's defaults filled in). */
export type RunStepCall = ModuleCall

/** Runs one module for one step: `(m, call, o) => pool.runModule(m, call, o)` with the executor's ModulePool. */
export type RunStep = (module: ModuleSpec, call: RunStepCall, options: ModuleCallOptions) => Promise<{ output: unknown, usage: Usage, via?: RunVia, isolation?: Isolation, permissions?: SandboxPermission[], inner?: InnerRun }>

export interface BidContext {
  cfp: CallForProposal
  cfpId: string
  requester: string
  /** what this node offers for the capability asked, if anything */
  offer: LocalOffer | undefined
  /** remote steps running or awarded here now */
  active: number
  maxActive: number
  now: number
}

export type BidDecision =
  | { bid: { price: number, eta_ms: number, attrs?: Record<string, number | string | boolean>, limits: Limits, attestations?: string[], credentials?: Attestation[] } }
  | { decline: DeclineReason, message: string }

/** Decides whether to bid on a call, and with what. */
export interface BidStrategy {
  decide: (ctx: BidContext) => BidDecision | Promise<BidDecision>
}
