/**
 * Messages between the main thread and a JS module worker. A task carries a
 * fresh MessagePort for everything that happens while the step runs:
 * progress, logs, addon calls and human questions (which run in the main
 * thread) and the abort signal. Errors travel as ErrorData.
 */
import type { MessagePort } from 'node:worker_threads'
import type { ErrorData } from '../../core/errors.js'
import type { AddonKind, HumanQuestion } from '../types.js'

export interface JsTask {
  module: { cid: string, entry: string, key: string }
  /** constructor arguments (besides globalState, which is per worker) */
  ctor: { name: string, settings: unknown, parameters: unknown, globalSettings: unknown, globalParameters: unknown }
  parameters: unknown
  inputData: unknown
  step: { runId: string, key: string, attempt: number, constraints?: Record<string, unknown> }
  /** the step's own temp folder (context.tmpdir), removed after the step */
  tmpdir?: string
  port: MessagePort
}

export interface JsUsage { cpu_ms: number, wall_ms: number, heap_mb: number, cpu_exact: boolean }

export type JsTaskResult =
  | { ok: true, output: unknown, usage: JsUsage }
  | { ok: false, error: ErrorData, usage: JsUsage }

export type WorkerToMain =
  /** first message of every task: the worker's OS thread id (for the CPU watchdog) */
  | { t: 'started', tid?: number }
  | { t: 'progress', n: number, total?: number, message?: string }
  | { t: 'log', level: 'debug' | 'info' | 'warn' | 'error', msg: string, data?: unknown }
  | { t: 'call', id: number, kind: AddonKind, name: string, data: unknown }
  | { t: 'ask', id: number, question: HumanQuestion }

export type MainToWorker =
  | { t: 'reply', id: number, ok: true, value: unknown }
  | { t: 'reply', id: number, ok: false, error: ErrorData }
  | { t: 'abort', reason: ErrorData }
