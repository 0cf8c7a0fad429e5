/** Largest JSON text frame an attached client may send (a result carries the step output). */
export const MAX_ATTACH_FRAME_BYTES = 1024 * 1024
/** Capabilities one connection may register. */
export const MAX_ATTACHMENTS_PER_SOCKET = 16
/** Calls in flight per attachment before the node stops bidding for it. */
export const DEFAULT_MAX_CONCURRENT_CALLS = 8
/** How long the node waits for an attached client's bid answer (then declines 'other'). */
export const DEFAULT_BID_TIMEOUT_MS = 1_000
/** The ExternalImpl kind attached processes serve. */
export const ATTACHED_KIND = 'attached'
/** WebSocket close code for a frame over the limit (RFC 6455 1009 "message too big"). */
export const WS_CLOSE_TOO_BIG = 1009
