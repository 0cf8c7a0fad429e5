/**
 * The Task DAG: the one intermediate form every front end (workflow.json
 * bundles, the YAML DSL) compiles to and the executor runs. Pure data: it
 * names capabilities (and, for bundles, module CIDs), never file paths, so
 * the same plan has the same CID on every machine. Serializable to dag-json;
 * `dagCid(dag)` identifies the plan.
 */
import type { Json } from '../core/encoding.js'
import type { Limits } from '../wire/index.js'

export type StepKind =
  /** run one capability once */
  | 'call'
  /** fan out: run the capability once per element of `over`; output is the list of outputs */
  | 'map'
  /** aggregate: run once over the list produced by its upstream step(s) */
  | 'reduce'
  /** join: wait for all upstream steps, run once with all their outputs */
  | 'join'
  /** evaluate `condition`; only the steps of the chosen arm run, the others are skipped */
  | 'branch'
  /** run the `body` steps repeatedly until `until` holds or `max` iterations */
  | 'loop'
  /** pause the run for a human decision */
  | 'human'

/** A safe expression over step outputs and inputs (no code execution). */
export type Expr =
  | { op: 'lit', value: Json }
  /** a dotted reference: first segment is an `as` name, a step id or an input name */
  | { op: 'ref', path: string[] }
  | { op: 'not', arg: Expr }
  | { op: 'and' | 'or', args: Expr[] }
  | { op: '==' | '!=' | '<' | '<=' | '>' | '>=', left: Expr, right: Expr }

/** Where a step input comes from. */
export type Binding =
  /** a run-level input by name (DSL `inputs`, or the run's input document) */
  | { from: 'input', name: string, path?: string[] }
  /** the output of an upstream step (optionally a path inside it) */
  | { from: 'step', step: string, path?: string[] }
  /** the current element of the enclosing `map` */
  | { from: 'item', step: string }
  | { from: 'const', value: Json }

export interface CapabilityRef {
  name: string
  version?: string
  /** a Capability.v1 descriptor CID, when the plan pins one */
  cid?: string
}

/** A step's limits are the wire Limits its calls, awards and receipts carry (`mem_mb`: JS heap / Python address space, MiB). */
export type StepLimits = Limits

export interface RetryPolicy {
  /** retries after the first attempt, for errors marked retryable @default 2 */
  max: number
  /** first backoff, doubled each retry @default 200 */
  backoff_ms: number
}

export interface Step {
  id: string
  kind: StepKind
  /** the capability this step needs (absent for branch/loop/human) */
  capability?: CapabilityRef
  /** workflow.json bundles: the module key and the CID of its folder (the local implementation) */
  module?: { key: string, cid: string }
  parameters: Record<string, Json>
  settings: Record<string, Json>
  /** upstream step ids that must finish first */
  after: string[]
  /** named arguments: input_data[name] = value of the binding */
  args: Record<string, Binding>
  /** map: the list to fan out over */
  over?: Binding
  /** DSL `as:` name of this step's output (refs in expressions may use it) */
  as?: string
  limits: StepLimits
  retry?: RetryPolicy
  /** branch: the condition, and the step ids of each arm */
  condition?: Expr
  then?: string[]
  else?: string[]
  /** loop: body step ids, max iterations, stop condition (checked after each iteration) */
  body?: string[]
  max?: number
  until?: Expr
  /** set on steps that belong to a branch arm or a loop body: the owning step id */
  parent?: string
  /** human: question, choices and timeout */
  human?: { question: string, choices: string[], timeout_ms?: number, on_timeout?: 'fail' | string }
}

export interface SelectWeight {
  /** a bid attribute (`price`, `eta_ms` and other cost-like attributes count inversely) */
  attr: string
  weight: number
}

export interface TaskDag {
  v: 1
  name: string
  /** where the plan came from; `cid` is the source document's or bundle manifest's CID */
  source: { format: 'workflow.json' | 'dsl', cid?: string }
  /** dag: the graph decides; router: a router module picks the next step(s) at run time */
  mode: 'dag' | 'router'
  /** run-level inputs declared by the plan (DSL `inputs`); `cid:` references stay strings */
  inputs: Record<string, Json>
  constraints: { deadline_ms?: number, [k: string]: Json | undefined }
  /** policy CIDs or names that every remote step must honour */
  policies: string[]
  select: SelectWeight[]
  globalSettings: Record<string, Json>
  globalParameters: Record<string, Json>
  /** keyed by step id; insertion order is a valid topological order */
  steps: Record<string, Step>
  /** sink step ids: the run's result is `{[id]: output}` (a single sink's output is returned as is) */
  outputs: string[]
  /** router mode: the router step and the bound on its iterations */
  router?: { step: string, max_iterations: number }
}
