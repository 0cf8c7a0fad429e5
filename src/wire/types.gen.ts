// Generated from protocols/schemas/*.json by src/wire/generate.ts — do not edit.
// Regenerate: npm run build (or bash scripts/node.sh scripts/gen-wire-types.mjs).
// Shared names and derived types live in src/wire/index.ts.

/** Signed announcement of a capability on gossip topic pl/v1/catalog. withdraw=true retracts it. */
export interface AdvertiseCapabilityV1 {
  /** CIDv1, base32 */
  capability: string
  descriptor: CapabilityV1
  addrs: Array<string>
  ttl: number
  withdraw?: boolean
}

/** Signed announcement of several capabilities of one provider in one message on gossip topic pl/v1/catalog: one signature and one gossip message per re-ad instead of one per capability. Each item reads as an AdvertiseCapability.v1 with the set's addrs and ttl; capabilities are distinct; withdraw=true on an item retracts it. */
export interface AdvertiseCapabilitySetV1 {
  ads: Array<AdvertiseCapabilitySetV1AdsItem>
  addrs: Array<string>
  ttl: number
}

/** An issuer's signed claims about a subject peer (optionally one capability descriptor or module), valid from nbf to exp. sig = ed25519 by issuer over "pl/attestation/v1" || dag-cbor(the document without sig). Its CID is the CID of the whole document (with sig). */
export interface AttestationV1 {
  v: 1
  /** libp2p PeerId (base58btc) */
  issuer: string
  /** libp2p PeerId (base58btc) */
  subject: string
  /** CIDv1, base32 */
  capability?: string
  /** CIDv1, base32 */
  module?: string
  /** claim keys match ^[a-z][a-z0-9_.-]{0,63}$ and string values are at most 200 characters (checked by the verifier) */
  claims: Record<string, string | number | boolean>
  nbf: number
  exp: number
  /** ed25519 signature, base64url without padding */
  sig: string
}

export interface AwardV1 {
  /** id of a signed envelope (CID of its dag-cbor bytes) */
  cfp: string
  /** id of a signed envelope (CID of its dag-cbor bytes) */
  bid: string
  run: string
  step: string
  /** libp2p PeerId (base58btc) */
  provider: string
  /** CIDv1, base32 */
  capability: string
  /** CIDv1, base32 */
  input: string
  limits: AwardV1Limits
  price?: number
  deadline: number
  attempt?: number
  /** receipt CIDs of the steps this step consumed; the provider's receipt repeats them */
  prev?: Array<string>
  /** libp2p PeerId (base58btc) of the agent the requester ran this step for: an agent that signed its own request to the requester's gateway (the requester of record of the run) */
  on_behalf_of?: string
  /** CIDs of the attestations that admitted the provider; its receipt repeats them */
  attestations?: Array<string>
}

export interface BidV1 {
  /** id of a signed envelope (CID of its dag-cbor bytes) */
  cfp: string
  run: string
  step: string
  /** CIDv1, base32 */
  capability: string
  price: number
  eta_ms: number
  attrs?: Record<string, number | string | boolean>
  limits: BidV1Limits
  attestations?: Array<string>
  expires: number
  /** the attestations the bid's `attestations` CIDs name, carried whole so the requester can check them */
  credentials?: Array<AttestationV1>
}

/** A requester tells a provider that its bids for a step will not be awarded (the step was awarded to another bid and settled, or failed, or was cancelled): the provider drops them at once instead of holding them, and the capacity they reserve, until their `expires`. Sent to /pl/negotiate, signed by the requester that made the calls. */
export interface BidReleaseV1 {
  run: string
  step: string
  bids: Array<string>
  reason?: "lost" | "step-failed" | "cancelled"
}

