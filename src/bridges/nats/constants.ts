/** Defaults of the NATS binding; each is overridable through `NatsInit` (see docs/BRIDGES.md, docs/LIMITS.md). */

/** Subject prefix: `<prefix>.catalog`, `<prefix>.cfp.<name>`, `<prefix>.<peerId>.<protocol>`. */
export const DEFAULT_NATS_PREFIX = 'pl.v1'
/** How long a peer counts as reachable on NATS after it was last heard there (an ad, a call, an answer). */
export const DEFAULT_HEARD_TTL_MS = 10 * 60_000
/** Peers remembered as heard on NATS at once (the oldest is forgotten beyond it). */
export const DEFAULT_MAX_HEARD_PEERS = 10_000
/** Calls this node serves over NATS at once; beyond it, it answers BUSY. */
export const DEFAULT_MAX_IN_FLIGHT = 256
/** Largest NATS message this node publishes (a reply stream is cut into messages of at most this, and of the server's max_payload). */
export const DEFAULT_MAX_MESSAGE_BYTES = 512 * 1024
/** Wait between attempts to reach the server (first connect and reconnects). */
export const DEFAULT_RECONNECT_WAIT_MS = 2_000
/** How long a call's caller proof stays valid either side of its `Pl-Ts` (the envelope clock-skew window). */
export const DEFAULT_CALL_SKEW_MS = 60_000
/** Domain tag of the caller proof's signed bytes. */
export const CALL_DOMAIN = 'pl/nats-call/v1'
/** Caller proof headers. */
export const HEADER_FROM = 'Pl-From'
export const HEADER_TS = 'Pl-Ts'
export const HEADER_NONCE = 'Pl-Nonce'
export const HEADER_SIG = 'Pl-Sig'
/** Keys the `services.nats` config section accepts (the fields of NatsInit). */
export const NATS_CONFIG_KEYS = ['url', 'prefix', 'token', 'user', 'pass', 'reconnectWaitMs', 'maxInFlight', 'maxMessageBytes', 'heardTtlMs']
