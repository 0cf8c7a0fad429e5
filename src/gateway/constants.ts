import type { Scope } from './types.js'

/** Defaults of the agent gateway (every one is in docs/LIMITS.md). */

/** Largest request body. @default 4 MiB */
export const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024
/** Token bucket per caller: burst size. @default 60 requests */
export const DEFAULT_RATE_BURST = 60
/** Token bucket per caller: refill rate. @default 20 requests per second */
export const DEFAULT_RATE_PER_SECOND = 20
/** Failed authentications per client address before it is refused (429) without a look at its credentials. @default 20 */
export const DEFAULT_AUTH_FAILURE_BURST = 20
/** Failed authentications forgiven per second per client address. @default 0.2 (one every 5 s) */
export const DEFAULT_AUTH_FAILURE_PER_SECOND = 0.2
/** Callers whose buckets are kept (least recently used dropped beyond). @default 10000 */
export const MAX_RATE_BUCKETS = 10_000
/** Bytes queued to one WebSocket/SSE client before it is dropped as too slow. @default 1 MiB */
export const DEFAULT_MAX_SOCKET_BUFFER = 1024 * 1024
/** Close code sent to a WebSocket client dropped for being too slow. */
export const WS_CLOSE_SLOW_CONSUMER = 4008
/** Close code for a socket whose credentials went away (key revoked) or were refused. */
export const WS_CLOSE_POLICY = 1008
/** Runs one WebSocket may follow at once. @default 64 */
export const MAX_SUBSCRIPTIONS_PER_SOCKET = 64
/** Estimate: how long providers have to answer the dry-run call. @default 1500 ms */
export const DEFAULT_ESTIMATE_REPLY_MS = 1500
/** Estimate: candidates asked per step. @default 8 */
export const DEFAULT_ESTIMATE_CANDIDATES = 8
/** API keys and agents a node keeps. @default 10000 */
export const MAX_API_KEYS = 10_000
/** Content type of a signed request: the body is an Envelope.v1 of type GatewayRequest.v1. */
export const ENVELOPE_CONTENT_TYPE = 'application/pl-envelope+json'
/** Authorization scheme of a signed request without a body: `PL-Envelope <base64url(JSON envelope)>`. */
export const ENVELOPE_AUTH_SCHEME = 'pl-envelope'
/** Console login links (`pl ui`): how long a one-time token may wait for its browser. @default 60 s */
export const DEFAULT_LOGIN_TOKEN_MS = 60_000
/** Console login tokens outstanding at once (the oldest is dropped beyond). @default 100 */
export const MAX_LOGIN_TOKENS = 100
/** Lifetime of the session key a console login link is exchanged for. @default 8 h */
export const DEFAULT_UI_SESSION_MS = 8 * 60 * 60 * 1000
/** `GET /node`: connections pinged for latency when libp2p has no RTT yet, and how long each ping may take. */
export const NODE_INFO_MAX_PINGS = 16
export const NODE_INFO_PING_TIMEOUT_MS = 2_000
/** Scopes of an API key (admin holds all). */
export const SCOPES: readonly Scope[] = ['read', 'submit', 'publish', 'admin']
