/** Defaults and bounds of the trust area (docs/LIMITS.md). */

/** Claim keys: lower case, digits, `_ . -`, at most 64 characters. */
export const CLAIM_KEY = /^[a-z][a-z0-9_.-]{0,63}$/
export const MAX_CLAIM_STRING = 200
/** attestations a bid carries whole (Bid.v1 `credentials`) */
export const MAX_BID_CREDENTIALS = 16
/** gossip topic of Revocation.v1 envelopes */
export const REVOCATION_TOPIC = 'pl/v1/revocations'
/** revocations kept per node (oldest dropped first) */
export const MAX_REVOCATIONS = 100_000
/** the trusted-issuer file `pl trust add|remove` edits, in the data dir */
export const TRUST_FILE = 'trust.json'
/** compiled io schemas kept (by schema CID) */
export const MAX_COMPILED_SCHEMAS = 512
/** how long a policy lookup in the mesh (DHT walk + /pl/fetch) may take */
export const DEFAULT_POLICY_FIND_TIMEOUT_MS = 10_000
/** providers of a policy CID asked before giving up */
export const DEFAULT_POLICY_MAX_PROVIDERS = 5
export const DEFAULT_REPROVIDE_MS = 6 * 60 * 60_000
export const DEFAULT_PROVIDE_RETRY_MS = 1_000
export const DEFAULT_PROVIDE_RETRY_MAX_MS = 60_000
/** request-response protocol a node asks peers with for revocations it may have missed (revocation-sync.ts) */
export const REVOCATION_SYNC_PROTOCOL = '/pl/revocations/1.0.0'
/** attestation CIDs one /pl/revocations request may name */
export const MAX_SYNC_REQUEST = 256
/** revocations one /pl/revocations answer may carry */
export const MAX_SYNC_ANSWER = 256
/** attestations seen in bids (from trusted issuers) whose revocations this node asks peers about, most recent kept */
export const MAX_WATCHED = 1024
/** a peer is asked again at most this often (it is asked when it connects and identifies, then every interval while connected) */
export const DEFAULT_SYNC_INTERVAL_MS = 60_000
/** connected peers asked per interval, those asked longest ago first (a revocation whose gossip was missed still arrives) */
export const PERIODIC_SYNC_PEERS = 3
/** attestations whose schema and signature already verified, kept by content CID (verified-cache.ts) */
export const MAX_VERIFIED_ATTESTATIONS = 4096
