/**
 * Per-step limits: node defaults under the step's own `limits`, and a
 * pausable wall-time watchdog (time spent waiting for a human decision does
 * not count against a step's wall time; CPU time burnt meanwhile does).
 */
import type { StepLimits } from '../workflow/index.js'
import type { EffectiveLimits, Usage } from './types.js'
import { DEFAULT_MEM_MB, DEFAULT_WALL_MS } from './constants.js'
import { CpuTimeExceededError, MemoryLimitExceededError, WallTimeExceededError } from './errors.js'
import { systemClock, type Clock, type TimerHandle } from './clock.js'

export function effectiveLimits (step: StepLimits | undefined, defaults: Partial<EffectiveLimits> = {}): EffectiveLimits {
  const pick = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined)
  const out: EffectiveLimits = {
    wall_ms: pick(step?.wall_ms) ?? pick(defaults.wall_ms) ?? DEFAULT_WALL_MS,
    mem_mb: Math.ceil(pick(step?.mem_mb) ?? pick(defaults.mem_mb) ?? DEFAULT_MEM_MB)
  }
  const cpu = pick(step?.cpu_ms) ?? pick(defaults.cpu_ms)
  if (cpu != null) out.cpu_ms = cpu
  return out
}

export function wallExceeded (limit: number, measured: number, what: string): WallTimeExceededError {
  return new WallTimeExceededError(`${what} ran past its wall-time limit of ${limit} ms (measured ${Math.round(measured)} ms) and was killed`, { limit: 'wall_ms', limit_value: limit, measured: Math.round(measured) })
}

export function cpuExceeded (limit: number, measured: number, what: string): CpuTimeExceededError {
  return new CpuTimeExceededError(`${what} used more CPU time than its limit of ${limit} ms (measured ${Math.round(measured)} ms)`, { limit: 'cpu_ms', limit_value: limit, measured: Math.round(measured) })
}

export function memExceeded (limit: number, measured: number | undefined, what: string, kind: string): MemoryLimitExceededError {
  const m = measured != null ? `measured ${Math.round(measured)} MiB` : `measured at least ${limit} MiB`
  return new MemoryLimitExceededError(`${what} went over its ${kind} limit of ${limit} MiB (${m})`, { limit: 'mem_mb', limit_value: limit, measured: Math.round(measured ?? limit) })
}

/** How often a paused Stopwatch reads the step's CPU clock. */
const PAUSED_CPU_POLL_MS = 50

/**
 * Calls `onExpire(elapsedMs)` after `limitMs` of running time. While paused
 * (a human question is open) wall time does not count, but the module is not
 * stopped: with a `cpuClock` (CPU ms of the step's thread or process) the CPU
 * time it burns while paused counts instead, so a module cannot ask a
 * question, ignore it and keep computing past its limit.
 */
export class Stopwatch {
  private timer?: TimerHandle
  private poll?: NodeJS.Timeout
  private runningSince?: number
  private cpuAtPause?: number
  private pauses = 0
  private spent = 0
  private done = false

  constructor (private readonly limitMs: number, private readonly onExpire: (elapsedMs: number) => void, private readonly cpuClock?: () => number | undefined, private readonly clock: Clock = systemClock) {}

  start (): void {
    if (this.done || this.runningSince != null) return
    this.runningSince = this.clock.now()
    this.timer = this.clock.setTimeout(() => {
      this.done = true
      // timers run on a monotonic clock and may fire a millisecond before the wall clock shows the limit passed
      this.onExpire(Math.max(this.limitMs, this.elapsed()))
    }, Math.max(0, this.limitMs - this.spent))
  }

  /** Stops counting wall time until every `pause()` has its `resume()`. */
  pause (): void {
    if (this.pauses++ > 0 || this.done || this.runningSince == null) return
    this.spent += this.clock.now() - this.runningSince
    this.runningSince = undefined
    this.clock.clearTimeout(this.timer)
    this.cpuAtPause = this.cpuClock?.()
    if (this.cpuAtPause == null) return
    this.poll = setInterval(() => {
      const used = this.spent + this.pausedCpu()
      if (this.done || used < this.limitMs) return
      this.done = true
      clearInterval(this.poll)
      this.onExpire(used)
    }, PAUSED_CPU_POLL_MS)
  }

  resume (): void {
    if (this.pauses === 0 || --this.pauses > 0) return
    clearInterval(this.poll)
    this.spent += this.pausedCpu()
    this.cpuAtPause = undefined
    this.start()
  }

  private pausedCpu (): number {
    if (this.cpuAtPause == null) return 0
    const now = this.cpuClock?.()
    return now == null ? 0 : Math.max(0, now - this.cpuAtPause)
  }

  elapsed (): number {
    return this.spent + (this.runningSince != null ? this.clock.now() - this.runningSince : this.pausedCpu())
  }

  clear (): void {
    this.done = true
    this.clock.clearTimeout(this.timer)
    clearInterval(this.poll)
  }
}

/** Rounds a usage figure to two decimals (runner messages may carry numbers as strings). */
export function round (n: number): number {
  return Math.round(Number(n) * 100) / 100
}

/** Attaches the usage measured so far to a step error (journaled with the failure). */
export function withUsage<E extends Error> (err: E, usage: Usage): E {
  const e = err as E & { details?: Record<string, unknown> }
  if (e.details == null || typeof e.details !== 'object') e.details = {}
  if (e.details.usage == null) e.details.usage = usage
  return err
}
