/**
 * Message bodies of the contract net (protocols/schemas/*.v1.json) and the
 * narrow seams negotiation uses: who provides a capability (CandidateFinder),
 * what this node offers (LocalCapabilities), how a provider gets a step's
 * input (InputFetcher), how it runs one step (RunStep), and whether it bids
 * (BidStrategy).
 */
import type { ModuleSpec, SandboxPermission } from '../core/index.js'
import type { InnerRun, Isolation, ModuleCall, ModuleCallOptions, RunVia, Usage } from '../exec/types.js'
import type { ErrorData } from '../core/errors.js'
import type { Attestation } from '../trust/index.js'
import type { AwardV1, BidReleaseV1, BidV1, CallForProposalV1, CapabilityDescriptor, DeclineReason, DeclineV1, Limits, ResultV1 } from '../wire/index.js'

export type { ModuleSpec, Usage }

/** Limits, their keys and the descriptor are the generated wire types (src/wire). */
export { LIMIT_KEYS, type Limits, type CapabilityDescriptor, type DeclineReason } from '../wire/index.js'

/** CallForProposal.v1 */
export type CallForProposal = CallForProposalV1

/** Bid.v1 (`credentials`: the Attestation.v1 documents whose CIDs `attestations` lists, carried whole) */
export type Bid = BidV1

/** Decline.v1 */
export type Decline = DeclineV1

/** BidRelease.v1: the requester will not award these bids */
export type BidRelease = BidReleaseV1

/** Award.v1 (`prev` is the receipts of the steps this one consumed; the provider's receipt must repeat it) */
export type Award = AwardV1

/** Result.v1, with its error as the ErrorData errors travel as */
export type Result = Omit<ResultV1, 'error'> & { error?: ErrorData }

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
  /** no DHT walk: this node's own capabilities and the catalog's (gossip ads, earlier finds) only */
  localOnly?: boolean
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
