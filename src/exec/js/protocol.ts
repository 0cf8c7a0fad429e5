/**
 * Messages between the main thread and a JS module worker about the step it
 * runs: progress, logs, addon calls and human questions (which run in the
 * main thread) and the abort signal. Errors travel as ErrorData.
 *
 * A worker thread sends them on its `parentPort` (piscina hands them to the
 * pool's 'message' event) wrapped as `{ plTask: <task id>, m }`, and hears
 * the main thread's on a BroadcastChannel of the pool (`channel`), wrapped
 * the same way: no MessagePort is made and transferred per step (that cost
 * more than the round trip itself). The sandboxed runner gives a task a port
 * of its own over its protocol socket (src/exec/sandbox/runner.ts).
 */
import type { ErrorData } from '../../core/errors.js'
import type { AddonKind, HumanQuestion } from '../types.js'

export interface JsTask {
  module: { cid: string, entry: string, key: string }
  /** constructor arguments (besides globalState, which is per worker) */
  ctor: { name: string, settings: unknown, parameters: unknown, globalSettings: unknown, globalParameters: unknown }
  parameters: unknown
  inputData: unknown
  step: { runId: string, key: string, attempt: number, constraints?: Record<string, unknown> }
  /** the step's own temp folder (context.tmpdir), made by the worker when the module first reads it, removed after the step */
  tmpdir?: string
  port: StepPort
}

/** Where a running step's messages go, and come from. */
export interface StepPort {
  postMessage: (m: WorkerToMain) => void
  on: (event: 'message', fn: (m: MainToWorker) => void) => void
  close: () => void
}

/** A task of the worker-thread pool: its messages are tagged with `id`; the main thread's come on the BroadcastChannel `channel`. */
export interface JsThreadTask extends Omit<JsTask, 'port'> {
  id: number
  channel: string
}

/** A step message between threads, tagged with its task. */
export interface TaggedMessage<M> { plTask: number, m: M }

export interface JsUsage { cpu_ms: number, wall_ms: number, heap_mb: number, cpu_exact: boolean }

/** `tmpdir`: whether the step's temp folder was made (the module read `context.tmpdir`) */
export type JsTaskResult =
  | { ok: true, output: unknown, usage: JsUsage, tmpdir: boolean }
  | { ok: false, error: ErrorData, usage: JsUsage, tmpdir: boolean }

export type WorkerToMain =
  /** first message of every task: the worker's OS thread id and its CPU time (ms) at the start of the step (for the CPU watchdog and usage) */
  | { t: 'started', tid?: number, cpu0?: number | null }
  | { t: 'progress', n: number, total?: number, message?: string }
  | { t: 'log', level: 'debug' | 'info' | 'warn' | 'error', msg: string, data?: unknown }
  | { t: 'call', id: number, kind: AddonKind, name: string, data: unknown }
  | { t: 'ask', id: number, question: HumanQuestion }

export type MainToWorker =
  | { t: 'reply', id: number, ok: true, value: unknown }
  | { t: 'reply', id: number, ok: false, error: ErrorData }
  | { t: 'abort', reason: ErrorData }
