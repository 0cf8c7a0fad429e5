/**
 * The workflow.json front end (schema Workflow.v1): `modules` + `graph`
 * (key → downstream keys) compiled to a Task DAG with one `call` step per
 * module. Pure: module folders are read by `loadWorkflow`, which passes
 * their CIDs in.
 */
import { type Json, cidStringOf } from '../core/encoding.js'
import { SchemaRegistry, formatAjvErrors } from '../spec/index.js'
import type { Step, TaskDag } from './ir.js'
import { limitsFromRequirements } from './limits.js'
import { validateDag } from './validate.js'
import { stableTopoSort } from './order.js'
import { DEFAULT_ROUTER_ITERATIONS, MAX_ROUTER_ITERATIONS } from './constants.js'
import { SANDBOX_PERMISSIONS, type SandboxPermission } from '../core/index.js'
import {
  DagCycleError, LoopBoundError, ModuleNotInGraphError, UnknownDownstreamError, UnknownGraphKeyError, WorkflowSchemaError
} from './errors.js'

/** One module entry of workflow.json (the fields this compiler reads). */
export interface WorkflowModule {
  codePath?: string
  name?: string
  description?: string
  settings?: Record<string, Json>
  parameters?: Record<string, Json>
  resource_requirements?: Record<string, Json>
  /** Python: the class of function.py to use when it defines several */
  className?: string
  tags?: string[]
  /** JS: sandbox permissions the module asks for (child-process, worker, addons, wasi), granted only where the operator's `sandbox.grants` allow them (docs/WORKFLOW.md) */
  permissions?: SandboxPermission[]
}

export interface WorkflowDoc {
  workflow_id?: string
  name?: string
  description?: string
  globalSettings?: Record<string, Json>
  globalParameters?: Record<string, Json>
  modules: Record<string, WorkflowModule>
  graph: Record<string, string[]>
}

export interface CompileWorkflowOptions {
  /** router mode: bound on router iterations @default 20 */
  maxRouterIterations?: number
  /** CID recorded as `source.cid` @default the CID of `doc` */
  sourceCid?: string
}

let registry: SchemaRegistry | undefined

/** Throws WorkflowSchemaError unless `doc` matches Workflow.v1. */
export function checkWorkflowSchema (doc: unknown): asserts doc is WorkflowDoc {
  if (doc == null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new WorkflowSchemaError(`workflow.json must be a JSON object, got ${Array.isArray(doc) ? 'a list' : doc === null ? 'null' : typeof doc}`)
  }
  registry ??= SchemaRegistry.loadSync()
  const entry = registry.get('Workflow.v1')
  if (entry.validate(doc) !== true) {
    throw new WorkflowSchemaError(`workflow.json does not match Workflow.v1: ${formatAjvErrors(entry.validate.errors)}`, { errors: entry.validate.errors?.slice(0, 5) ?? [] })
  }
  for (const [key, m] of Object.entries((doc as WorkflowDoc).modules)) {
    if (m.className !== undefined && typeof m.className !== 'string') throw new WorkflowSchemaError(`workflow.json: modules.${key}.className must be a string`, { key })
    const p = m.permissions as unknown
    if (p !== undefined && (!Array.isArray(p) || p.length > SANDBOX_PERMISSIONS.length * 4 || !p.every(x => SANDBOX_PERMISSIONS.includes(x)))) {
      throw new WorkflowSchemaError(`workflow.json: modules.${key}.permissions must be a list of sandbox permissions (${SANDBOX_PERMISSIONS.join(', ')})`, { key })
    }
  }
}

/** The router module's key, when the workflow is in router mode (a `router` module, every graph entry empty). */
export function routerKeyOf (doc: WorkflowDoc): string | undefined {
  const key = Object.prototype.hasOwnProperty.call(doc.modules, 'router')
    ? 'router'
    : Object.keys(doc.modules).find(k => doc.modules[k].name === 'router')
  if (key == null) return undefined
  return Object.values(doc.graph).every(d => d.length === 0) ? key : undefined
}

/**
 * The graph checks, in the order a reader would want them: undefined graph
 * keys, undefined downstream targets, modules missing from the graph, cycles.
 * Returns module keys in a topological order (declaration order breaks ties).
 */
