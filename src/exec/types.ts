/**
 * Public types of the executor: usage, progress events, journal records, and
 * the StepRunner seam through which the scheduler asks "who runs this step?".
 */
import type { Logger } from 'pino'
import type { ErrorData } from '../core/errors.js'
import type { Step, StepLimits, TaskDag } from '../workflow/index.js'
import type { ModuleSpec, SandboxPermission } from '../core/index.js'
import type { ReceiptV1Via, Usage } from '../wire/index.js'

/** Resources a step used (kept in the journal; goes into receipts): the wire Usage of Receipt.v1 and Result.v1. */
export type { Usage }

/** Limits after applying node defaults: wall time and memory are always set. */
export interface EffectiveLimits extends StepLimits {
  wall_ms: number
  mem_mb: number
}

export type { ModuleSpec } from '../core/index.js'

export type AddonKind = 'webhook' | 'callback' | 'llm'

export interface HumanQuestion {
  question: string
  choices?: string[]
  /** after this long without a decision the ask fails with HumanTimeoutError */
  timeoutMs?: number
}

/** What a StepRunner may use while it runs one step. */
export interface StepContext {
  runId: string
  /** PeerId of the agent the run is for (RunRecord.on_behalf_of): named in the step's receipt */
  onBehalfOf?: string
  /** composite nesting of the run (RunRecord.depth): remote calls carry it in their CFPs */
  depth?: number
  /** the step instance key: `id`, plus `@n` per loop/router iteration and `[i]` per map item */
  key: string
  /** 1 for the first attempt */
  attempt: number
  limits: EffectiveLimits
  dag: TaskDag
  /** bundle modules of this run, by module key */
  modules: Record<string, ModuleSpec>
  /** aborted when the run is cancelled, passes its deadline, or the executor stops */
  signal: AbortSignal
  progress: (n: number, total?: number, message?: string) => void
  log: Logger
  /** a module's addon call (webhook, callback, llm) */
  addon: (kind: AddonKind, name: string, data: unknown) => Promise<unknown>
  /** a module's human question; resolves with the choice (journaled, so a re-run gets the same answer) */
  ask: (q: HumanQuestion) => Promise<string>
}

/** One call of a module, without a DAG (what `runModule` takes). */
export interface ModuleCall {
  /** first constructor argument @default the module key */
  name?: string
  parameters: unknown
  settings: unknown
  globalSettings: unknown
  globalParameters: unknown
  inputData: unknown
  limits: EffectiveLimits
  /** run/step ids shown to the module as `context.runId/step/attempt`; the plan's constraints as `context.constraints` */
  step?: { runId: string, key: string, attempt: number, constraints?: Record<string, unknown>, depth?: number }
  /** how the step is isolated beyond the pool's configuration (docs/EXECUTOR.md, Sandbox) */
  sandbox?: StepSandbox
}

/** How a JS step runs: a sandboxed child process (the default) or a worker thread of the node (trusted modules). */
export type JsIsolation = 'sandbox' | 'thread'

/**
 * What ran a step, recorded in receipts: `thread` (a worker thread of the
 * node), `sandbox` (a Node process in its own PID namespace under the
 * permission model), `process` (a Python runner process in its own PID
 * namespace); `-no-net` when it also had a network namespace with only loopback.
 */
export type Isolation = 'thread' | 'sandbox' | 'process' | 'sandbox-no-net' | 'process-no-net'

export interface StepSandbox {
  /** JS only; ignored (the sandbox is used) when `network` is 'none' @default the pool's `sandbox.isolation` */
  isolation?: JsIsolation
  /** 'none': the step runs in a network namespace with only its own loopback (a policy's `network: none`) */
  network?: 'none'
}

/** What the caller of `runModule` provides while the module runs. */
export interface ModuleCallOptions {
  /** aborting kills the worker/process after a short grace period */
  signal?: AbortSignal
  onProgress?: (n: number, total?: number, message?: string) => void
  log?: Logger
  /** serves `context.addons.*`; without it addon calls fail with AddonNotConfiguredError */
  addon?: (kind: AddonKind, name: string, data: unknown) => Promise<unknown>
  /** serves `context.human.ask`; time spent here does not count against the wall limit */
  ask?: (q: HumanQuestion) => Promise<string>
}

export interface ModuleResult {
  output: unknown
  usage: Usage
  /** what ran the step */
  isolation?: Isolation
  /** sandbox permissions the operator granted the step's module (sandboxed JS); recorded in the receipt */
  permissions?: SandboxPermission[]
  /** set when the step ran outside this node (an external implementation); recorded in the receipt */
  via?: RunVia
  /** set when a composite capability served the step: the run of its plan here and that run's receipts */
  inner?: InnerRun
}

/** The inner run of a composite step (src/composite): its id and its receipts, nested composites' receipts included. */
export interface InnerRun {
  run: string
  /** receipt CIDs of the inner run's own steps (Receipt.v1 `inner.receipts`), sorted */
  receipts: string[]
  /** those receipts and, transitively, the inner receipts of composites they name */
  signed: unknown[]
}

/**
 * Receipt.v1 `via`: what served a step outside the provider's own module
 * pools. `kind`: the external implementation's kind (a2a, mcp, attached...);
 * `target`: what was called (an agent card URL, an MCP server and tool, an
 * attached client); `ref`: the remote side's own id of the call (an A2A task id...).
 */
export type RunVia = ReceiptV1Via