export interface CallForProposalV1 {
  run: string
  step: string
  capability: CallForProposalV1Capability
  /** CIDv1, base32 */
  input: string
  input_size: number
  deadline: number
  reply_by: number
  constraints?: Record<string, number | string | boolean>
  policies?: Array<string>
  limits?: CallForProposalV1Limits
  /** open calls (gossip): multiaddrs where the requester takes answers on /pl/negotiate */
  reply_to?: Array<string>
  /** a dry run (gateway estimate): answer with a bid as usual, but the bid is not held and cannot be awarded */
  estimate?: boolean
  /** how many composite capabilities this call is nested in: absent or 0 for a plan's own step; a composite's inner run calls with its own depth + 1. A provider declines (reason too-deep) calls deeper than its configured maximum. */
  depth?: number
}

/** A capability descriptor. Its CID is its identity. */
export interface CapabilityV1 {
  name: string
  version: string
  /** libp2p PeerId (base58btc) */
  provider: string
  description?: string
  io: CapabilityV1Io
  limits: CapabilityV1Limits
  price?: number
  attrs?: Record<string, number | string | boolean>
  attestations?: Array<string>
  policies?: Array<string>
  /** the local implementation, pinned by CID */
  module?: CapabilityV1Module
}

/** OK answer of /pl/catalog-sync/1.0.0 (a frame body, not an envelope): signed AdvertiseCapability.v1 envelopes relayed unchanged, in key order; `next` is set when more follow. The asker verifies each ad as a gossiped one. */
export interface CatalogSyncPageV1 {
  ads: Array<EnvelopeV1>
  /** cursor to send back as `after` */
  next?: string
}

/** Request of /pl/catalog-sync/1.0.0 (a frame body, not an envelope): the next page of the signed capability ads the peer holds, after the cursor `after` (the `next` of the previous page). */
export interface CatalogSyncRequestV1 {
  /** cursor: the `next` of the previous page (an entry key, <provider PeerId>/<descriptor CID>) */
  after?: string
  /** most ads in the answer (default 128) */
  limit?: number
}

export interface DeclineV1 {
  /** id of a signed envelope (CID of its dag-cbor bytes) */
  cfp: string
  run: string
  step: string
  reason: "busy" | "policy" | "unsupported" | "over-limits" | "too-deep" | "other"
  message?: string
}

/** The one signed, content-addressed message. Canonical bytes = dag-cbor of the envelope without sig; signed bytes = "pl/envelope/v1" + canonical bytes; id = CID(dag-cbor, sha2-256) of the signed envelope. */
export interface EnvelopeV1 {
  v: 1
  type: string
  /** CIDv1, base32 */
  schema: string
  /** libp2p PeerId (base58btc) */
  from: string
  /** libp2p PeerId (base58btc) */
  to?: string
  /** creation time, ms since epoch */
  ts: number
  /** expiry, ms since epoch */
  exp: number
  nonce: string
  trace?: string
  body: Record<string, unknown>
  /** ed25519 signature, base64url without padding */
  sig: string
}

/** An agent's signed request to a pl-node gateway: the envelope's signer is the requester of record; method and path bind the signature to one route. */
export interface GatewayRequestV1 {
  method: "GET" | "POST" | "PUT" | "DELETE"
  /** the request's path and query string, as sent */
  path: string
  /** the request body the route takes (JSON) */
  body?: unknown
}

/** The DSL document (YAML): goal, inputs, constraints, policy, select, plan. */
export interface PlanV1 {
  goal: string
  inputs?: Record<string, unknown>
  constraints?: Record<string, unknown>
  policy?: PlanV1Policy
  select?: PlanV1Select
  plan: Array<Record<string, unknown>>
}

/** Content-addressed selection rules, enforced at selection time and recorded in receipts. */
export interface PolicyV1 {
  name: string
  version?: string
  description?: string
  /** each entry: a claim `key=value`, a claim `key` (true), or a Policy CID (claims {policy: CID, satisfied: true}); met only by an attestation from a trusted issuer */
  require_attestations?: Array<string>
  allow_peers?: Array<string>
  deny_peers?: Array<string>
  max_price?: number
  max_deadline_ms?: number
  /** none: providers run the capability's steps in a network namespace with only loopback (no egress); a provider advertises the policy only when its runtime can enforce it (pl-node doctor) */
  network?: "none"
  /** allowed regions: the provider's `region` claim must be attested by a trusted issuer */
  residency?: Array<string>
  /** a bare string in the bid's attestations satisfies require_attestations (shown as self-attested in explanations) */
  self_attest?: boolean
}

