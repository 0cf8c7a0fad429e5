/**
 * The shape of `pl-node doctor` checks: each one looks at one part of the
 * node's environment and returns findings; a problem (warn/fail) says how
 * to fix it. Checks are listed in src/cli/doctor/index.ts; add new ones
 * there (each area in its own file).
 */
import type { DaemonConfig } from '../config.js'

export type FindingLevel = 'ok' | 'warn' | 'fail'

export interface Finding {
  check: string
  level: FindingLevel
  message: string
  /** what to do; set on warn and fail */
  fix?: string
}

/** `GET /health` of the node running on the data dir */
export interface RunningHealth {
  peerId?: string
  addrs?: string[]
  peers?: number
  rejected?: Record<string, number>
  warnings?: string[]
  bootstrap?: Array<{ addr?: string, peerId?: string, connected?: boolean, attempts?: number, problem?: string }>
}

/** `GET /net/clock` of the node running on the data dir: its clock against its peers' (/pl/time, src/net/time.ts) */
export interface RunningClock {
  peers: number
  medianMs?: number
  maxAbsMs?: number
  skewed: string[]
  samples: Array<{ peer: string, offsetMs?: number, rttMs?: number, error?: string }>
}

export interface DoctorContext {
  config: DaemonConfig
  /** undefined when no node runs on the data dir */
  health?: RunningHealth
  /** undefined when no node runs on the data dir (or it predates /net/clock) */
  clock?: RunningClock
}

export interface DoctorCheck {
  name: string
  run: (ctx: DoctorContext) => Promise<Finding[]>
}