export function checkWorkflowGraph (doc: WorkflowDoc): string[] {
  const keys = Object.keys(doc.modules)
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(doc.modules, k)
  const known = keys.length > 0 ? keys.join(', ') : 'none'
  for (const k of Object.keys(doc.graph)) {
    if (!has(k)) throw new UnknownGraphKeyError(`graph key '${k}' is not a module (modules: ${known})`, { key: k })
  }
  for (const [k, downs] of Object.entries(doc.graph)) {
    for (const d of downs) {
      if (!has(d)) throw new UnknownDownstreamError(`graph entry '${k}' sends its output to '${d}', which is not a module (modules: ${known})`, { key: k, target: d })
    }
  }
  const router = routerKeyOf(doc)
  if (router == null) {
    const inGraph = new Set([...Object.keys(doc.graph), ...Object.values(doc.graph).flat()])
    const missing = keys.filter(k => !inGraph.has(k))
    if (missing.length > 0) {
      throw new ModuleNotInGraphError(`module${missing.length > 1 ? 's' : ''} ${missing.map(m => `'${m}'`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} declared but not in the graph (add "${missing[0]}": [] to graph for a module with no downstream)`, { modules: missing })
    }
  }
  // cycle check with the path named in flow order (a → b → a)
  const state = new Map<string, 1 | 2>()
  for (const root of keys) {
    if (state.has(root)) continue
    const path = [root]
    const pending = [[...downstreamOf(doc, root)].reverse()]
    state.set(root, 1)
    while (path.length > 0) {
      const next = pending[pending.length - 1].pop()
      if (next == null) {
        state.set(path.pop()!, 2)
        pending.pop()
        continue
      }
      const st = state.get(next)
      if (st === 1) {
        const cycle = [...path.slice(path.indexOf(next)), next]
        throw new DagCycleError(`the workflow graph has a cycle: ${cycle.join(' → ')}`, { cycle })
      }
      if (st == null) {
        state.set(next, 1)
        path.push(next)
        pending.push([...downstreamOf(doc, next)].reverse())
      }
    }
  }
  const upstream = upstreamOf(doc)
  return stableTopoSort(keys, k => upstream.get(k)!)
}

/** The graph entry of a module (own properties only: keys like `constructor` are data here). */
export function downstreamOf (doc: WorkflowDoc, key: string): string[] {
  return Object.prototype.hasOwnProperty.call(doc.graph, key) ? doc.graph[key] : []
}

/** Module key → the keys whose graph entries send output to it (declaration order). */
export function upstreamOf (doc: WorkflowDoc): Map<string, string[]> {
  const upstream = new Map<string, string[]>(Object.keys(doc.modules).map(k => [k, []]))
  for (const k of Object.keys(doc.modules)) {
    for (const d of new Set(downstreamOf(doc, k))) upstream.get(d)?.push(k)
  }
  return upstream
}

/**
 * workflow.json → Task DAG. `modules` maps module keys to their folder CIDs
 * (from `loadWorkflow`); without it steps carry no `module` pin.
 * @example compileWorkflowJson(JSON.parse(text), { start: { cid } })
 */
export function compileWorkflowJson (doc: unknown, modules?: Record<string, { cid: string }>, options: CompileWorkflowOptions = {}): TaskDag {
  checkWorkflowSchema(doc)
  const order = checkWorkflowGraph(doc)
  const routerKey = routerKeyOf(doc)
  const upstream = upstreamOf(doc)
  const steps: Record<string, Step> = {}
  for (const key of order) {
    const m = doc.modules[key]
    const step: Step = {
      id: key,
      kind: 'call',
      capability: { name: m.name != null && m.name !== '' ? m.name : key },
      parameters: structuredClone(m.parameters ?? {}),
      settings: structuredClone(m.settings ?? {}),
      after: upstream.get(key)!,
      args: {},
      limits: limitsFromRequirements(key, m.resource_requirements)
    }
    const pinned = modules?.[key]
    if (pinned != null) step.module = { key, cid: pinned.cid }
    steps[key] = step
  }
  const hasDownstream = (k: string): boolean => downstreamOf(doc, k).length > 0
  const dag: TaskDag = {
    v: 1,
    name: doc.name ?? doc.workflow_id ?? 'workflow',
    source: { format: 'workflow.json', cid: options.sourceCid ?? cidStringOf(doc) },
    mode: routerKey != null ? 'router' : 'dag',
    inputs: {},
    constraints: {},
    policies: [],
    select: [],
    globalSettings: structuredClone(doc.globalSettings ?? {}),
    globalParameters: structuredClone(doc.globalParameters ?? {}),
    steps,
    outputs: routerKey != null ? order.filter(k => k !== routerKey) : order.filter(k => !hasDownstream(k))
  }
  if (routerKey != null) {
    const max = options.maxRouterIterations ?? DEFAULT_ROUTER_ITERATIONS
    if (!Number.isInteger(max) || max < 1 || max > MAX_ROUTER_ITERATIONS) {
      throw new LoopBoundError(`maxRouterIterations must be an integer from 1 to ${MAX_ROUTER_ITERATIONS}, got ${String(max)}`, { max_iterations: max })
    }
    dag.router = { step: routerKey, max_iterations: max }
  }
  validateDag(dag)
  return dag
}