/** What a provider did for a step. Signed by the provider, countersigned by the requester (see SignedReceipt.v1). prev lists the receipts of the steps it consumed. */
export interface ReceiptV1 {
  run: string
  step: string
  capability: string
  /** libp2p PeerId (base58btc) */
  provider: string
  /** libp2p PeerId (base58btc) */
  requester: string
  /** award envelope id, or "local" for a step run by the requester itself */
  award: string
  /** CIDv1, base32 */
  input: string
  output: string
  status: "ok" | "error"
  started: number
  ended: number
  usage: ReceiptV1Usage
  limits: ReceiptV1Limits
  /** what ran the step: a worker thread of the node, a sandboxed Node process, a Python runner process; -no-net: in a network namespace with only loopback */
  isolation?: "thread" | "sandbox" | "process" | "sandbox-no-net" | "process-no-net"
  /** sandbox permissions the provider's operator granted the module that ran the step, beyond the sandbox's defaults (absent: none) */
  permissions?: Array<"child-process" | "worker" | "addons" | "wasi">
  /** the policies of the step (Policy.v1 CIDs when the plan named them by CID or alias) */
  policies: Array<string>
  prev: Array<string>
  /** Set when the step ran outside the provider's own module pools: the external implementation that served it (an A2A agent, an MCP tool, a process attached to the gateway). The provider still signs the receipt as provider of record. */
  via?: ReceiptV1Via
  /** libp2p PeerId (base58btc) of the agent the requester ran this step for: an agent that signed its own request to the requester's gateway (the requester of record of the run) */
  on_behalf_of?: string
  /** CIDs of the attestations that admitted the provider (from the award) */
  attestations?: Array<string>
  /** Set when the step was served by a composite capability: the run of its plan on the provider (whose requester is this receipt's provider) and the CIDs of that run's receipts, sorted. A receipts export carries them, so the whole tree verifies offline. */
  inner?: ReceiptV1Inner
}

export interface ResultV1 {
  /** id of a signed envelope (CID of its dag-cbor bytes) */
  award: string
  run: string
  step: string
  status: "ok" | "error"
  /** CIDv1, base32 */
  output?: string
  error?: ResultV1Error
  usage: ResultV1Usage
  receipt?: SignedReceiptV1
}

/** The issuer of an attestation withdraws it. sig = ed25519 by issuer over "pl/revocation/v1" || dag-cbor(the document without sig). Gossiped on pl/v1/revocations; only counts when issuer is the attestation's issuer. */
export interface RevocationV1 {
  v: 1
  /** libp2p PeerId (base58btc) */
  issuer: string
  /** CIDv1, base32 */
  attestation: string
  ts: number
  reason?: string
  /** ed25519 signature, base64url without padding */
  sig: string
}

/** A receipt with its signatures: provider over "pl/receipt/v1" + dag-cbor(receipt), requester over "pl/receipt-accept/v1" + dag-cbor(receipt). Both base64url. */
export interface SignedReceiptV1 {
  receipt: ReceiptV1
  provider_sig: string
  requester_sig?: string
}

/** The existing workflow.json format, accepted as is. */
export interface WorkflowV1 {
  workflow_id?: string
  name?: string
  description?: string
  tags?: Array<string>
  version?: WorkflowV1Version
  globalSettings?: Record<string, unknown>
  globalParameters?: Record<string, unknown>
  modules: Record<string, WorkflowV1ModulesValue>
  graph: Record<string, Array<string>>
  [key: string]: unknown
}

