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
