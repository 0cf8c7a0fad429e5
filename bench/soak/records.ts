/**
 * What the soak and chaos runs record about each submitted run, and the shapes
 * they read from a node's control API (`GET /runs/:id`, `GET /receipts/:runId`).
 */
import type { SignedReceipt } from '../../src/receipts/index.js'

export type RunState = 'running' | 'waiting-human' | 'succeeded' | 'failed' | 'cancelled'

export const TERMINAL_STATES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled'])

/** One step as `GET /runs/:id` reports it. */
export interface StepView {
  key: string
  state: string
  attempts: number
  runner?: string
  executor?: string
  receipt?: string
  /** ms since epoch (the requester's clock): the attempt's `running` record, and its end */
  started?: number
  ended?: number
}

/** `GET /runs/:id` */
export interface RunView {
  run: { id: string, state: RunState, error?: { name: string, message: string }, created?: number, ended?: number }
  steps: StepView[]
  output?: unknown
}

/** A run the soak submitted, as tracked by the harness. */
export interface TrackedRun {
  runId: string
  /** index of the requester node it was submitted to */
  node: number
  plan: string
  /** ms since the start of the load (harness clock) */
  submittedAt: number
  /** ms since the start of the load when the harness first saw a terminal state */
  observedEndAt?: number
  /** end-to-end latency: node's ended - created when reported, else observed */
  latencyMs?: number
  /** last state seen; 'unknown' until the first successful poll */
  state: RunState | 'unknown'
  error?: { name: string, message: string }
  /** the last view polled */
  view?: RunView
  /** the requester answered 404 for this run after having accepted it */
  forgotten?: boolean
}

/** A submission the requester refused or never answered (no run id: not a run). */
export interface SubmitFailure { at: number, node: number, plan: string, name: string, message: string }

/** Steps of the runs on a requester right before it was restarted. */
export interface RestartSnapshot {
  node: number
  at: number
  /** `state`: the run's state at the snapshot */
  runs: Array<{ runId: string, state?: string, steps: StepView[] }>
}

export type RunReceipts = Record<string, SignedReceipt[]>
