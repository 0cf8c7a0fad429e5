/**
 * One full garbage collection once a started daemon has gone quiet (issue 16,
 * docs/PERFORMANCE.md "Idle memory, third pass"). A node's start leaves
 * V8's young generation grown to 16 MB (8 MB resident) and a few MB of
 * start-up garbage. V8's memory reducer gives them back by itself only
 * after a major collection it sees while the node allocates little, which
 * at idle took 1–2 minutes after the start (110 s in one traced run); this
 * collection makes the reducer run ~10 s after the node went quiet, so a
 * node reaches its idle footprint (~8 MB less RSS) within seconds rather
 * than minutes. It does not lower that footprint further: a node left idle
 * long enough gets there either way. Under load V8 grows the young
 * generation again as it needs.
 *
 * Quiet: the event loop was busy less than `maxBusy` of the last `delayMs`
 * (`performance.eventLoopUtilization`); a busy node is checked again later,
 * `tries` times at most, then left alone. The collection runs once.
 *
 * @example
 * const cancel = settleHeapWhenQuiet({ onDone: (r) => { logger.debug(r, 'heap settled') } })
 */
import { performance } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** Window of each check; the first starts with the node (its warm-up usually makes that one busy). @default 3 s */
export const SETTLE_HEAP_DELAY_MS = 3_000
/** Highest event-loop utilization over the wait that still counts as quiet. @default 0.05 */
export const SETTLE_HEAP_MAX_BUSY = 0.05
/** Checks before giving up on a node that stays busy (a minute). @default 20 */
export const SETTLE_HEAP_TRIES = 20

export interface SettleHeapResult {
  /** false when the node stayed busy for every check */
  collected: boolean
  tries: number
  /** duration of the collection, ms */
  gcMs?: number
  /** V8 heap in use before / after, bytes */
  heapUsedBefore?: number
  heapUsedAfter?: number
}

export interface SettleHeapInit {
  delayMs?: number
  maxBusy?: number
  tries?: number
  /** event-loop utilization (0..1) since the previous call; tests inject it */
  busy?: () => number
  onDone?: (result: SettleHeapResult) => void
}

/**
 * The `gc` function without `--expose-gc` on the command line: exposed for
 * one fresh context only, and turned off again at once so that no later
 * context (a worker thread running a step) gets it.
 */
export function gcFunction (): (() => void) {
  const own = (globalThis as { gc?: () => void }).gc
  if (typeof own === 'function') return own
  setFlagsFromString('--expose-gc')
  try {
    return runInNewContext('gc') as () => void
  } finally {
    setFlagsFromString('--no-expose-gc')
  }
}

function eventLoopBusy (): () => number {
  let last = performance.eventLoopUtilization()
  return () => {
    const now = performance.eventLoopUtilization()
    const u = performance.eventLoopUtilization(now, last).utilization
    last = now
    return u
  }
}

/** Arms the settle; its timer does not keep the process alive. Returns a cancel. */
export function settleHeapWhenQuiet (init: SettleHeapInit = {}): () => void {
  const delayMs = init.delayMs ?? SETTLE_HEAP_DELAY_MS
  const maxBusy = init.maxBusy ?? SETTLE_HEAP_MAX_BUSY
  const tries = init.tries ?? SETTLE_HEAP_TRIES
  const busy = init.busy ?? eventLoopBusy()
  let tried = 0
  let timer: NodeJS.Timeout | undefined
  const check = (): void => {
    timer = undefined
    tried++
    if (busy() > maxBusy) {
      if (tried < tries) arm()
      else init.onDone?.({ collected: false, tries: tried })
      return
    }
    const before = process.memoryUsage().heapUsed
    const t0 = performance.now()
    gcFunction()()
    const gcMs = performance.now() - t0
    init.onDone?.({ collected: true, tries: tried, gcMs, heapUsedBefore: before, heapUsedAfter: process.memoryUsage().heapUsed })
  }
  const arm = (): void => {
    timer = setTimeout(check, delayMs)
    timer.unref()
  }
  arm()
  return () => { if (timer != null) clearTimeout(timer) }
}
