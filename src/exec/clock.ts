/**
 * Time as a component: the wall-limit watchdog and the run deadline take
 * their timers from a Clock, so tests decide when a limit expires instead
 * of racing the machine's load. Production uses `systemClock`.
 */
export interface Clock {
  /** milliseconds, monotonic enough for durations (Date.now() in production) */
  now: () => number
  setTimeout: (fn: () => void, ms: number) => unknown
  clearTimeout: (handle: unknown) => void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => { clearTimeout(handle as NodeJS.Timeout) }
}
