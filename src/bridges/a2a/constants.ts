/** Defaults of the A2A bridge (every one is in docs/LIMITS.md). */

/** Path of the JSON-RPC endpoint on the gateway. */
export const A2A_RPC_PATH = '/a2a'
/** Path of the public agent card on the gateway (A2A well-known URI). */
export const A2A_CARD_PATH = '/.well-known/agent-card.json'
/** `kind` of the ExternalImpl an A2A agent is published with. */
export const A2A_IMPL_KIND = 'a2a'
/** Bytes of one message part (text, or the JSON of a data part). @default 256 KiB */
export const DEFAULT_MAX_PART_BYTES = 256 * 1024
/** Parts of one message. @default 8 */
export const MAX_PARTS = 8
/** Skills the card lists (capabilities beyond are left out, in name order). @default 200 */
export const DEFAULT_MAX_SKILLS = 200
/** Tasks whose run this node follows for A2A clients (the oldest ended ones are forgotten beyond). @default 10000 */
export const DEFAULT_MAX_TASKS = 10_000
/** Outbound: how long fetching a remote agent card may take. @default 10 s */
export const DEFAULT_CARD_TIMEOUT_MS = 10_000
/** Outbound: agent cards kept per card URL (a republished card is picked up after this). @default 60 s */
export const DEFAULT_CARD_TTL_MS = 60_000
/** Outbound: largest artifact a remote agent may return (bytes of its JSON). @default 4 MiB */
export const DEFAULT_MAX_RESULT_BYTES = 4 * 1024 * 1024
/** The ServerCallContext state key carrying the interpreted request from the route to the agent executor. */
export const REQUEST_STATE_KEY = 'pl.a2a.request'
/** Name of the "run a plan" skill. */
export const PLAN_SKILL_ID = 'pl.run-plan'
/** Outbound: wall limit of a call when the award names none. @default 60 s */
export const DEFAULT_WALL_MS = 60_000
