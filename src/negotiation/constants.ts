/** Defaults of negotiation; each is overridable through `NegotiationInit` (see docs/NEGOTIATION.md). */
import type { SelectWeight } from '../workflow/index.js'

export const NEGOTIATE_PROTOCOL = '/pl/negotiate/1.0.0'
export const EXEC_PROTOCOL = '/pl/exec/1.0.0'

/** How long the requester collects bids after sending its calls (CFP `reply_by` = now + this). */
export const DEFAULT_REPLY_WINDOW_MS = 2_000
/** how long opening a stream to a provider (CFP, award, exec) may take; raise it for relayed or WAN paths */
export const DEFAULT_NEGOTIATION_DIAL_MS = 5_000
/** Open bids a provider keeps at once, and per requester; beyond them it declines 'busy' (a flood of calls cannot grow its memory). */
export const DEFAULT_MAX_OPEN_BIDS = 10_000
export const DEFAULT_MAX_OPEN_BIDS_PER_PEER = 1_024
/** How long a provider's bid stays valid (capped by the CFP deadline). */
export const DEFAULT_BID_TTL_MS = 30_000
/** Remote steps a provider runs (or holds awards for) at once; beyond it, it declines 'busy'. */
export const DEFAULT_MAX_ACTIVE = 4
/** remote steps a requester negotiates and runs at once (they hold no executor slot: see RemoteRunner) */
export const DEFAULT_MAX_REMOTE_STEPS = 64
/** Awards a requester makes for one step (the winner, then backups) before giving up. */
export const DEFAULT_MAX_ATTEMPTS = 3
/** Call-for-proposal rounds per step: a new round starts when every backup of the last one failed. */
export const DEFAULT_MAX_ROUNDS = 2
/** Calls for proposals in flight at once. */
export const DEFAULT_CFP_CONCURRENCY = 16
/** Candidates asked per round. */
export const DEFAULT_MAX_CANDIDATES = 32
/** Step inputs up to this size travel inside the exec request; larger ones are fetched by CID. */
export const DEFAULT_INLINE_INPUT_BYTES = 64 * 1024
/** A bid's `eta_ms` when the descriptor's attrs do not name one. */
export const DEFAULT_ETA_MS = 1_000
/** An accepted award the requester does not execute within this long is dropped. */
export const DEFAULT_AWARD_HOLD_MS = 30_000
/** How long a finished award is remembered, so a second exec of it is refused by name. */
export const DEFAULT_DONE_KEEP_MS = 5 * 60_000
/** Discovery time budget per round. */
export const DEFAULT_ROUND_FIND_TIMEOUT_MS = 3_000
/** First quarantine period of a peer that could not be reached or missed a bid window (doubles each time it is quarantined again). */
export const DEFAULT_QUARANTINE_MS = 60_000
/** Ceiling of the doubled quarantine period. */
export const DEFAULT_QUARANTINE_MAX_MS = 10 * 60_000
/** Peers the quarantine remembers at once (the oldest entry is dropped beyond it). */
export const DEFAULT_QUARANTINE_MAX_PEERS = 1_024
/** Extra time per attempt on top of the step's wall limit (award, input transfer, result). */
export const DEFAULT_EXEC_GRACE_MS = 5_000
/** Farthest award deadline a provider accepts (timers beyond ~24.8 days overflow; no step should hold a slot longer). */
export const MAX_AWARD_DEADLINE_MS = 24 * 60 * 60_000
/** Farthest `reply_by` of an open call a provider answers (and gossip forwards); also the cap on the answer's send time. */
export const MAX_OPEN_CALL_REPLY_MS = 60_000
/** Open-call answers a provider has in flight at once; further calls are ignored until one finishes. */
export const MAX_OPEN_CALL_ANSWERS = 64
/** Constraints a call carries: entries, key length, string value length (the requester drops entries beyond them). */
export const MAX_CFP_CONSTRAINTS = 32
export const MAX_CFP_CONSTRAINT_KEY = 64
export const MAX_CFP_CONSTRAINT_VALUE = 256
/** Deepest composite nesting a provider serves: a call whose `depth` is above it is declined 'too-deep' (docs/NEGOTIATION.md, Depth). */
export const DEFAULT_MAX_DEPTH = 4
/** The schema's ceiling of CallForProposal.v1 `depth` (a forged larger one fails validation). */
export const MAX_CFP_DEPTH = 64
/** How often expired bids and stale awards are swept. */
export const DEFAULT_BID_SWEEP_MS = 5_000
/** how often the open-call topics follow the published capabilities */
export const DEFAULT_TOPIC_SYNC_MS = 5_000
/** Largest step output a provider returns. */
export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024
/** Bid attributes where less is better: they are inverted after normalization. */
export const DEFAULT_COST_ATTRS = ['price', 'eta_ms', 'latency_ms', 'cost']
/** Weights when the plan has no `select`: cheapest first, then fastest. */
export const DEFAULT_SELECT: SelectWeight[] = [{ attr: 'price', weight: 1 }, { attr: 'eta_ms', weight: 0.1 }]
/** At most one DHT provider walk per capability in this period, while the catalog (gossip, earlier finds) knows candidates. */
export const DEFAULT_WALK_EVERY_MS = 30_000
/** Capabilities whose last walk is remembered (the oldest is forgotten beyond it). */
export const DEFAULT_MAX_RECENT_WALKS = 1024