/** A registered workflow version, or a tombstone that deletes the workflow, signed by the registering node (the envelope's `from`) and naming the principal that published it. */
export interface WorkflowRecordV1 {
  workflow_id: string
  /** semver MAJOR.MINOR.PATCH[-pre][+build]; a tombstone repeats the latest version */
  version: string
  releaseTag?: string
  /** bundle: a deterministic ZIP (workflow.json + module folders); plan: DSL YAML text */
  kind: "bundle" | "plan"
  /** CIDv1 (raw, sha2-256) of the bundle or plan bytes, fetched with /pl/fetch */
  bundle: string
  /** bytes of the bundle or plan */
  size: number
  /** the principal that published it: an API key's name, or an agent's PeerId */
  publisher: string
  publisherKind: "api-key" | "agent"
  /** when the node registered it, ms since epoch */
  ts: number
  /** present on a deletion record */
  tombstone?: true
  meta: WorkflowRecordV1Meta
}

export interface AdvertiseCapabilitySetV1AdsItem {
  /** CIDv1, base32 */
  capability: string
  descriptor: CapabilityV1
  withdraw?: boolean
}

export interface AwardV1Limits {
  cpu_ms?: number
  mem_mb?: number
  wall_ms?: number
}

export interface BidV1Limits {
  cpu_ms?: number
  mem_mb?: number
  wall_ms?: number
}

export interface CallForProposalV1Capability {
  name: string
  version?: string
  /** CIDv1, base32 */
  cid?: string
}

export interface CallForProposalV1Limits {
  cpu_ms?: number
  mem_mb?: number
  wall_ms?: number
}

export interface CapabilityV1Io {
  /** a schema CID or an inline JSON Schema */
  input: string | Record<string, unknown>
  /** a schema CID or an inline JSON Schema */
  output: string | Record<string, unknown>
}

export interface CapabilityV1Limits {
  cpu_ms?: number
  mem_mb?: number
  wall_ms?: number
}

/** the local implementation, pinned by CID */
export interface CapabilityV1Module {
  /** CIDv1, base32 */
  cid: string
  kind?: "js" | "py" | "external"
  path?: string
}

export interface PlanV1Policy {
  require?: Array<string>
  [key: string]: unknown
}

export interface PlanV1Select {
  optimize?: Array<string>
  [key: string]: unknown
}

export interface ReceiptV1Usage {
  cpu_ms: number
  wall_ms: number
  mem_peak_mb: number
}

export interface ReceiptV1Limits {
  cpu_ms?: number
  mem_mb?: number
  wall_ms?: number
}

/** Set when the step ran outside the provider's own module pools: the external implementation that served it (an A2A agent, an MCP tool, a process attached to the gateway). The provider still signs the receipt as provider of record. */
export interface ReceiptV1Via {
  kind: string
  target: string
  ref?: string
}

/** Set when the step was served by a composite capability: the run of its plan on the provider (whose requester is this receipt's provider) and the CIDs of that run's receipts, sorted. A receipts export carries them, so the whole tree verifies offline. */
export interface ReceiptV1Inner {
  run: string
  receipts: Array<string>
}

export interface ResultV1Error {
  name: string
  message: string
  retryable?: boolean
  details?: Record<string, unknown>
  [key: string]: unknown
}

export interface ResultV1Usage {
  cpu_ms: number
  wall_ms: number
  mem_peak_mb: number
}

export interface WorkflowV1Version {
  version?: string
  releaseTag?: string
  [key: string]: unknown
}

export interface WorkflowV1ModulesValue {
  codePath?: string
  settings?: Record<string, unknown>
  parameters?: Record<string, unknown>
  name?: string
  description?: string
  tags?: Array<string>
  resource_requirements?: Record<string, unknown>
  [key: string]: unknown
}

export interface WorkflowRecordV1Meta {
  name?: string
  description?: string
  tags: Array<string>
  /** workflow.json module keys, or the DSL plan's step capability names */
  modules: Array<string>
}
