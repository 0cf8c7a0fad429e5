/** Defaults of the executor; each is overridable through `ExecutorInit` (see docs/EXECUTOR.md). */
import { availableParallelism } from 'node:os'

/** Wall time per step when neither the step nor the node sets one. */
export const DEFAULT_WALL_MS = 60_000
/** JS heap (worker `maxOldGenerationSizeMb`) / Python address space (RLIMIT_AS), MiB. */
export const DEFAULT_MEM_MB = 512
/** Steps running at once, across all runs of one executor. */
export const DEFAULT_CONCURRENCY = Math.max(2, availableParallelism())
/** Distinct JS heap limits with a live piscina pool; the least recently used idle pool is closed beyond this. */
export const DEFAULT_MAX_JS_POOLS = 4
/** Idle worker threads / Python processes are closed after this long. */
export const DEFAULT_IDLE_MS = 30_000
/** Retries after the first attempt for errors marked retryable, and the first backoff (doubled per retry). */
export const DEFAULT_RETRY = { max: 2, backoff_ms: 200 }
/** How long a cancelled step may react to `context.signal` before its worker/process is killed. */
export const DEFAULT_CANCEL_GRACE_MS = 200
/** Timeout of a webhook or LLM addon call when its config sets none. */
export const DEFAULT_ADDON_TIMEOUT_MS = 30_000
/** Bytes of a module's stderr kept for error reports. */
export const STDERR_TAIL_BYTES = 8192
/** Cached module instances per worker thread / Python process. */
export const MAX_CACHED_INSTANCES = 256
/** Largest output of a local step (its dag-cbor encoding), as the provider side caps remote ones. */
export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024
