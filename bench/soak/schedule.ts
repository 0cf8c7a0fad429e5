/**
 * The chaos fault schedule: a pure function of a seed and the swarm's shape,
 * so every run prints (and can replay) exactly which fault hit which node when.
 *
 * Faults: `kill` (SIGKILL a provider, restart it `durationMs` later),
 * `pause` (SIGSTOP a provider, SIGCONT it `durationMs` later) and exactly one
 * `restart-requester` (SIGKILL + immediate relaunch of a requester, roughly
 * mid-run). At most `maxDown` providers are down (killed or paused) at any
 * moment (a killed node counts as down until `launchMs` after its relaunch)
 * and never all of them; no provider fault overlaps the requester restart
 * window; every fault is over before `durationMs - cooldownMs`.
 *
 * @example
 * const faults = chaosSchedule({ seed: 7, durationMs: 120_000, providers: [1, 2, 3, 4], requesters: [0] })
 * for (const f of faults) console.log(formatFault(f))
 */
import { seededRng } from './rng.js'

export type FaultKind = 'kill' | 'pause' | 'restart-requester'

export interface Fault {
  /** ms after the start of the load */
  at: number
  kind: FaultKind
  node: number
  /** how long the node stays down (killed or stopped); 0 for a requester restart (relaunched at once) */
  durationMs: number
}

export interface ScheduleInit {
  seed: number
  /** length of the load phase */
  durationMs: number
  /** indexes of nodes that may be killed or paused */
  providers: number[]
  /** indexes of requester nodes; one of them is restarted once */
  requesters: number[]
  /** @default max(1, floor(providers / 3)) and always < providers */
  maxDown?: number
  /** no fault starts before this @default min(10 s, 10 % of duration) */
  warmupMs?: number
  /** every fault has ended this long before the end of the load @default min(15 s, 15 % of duration) */
  cooldownMs?: number
  /** mean gap between fault starts @default 6000 */
  meanGapMs?: number
  /** @default [2000, 8000] */
  killDownMs?: [number, number]
  /** @default [1000, 6000] */
  pauseMs?: [number, number]
  /** no provider fault this long before/after the requester restart @default 3000 */
  restartQuietMs?: number
  /** how long a killed node takes to start again, counted as down time when spacing faults @default 5000 */
  launchMs?: number
}

/** Checks the shape; throws TypeError naming the bad field (a caller mistake, not a runtime condition). */
function checkInit (init: ScheduleInit): void {
  if (!Number.isFinite(init.durationMs) || init.durationMs <= 0) throw new TypeError('durationMs must be > 0')
  if (init.providers.length < 2) throw new TypeError(`chaos needs at least 2 provider nodes so that one stays up (got ${init.providers.length}); use --nodes 3 or more`)
  if (init.requesters.length < 1) throw new TypeError('chaos needs a requester node')
  const overlap = init.providers.filter(p => init.requesters.includes(p))
  if (overlap.length > 0) throw new TypeError(`nodes ${overlap.join(', ')} are both provider and requester`)
}

/** The number of providers that may be down at once: `requested` (default a third), at least 1, always fewer than all. */
export function effectiveMaxDown (providers: number, requested?: number): number {
  return Math.min(providers - 1, Math.max(1, requested ?? Math.floor(providers / 3)))
}

export function chaosSchedule (init: ScheduleInit): Fault[] {
  checkInit(init)
  const rng = seededRng(init.seed)
  const maxDown = effectiveMaxDown(init.providers.length, init.maxDown)
  const warmup = init.warmupMs ?? Math.min(10_000, init.durationMs * 0.1)
  const cooldown = init.cooldownMs ?? Math.min(15_000, init.durationMs * 0.15)
  const end = init.durationMs - cooldown
  const meanGap = init.meanGapMs ?? 6000
  const [killMin, killMax] = init.killDownMs ?? [2000, 8000]
  const [pauseMin, pauseMax] = init.pauseMs ?? [1000, 6000]
  const quiet = init.restartQuietMs ?? 3000
  const launch = init.launchMs ?? 5000

  const restart: Fault = {
    at: Math.round(warmup + (end - warmup) * (0.4 + 0.2 * rng.next())),
    kind: 'restart-requester',
    node: rng.pick(init.requesters),
    durationMs: 0
  }
  const faults: Fault[] = [restart]
  const down: Array<{ node: number, until: number }> = []
  // the first two faults are one kill and one pause (in seeded order), so every schedule has both
  const firstKinds: FaultKind[] = rng.next() < 0.5 ? ['kill', 'pause'] : ['pause', 'kill']
  let t = warmup
  for (;;) {
    // exponential gaps (a Poisson process), at least 500 ms apart
    t += Math.max(500, Math.round(-Math.log(1 - rng.next()) * meanGap))
    if (t >= end) break
    const placed = faults.length - 1
    const kind: FaultKind = placed < 2 ? firstKinds[placed] : rng.next() < 0.5 ? 'kill' : 'pause'
    const durationMs = kind === 'kill' ? rng.int(killMin, killMax) : rng.int(pauseMin, pauseMax)
    // a killed node is down until its relaunch has finished starting
    const until = t + durationMs + (kind === 'kill' ? launch : 0)
    if (until > end) continue
    if (t < restart.at + quiet && until > restart.at - quiet) continue
    const busy = down.filter(d => d.until > t)
    if (busy.length >= maxDown) continue
    const free = init.providers.filter(p => !busy.some(d => d.node === p))
    const node = rng.pick(free)
    down.push({ node, until })
    faults.push({ at: t, kind, node, durationMs })
  }
  return faults.sort((a, b) => a.at - b.at)
}

/** `+12.3s  kill      node 3 for 4.1s` */
export function formatFault (f: Fault): string {
  const what = f.kind === 'restart-requester' ? 'restart requester' : f.kind === 'kill' ? 'SIGKILL' : 'SIGSTOP'
  const tail = f.kind === 'restart-requester' ? '(SIGKILL + relaunch)' : f.kind === 'kill' ? `restart after ${(f.durationMs / 1000).toFixed(1)}s` : `SIGCONT after ${(f.durationMs / 1000).toFixed(1)}s`
  return `+${(f.at / 1000).toFixed(1).padStart(6)}s  ${what.padEnd(17)} node ${f.node}  ${tail}`
}

/** The largest number of providers down at the same time in `faults`, a kill counting `launchMs` beyond its downtime (for checks and the report). */
export function maxConcurrentDown (faults: Fault[], launchMs = 0): number {
  const edges = faults.filter(f => f.kind !== 'restart-requester').flatMap(f => [{ t: f.at, d: 1 }, { t: f.at + f.durationMs + (f.kind === 'kill' ? launchMs : 0), d: -1 }])
  edges.sort((a, b) => a.t - b.t || a.d - b.d)
  let cur = 0
  let max = 0
  for (const e of edges) { cur += e.d; max = Math.max(max, cur) }
  return max
}
