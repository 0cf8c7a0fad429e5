/** Limits and defaults of the workflow registry (docs/LIMITS.md lists them all). */
import { DEFAULT_MAX_BLOCK_BYTES } from '../net/index.js'

export const WORKFLOWS_PROTOCOL = '/pl/workflows/1.0.0'
/** The signed record's envelope type (protocols/schemas/WorkflowRecord.v1.json). */
export const RECORD_TYPE = 'WorkflowRecord.v1'
/** DHT key prefix: providers of a workflow are kept under CID(raw, sha2-256) of the UTF-8 bytes of `pl:wf:<workflow_id>`. */
export const WORKFLOW_KEY_PREFIX = 'pl:wf:'
/** Workflow ids: a letter or digit, then letters, digits, `.`, `_`, `-`; at most 128 characters. */
export const WORKFLOW_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/
/** Largest bundle or plan: one `/pl/fetch` block. @default 4 MiB */
export const DEFAULT_MAX_BUNDLE_BYTES = DEFAULT_MAX_BLOCK_BYTES
/** How long a record fetched from another node is served from the cache before the mesh is asked again. @default 5 min */
export const DEFAULT_CACHE_TTL_MS = 5 * 60_000
/** Longest DHT walk + `/pl/workflows` round for one lookup. @default 15 s */
export const DEFAULT_REGISTRY_FIND_TIMEOUT_MS = 15_000
/** Providers asked per lookup. @default 5 */
export const DEFAULT_MAX_PROVIDERS = 5
/** Record CIDs in one `/pl/workflows` answer (versions + tombstones). @default 1000 */
export const MAX_RECORDS_PER_ANSWER = 1000
/** Re-provide period of the DHT records (kad-dht keeps them 48 h). @default 6 h */
export const DEFAULT_REPROVIDE_MS = 6 * 60 * 60_000
export const DEFAULT_PROVIDE_RETRY_MS = 1_000
export const DEFAULT_PROVIDE_RETRY_MAX_MS = 60_000
/** Query language: deepest nesting of a filter. */
export const MAX_QUERY_DEPTH = 8
/** Query language: longest array (`$in`, `$and`...) and largest `limit`. */
export const MAX_QUERY_ARRAY = 1000
export const MAX_QUERY_LIMIT = 1000
/** @default 100 results when the query gives no `limit` */
export const DEFAULT_QUERY_LIMIT = 100
/** Longest string operand of the query language. */
export const MAX_QUERY_STRING = 1024