/** The context a runner gets when asked whether it can run a step. */
export interface RunnerQuery {
  runId: string
  dag: TaskDag
  modules: Record<string, ModuleSpec>
}

export interface StepRunResult {
  output: unknown
  /** the output's canonical dag-cbor bytes, when the runner encoded it already (the journal stores them as they are) */
  outputBytes?: Uint8Array
  usage: Usage
  /** a signed receipt (remote runners) — stored by CID with the step */
  receipt?: unknown
  /** who executed it (a peer id for remote runners) */
  executor?: string
  /** set when a local step ran outside this node's module pools (see ModuleResult.via) */
  via?: RunVia
  /** set when a local composite capability served the step (see ModuleResult.inner) */
  inner?: InnerRun
}

/**
 * The seam between the scheduler and whatever executes a step. The local
 * module runner is one; a negotiation-backed runner (remote peers) is
 * another. The scheduler asks the runners in order and uses the first whose
 * `canRun` says yes. `run` must honour `ctx.signal`, throw typed errors
 * (`retryable` where a retry may help), and measure usage.
 */
export interface StepRunner {
  /** a stable name, journaled per step (`local`, `remote`, ...) */
  readonly name: string
  canRun: (step: Step, query: RunnerQuery) => boolean | Promise<boolean>
  run: (step: Step, inputData: Record<string, unknown>, ctx: StepContext) => Promise<StepRunResult>
  /**
   * true when `step` runs outside this process (a process of its own, another node): the scheduler
   * then starts it while its `running` record is being written. Otherwise (or without this method) the
   * step starts once that record is written, so a step that brings this process down is found
   * `running`, and counted as interrupted, on resume.
   */
  outOfProcess?: (step: Step, query: RunnerQuery) => boolean
  /**
   * true: the runner bounds its own concurrency and its steps do not take one
   * of the executor's `concurrency` slots (a remote step waits on the
   * network and on another node's CPU, not on this one's) @default false
   */
  readonly ownSlots?: boolean
  /** releases workers, processes, connections */
  stop?: () => Promise<void>
}

/** Picks the runner of a step; the default asks each runner's `canRun` in order. */
export interface StepResolver {
  resolve: (step: Step, query: RunnerQuery) => Promise<StepRunner | undefined>
}

export type RunState = 'running' | 'waiting-human' | 'succeeded' | 'failed' | 'cancelled'
export type StepState = 'running' | 'waiting-human' | 'succeeded' | 'failed' | 'skipped'

/** `exec-runs/<runId>` */
export interface RunRecord {
  v: 1
  id: string
  name: string
  state: RunState
  /** CID of the TaskDag (in `store.blocks`) */
  dag: string
  /** CID of the run input document */
  input: string
  /** the workflow file/folder the run was started from (used to reload modules on resume) */
  source?: string
  modules: Record<string, ModuleSpec>
  created: number
  updated: number
  ended?: number
  /** absolute time (ms) of `constraints.deadline_ms` */
  deadline?: number
  /** CID of the run result */
  output?: string
  error?: ErrorData
  /** PeerId of the agent the run is for (the requester of record; SubmitOptions.onBehalfOf) */
  on_behalf_of?: string
  /** composite nesting: set on the inner run of a composite capability (its CFPs carry it) */
  depth?: number
  /** the call this run serves (SubmitOptions.serves): such a run is not resumed after a restart */
  serves?: string
  /** step records the journal failed to write during this run (see `pl:step:journal-failed`); absent when none */
  journal_failures?: number
}

export interface PendingQuestion {
  /** index of the question within the step attempt (a `human` step has one: 0) */
  ask: number
  question: string
  choices: string[]
  since: number
  timeout_ms?: number
}

/** `exec-steps/<runId>/<key>` */
export interface StepRecord {
  run: string
  step: string
  key: string
  state: StepState
  attempts: number
  started?: number
  ended?: number
  /** CID of the output (in `store.blocks`) */
  output?: string
  error?: ErrorData
  usage?: Usage
  runner?: string
  executor?: string
  /** CID of the receipt (in `store.blocks`) */
  receipt?: string
  waiting?: PendingQuestion
  reason?: string
}

/** `exec-decisions/<runId>/<key>#<ask>` */
export interface DecisionRecord {
  run: string
  key: string
  ask: number
  choice: string
  at: number
}

interface EventBase { runId: string }
interface StepEventBase extends EventBase { step: string, key: string }

export type ExecEvent =
  | StepEventBase & { type: 'pl:step:started', attempt: number, runner?: string }
  | StepEventBase & { type: 'pl:step:progress', n: number, total?: number, message?: string }
  | StepEventBase & { type: 'pl:step:finished', outputCid: string, usage?: Usage, runner?: string, replayed: boolean }
  | StepEventBase & { type: 'pl:step:failed', error: ErrorData, attempt: number, willRetry: boolean }
  | StepEventBase & { type: 'pl:step:skipped', reason: string }
  | EventBase & { type: 'pl:run:finished', output: unknown, outputCid: string }
  | EventBase & { type: 'pl:run:failed', error: ErrorData }
  | StepEventBase & { type: 'pl:run:waiting-human', question: string, choices: string[], timeout_ms?: number }
  /** the journal could not record a step's failure: a resume after a crash may run the step again */
  | StepEventBase & { type: 'pl:step:journal-failed', error: ErrorData }

export type ExecEventType = ExecEvent['type']
export type ProgressHandler = (event: ExecEvent) => void
