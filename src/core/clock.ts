/**
 * Time as a component (STYLE 14). Whatever expires, retries, rate-limits or
 * times out reads the time and schedules its timers through a `Clock` taken
 * from its components or init, defaulting to `systemClock`; tests pass a
 * `FakeClock` and move time with `advance(ms)` instead of sleeping, so they
 * neither wait nor depend on how loaded the machine is.
 *
 * Usage:
 * - take it as an optional component/init field: `clock?: Clock` with
 *   `@default systemClock`, keep it in a field, never call `Date.now()` or
 *   `setTimeout` directly for a decision;
 * - per-operation deadlines: `const t = timeoutSignal(this.clock, ms)`, pass
 *   `t.signal` on and call `t.clear()` in `finally`;
 * - measuring for metrics only (durations, not decisions) may keep using
 *   `performance.now()`.
 *
 * @example
 * class Sweeper { constructor (private readonly clock: Clock = systemClock) {} expired (exp: number) { return exp <= this.clock.now() } }
 * // test
 * const clock = new FakeClock()
 * const s = new Sweeper(clock)
 * clock.advance(60_000)
 */

/** An opaque timer handle (a Node `Timeout` for the system clock). */
export type TimerHandle = object

export interface Clock {
  /** milliseconds since the Unix epoch */
  now: () => number
  /** runs `fn` once after `ms` milliseconds */
  setTimeout: (fn: () => void, ms: number) => TimerHandle
  /** cancels a timer; a handle that already fired or was cleared is ignored */
  clearTimeout: (handle: TimerHandle | undefined) => void
}

/** The real clock: `Date.now()` and the global timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => { clearTimeout(handle as NodeJS.Timeout | undefined) }
}

/** An AbortSignal that aborts after `ms` on `clock` (reason: a DOMException named TimeoutError, like `AbortSignal.timeout`); `clear()` cancels the timer. */
export function timeoutSignal (clock: Clock, ms: number): { signal: AbortSignal, clear: () => void } {
  const controller = new AbortController()
  const handle = clock.setTimeout(() => { controller.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')) }, ms)
  return { signal: controller.signal, clear: () => { clock.clearTimeout(handle) } }
}

interface FakeTimer { at: number, seq: number, fn: () => void }

/**
 * A clock that moves only when told to. `advance(ms)` fires the due timers in
 * order of their time (then of scheduling), each with `now()` set to its time;
 * timers scheduled while advancing fire too when they fall inside the step.
 */
export class FakeClock implements Clock {
  /** 2026-01-01T00:00:00Z: a fixed, plausible epoch time so that tests are repeatable */
  static readonly DEFAULT_START = Date.UTC(2026, 0, 1)
  private time: number
  private seq = 0
  private readonly timers = new Set<FakeTimer>()
  private readonly waiters = new Set<{ count: number, resolve: () => void }>()

  constructor (start: number = FakeClock.DEFAULT_START) {
    this.time = start
  }

  now = (): number => this.time

  setTimeout = (fn: () => void, ms: number): TimerHandle => {
    const timer: FakeTimer = { at: this.time + Math.max(0, Number.isFinite(ms) ? ms : 0), seq: this.seq++, fn }
    this.timers.add(timer)
    for (const w of this.waiters) {
      if (this.timers.size >= w.count) { this.waiters.delete(w); w.resolve() }
    }
    return timer
  }

  clearTimeout = (handle: TimerHandle | undefined): void => {
    if (handle != null) this.timers.delete(handle as FakeTimer)
  }

  /** Timers scheduled and not yet fired or cleared. */
  get pending (): number {
    return this.timers.size
  }

  /**
   * Resolves as soon as at least `count` timers are pending: lets a test wait
   * for the code under test to arm its timeout before advancing past it.
   */
  async whenPending (count: number): Promise<void> {
    if (this.timers.size >= count) return
    await new Promise<void>(resolve => { this.waiters.add({ count, resolve }) })
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance (ms: number): void {
    if (!(ms >= 0)) throw new TypeError(`advance needs a non-negative number of ms, got ${ms}`)
    const target = this.time + ms
    for (;;) {
      let next: FakeTimer | undefined
      for (const t of this.timers) {
        if (t.at <= target && (next == null || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t
      }
      if (next == null) break
      this.timers.delete(next)
      this.time = next.at
      next.fn()
    }
    this.time = target
  }
}

/**
 * Resolves after `ms` on `clock` (at once for `ms <= 0`), or rejects with the
 * signal's reason when it aborts first. The one sleep of the code base: a
 * FakeClock drives it with `advance`, so nothing waits in tests.
 */
export async function clockSleep (clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  if (!(ms > 0)) return
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clock.clearTimeout(handle); reject(signal?.reason) }
    const handle = clock.setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** Like `clockSleep` until the instant `until` (ms since epoch on `clock`), but resolves instead of rejecting when `signal` aborts. */
export async function clockSleepUntil (clock: Clock, until: number, signal?: AbortSignal): Promise<void> {
  await clockSleep(clock, until - clock.now(), signal).catch((err: unknown) => { if (signal?.aborted !== true) throw err })
}

/**
 * Runs `fn` every `ms` on `clock` until `clear()` (a sweep, a re-provide):
 * each run re-arms one timer, so a FakeClock drives it with `advance` and
 * `clear()` leaves nothing pending. `fn` must not throw (catch inside it).
 */
export function clockInterval (clock: Clock, fn: () => void, ms: number): { clear: () => void } {
  let handle: TimerHandle | undefined
  let cleared = false
  const arm = (): void => {
    handle = clock.setTimeout(() => {
      if (cleared) return
      arm()
      fn()
    }, ms)
  }
  arm()
  return { clear: () => { cleared = true; clock.clearTimeout(handle) } }
}
