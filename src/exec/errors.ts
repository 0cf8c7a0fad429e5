/**
 * Errors of the executor. Limit breaches name the limit and carry the limit
 * and the measured value in `details` ({limit, limit_value, measured}); they
 * are never retried. Errors coming out of a worker or a Python process travel
 * as `ErrorData` and are rebuilt here by name (`rebuildExecError`).
 */
import { PlError, type ErrorData } from '../core/errors.js'

/** A step ran longer than its `wall_ms`; its worker or process was killed. */
export class WallTimeExceededError extends PlError {
  override name = 'WallTimeExceededError'
}

/** A step used more CPU time than its `cpu_ms`. */
export class CpuTimeExceededError extends PlError {
  override name = 'CpuTimeExceededError'
}

/** A step went over its `mem_mb` (JS heap, or Python address space). */
export class MemoryLimitExceededError extends PlError {
  override name = 'MemoryLimitExceededError'
}

/** The module's `eval` (or constructor) threw; message and stack are the module's. */
export class ModuleError extends PlError {
  override name = 'ModuleError'
}

/** The module folder is missing, has no entry file, does not parse, or exports no usable class. */
export class ModuleLoadError extends PlError {
  override name = 'ModuleLoadError'
}

/** The worker thread or Python process running the step died (process.exit, os._exit, a signal). */
export class ModuleCrashedError extends PlError {
  override name = 'ModuleCrashedError'
}

/** A sandboxed JS module did something the permission model refuses (read or write outside its folders, spawn, workers, addons): ERR_ACCESS_DENIED. */
export class SandboxAccessDeniedError extends PlError {
  override name = 'SandboxAccessDeniedError'
}

/** A module asks for a sandbox permission (child processes, workers, addons, wasi) that the operator did not grant it. */
export class SandboxGrantRefusedError extends PlError {
  override name = 'SandboxGrantRefusedError'
}

/** A step must run without network (`network: none`) but this node cannot create a network namespace. */
export class NetworkIsolationUnavailableError extends PlError {
  override name = 'NetworkIsolationUnavailableError'
}

/** A module returned a value that is not JSON (function, BigInt, cycle, NaN, class instance), or an output over the size limit. */
export class InvalidOutputError extends PlError {
  override name = 'InvalidOutputError'
}

/** A step input cannot be built (a binding names nothing, a map `over` is not a list). */
export class BindingError extends PlError {
  override name = 'BindingError'
}

/** No StepRunner can run this step (no local module for its capability). */
export class NoRunnerError extends PlError {
  override name = 'NoRunnerError'
}

/** The router's output is not `{next: string | string[] | null}` or names an unknown step. */
export class RouterError extends PlError {
  override name = 'RouterError'
}

/** The router asked for more iterations than `router.max_iterations`. */
export class RouterLimitExceededError extends PlError {
  override name = 'RouterLimitExceededError'
}

/** The run's `constraints.deadline_ms` passed. */
export class DeadlineExceededError extends PlError {
  override name = 'DeadlineExceededError'
}

/** The run was cancelled by its caller. */
export class RunCancelledError extends PlError {
  override name = 'RunCancelledError'
}

/** The executor stopped while the run was active; the journal keeps it resumable. */
export class ExecutorStoppedError extends PlError {
  override name = 'ExecutorStoppedError'
}

/** A step was interrupted (process died) more often than its retry policy allows. */
export class StepInterruptedError extends PlError {
  override name = 'StepInterruptedError'
}

/** No run with that id in the journal. */
export class RunNotFoundError extends PlError {
  override name = 'RunNotFoundError'
}

/** The run has ended (resume/cancel), is not active in this executor (wait), or its id exists already (submit). */
export class RunNotResumableError extends PlError {
  override name = 'RunNotResumableError'
}

/** An inner run serving a call (a composite's) found unfinished at start: its caller is gone, so it is cancelled instead of resumed. */
export class RunOrphanedError extends PlError {
  override name = 'RunOrphanedError'
}

/** A resumed bundle's module no longer has the CID the run was started with. */
export class ModuleChangedError extends PlError {
  override name = 'ModuleChangedError'
}

/** A human decision did not arrive within the step's timeout (and the policy is `fail`). */
export class HumanTimeoutError extends PlError {
  override name = 'HumanTimeoutError'
}

/** A decision names a choice the question does not offer. */
export class InvalidDecisionError extends PlError {
  override name = 'InvalidDecisionError'
}

/** A decision for a step that is not waiting for one. */
export class DecisionNotPendingError extends PlError {
  override name = 'DecisionNotPendingError'
}

/** A module called an addon name this node does not configure. */
export class AddonNotConfiguredError extends PlError {
  override name = 'AddonNotConfiguredError'
}

/** An addon call failed (HTTP status, timeout, network); retryable for timeouts, 429 and 5xx. */
export class AddonError extends PlError {
  override name = 'AddonError'
}

type ErrorClass = new (message: string, details?: Record<string, unknown>, retryable?: boolean) => PlError

const BY_NAME: Record<string, ErrorClass> = {
  WallTimeExceededError,
  CpuTimeExceededError,
  MemoryLimitExceededError,
  ModuleError,
  ModuleLoadError,
  ModuleCrashedError,
  InvalidOutputError,
  BindingError,
  NoRunnerError,
  RouterError,
  RouterLimitExceededError,
  DeadlineExceededError,
  RunCancelledError,
  ExecutorStoppedError,
  StepInterruptedError,
  RunNotFoundError,
  RunNotResumableError,
  ModuleChangedError,
  HumanTimeoutError,
  InvalidDecisionError,
  DecisionNotPendingError,
  AddonNotConfiguredError,
  AddonError,
  SandboxAccessDeniedError
}

/**
 * Rebuilds an error that crossed a worker, a process or the journal. Executor
 * error names get their class back; any other name (what a module threw:
 * `TypeError`, `ValueError`, a custom class) becomes a ModuleError keeping the
 * module's message, stack and `retryable` flag, with its name in
 * `details.error`.
 */
export function rebuildExecError (data: ErrorData): PlError {
  const Cls = BY_NAME[data.name]
  let err: PlError
  if (Cls != null) {
    err = new Cls(data.message, data.details ?? {}, data.retryable ?? false)
  } else {
    err = new ModuleError(data.message, { ...(data.details ?? {}), error: data.name }, data.retryable ?? false)
  }
  if (data.stack != null) err.stack = data.stack
  return err
}

/** Adds run/step ids to an error's details (without losing its class). */
export function withStepDetails<E extends Error> (err: E, fields: Record<string, unknown>): E {
  const e = err as E & { details?: Record<string, unknown> }
  if (e.details == null || typeof e.details !== 'object') e.details = {}
  for (const [k, v] of Object.entries(fields)) if (e.details[k] === undefined) e.details[k] = v
  return err
}

/** A capability is served by an external implementation (A2A, MCP, attached process...) whose bridge this node does not run. */
export class ExternalRunnerMissingError extends PlError {
  override name = 'ExternalRunnerMissingError'
}
