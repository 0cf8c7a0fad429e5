/**
 * `validateDag`: the checks every Task DAG passes before anyone runs it,
 * whatever front end (or hostile peer) produced it. Shape first (so the later
 * checks can trust types), then references, then bounds, then acyclicity.
 */
import type { Binding, Expr, Step, TaskDag } from './ir.js'
import { exprRoots } from './expr.js'
import { LIMIT_KEYS } from '../wire/index.js'
import { show } from './show.js'
import { MAX_LOOP_ITERATIONS, MAX_ROUTER_ITERATIONS } from './constants.js'
import {
  DagCycleError, DanglingReferenceError, DuplicateStepError, InvalidDagError, InvalidLimitError, LoopBoundError
} from './errors.js'

const KINDS = new Set(['call', 'map', 'reduce', 'join', 'branch', 'loop', 'human'])
const CAPABILITY_KINDS = new Set(['call', 'map', 'reduce', 'join'])
const CMP = new Set(['==', '!=', '<', '<=', '>', '>='])

const isObj = (v: unknown): v is Record<string, unknown> => v != null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)
const isStrArr = (v: unknown): v is string[] => Array.isArray(v) && v.every(x => typeof x === 'string')

function bad (msg: string, details: Record<string, unknown> = {}): never {
  throw new InvalidDagError(msg, details)
}

function checkExprShape (e: unknown, where: string, depth = 0): asserts e is Expr {
  if (depth > 64) bad(`${where}: expression nests too deep`)
  if (!isObj(e) || typeof e.op !== 'string') bad(`${where}: expression must be an object with an op`)
  switch (e.op) {
    case 'lit': if (!('value' in e)) bad(`${where}: lit needs a value`); return
    case 'ref': if (!isStrArr(e.path) || e.path.length === 0) bad(`${where}: ref needs a non-empty path of strings`); return
    case 'not': checkExprShape(e.arg, where, depth + 1); return
    case 'and': case 'or':
      if (!Array.isArray(e.args) || e.args.length === 0) bad(`${where}: ${e.op} needs args`)
      for (const a of e.args as unknown[]) checkExprShape(a, where, depth + 1)
      return
    default:
      if (!CMP.has(e.op)) bad(`${where}: unknown expression op ${show(e.op)}`)
      checkExprShape(e.left, where, depth + 1)
      checkExprShape(e.right, where, depth + 1)
  }
}

function checkBindingShape (b: unknown, where: string): asserts b is Binding {
  if (!isObj(b)) bad(`${where}: binding must be an object`)
  if (b.path !== undefined && !isStrArr(b.path)) bad(`${where}: binding path must be a list of strings`)
  switch (b.from) {
    case 'input': if (typeof b.name !== 'string') bad(`${where}: input binding needs a name`); return
    case 'step': case 'item': if (typeof b.step !== 'string') bad(`${where}: ${b.from} binding needs a step`); return
    case 'const': if (!('value' in b)) bad(`${where}: const binding needs a value`); return
    default: bad(`${where}: unknown binding source ${show(b.from)}`)
  }
}

function checkLimit (where: string, key: string, v: unknown): void {
  if (v === undefined) return
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new InvalidLimitError(`${where}: ${key} must be a positive integer, got ${show(v)}`, { where, key })
  }
}

function checkShape (dag: unknown): asserts dag is TaskDag {
  if (!isObj(dag)) bad('a Task DAG must be an object')
  if (dag.v !== 1) bad(`unsupported Task DAG version ${show(dag.v)} (expected 1)`)
  if (typeof dag.name !== 'string') bad('the DAG needs a name')
  if (!isObj(dag.source) || (dag.source.format !== 'workflow.json' && dag.source.format !== 'dsl')) bad('source.format must be "workflow.json" or "dsl"')
  if (dag.mode !== 'dag' && dag.mode !== 'router') bad(`mode must be "dag" or "router", got ${show(dag.mode)}`)
  for (const k of ['inputs', 'constraints', 'globalSettings', 'globalParameters', 'steps'] as const) {
    if (!isObj(dag[k])) bad(`${k} must be an object`)
  }
  if (!isStrArr(dag.policies)) bad('policies must be a list of strings')
  if (!isStrArr(dag.outputs)) bad('outputs must be a list of step ids')
  if (!Array.isArray(dag.select) || !dag.select.every(w => isObj(w) && typeof w.attr === 'string' && typeof w.weight === 'number' && Number.isFinite(w.weight))) {
    bad('select must be a list of {attr, weight} with finite weights')
  }
  for (const [key, s] of Object.entries(dag.steps as Record<string, unknown>)) {
    const where = `step '${key}'`
    if (!isObj(s)) bad(`${where} must be an object`)
    if (typeof s.kind !== 'string' || !KINDS.has(s.kind)) bad(`${where}: unknown kind ${show(s.kind)}`)
    if (!isObj(s.parameters) || !isObj(s.settings) || !isObj(s.args) || !isObj(s.limits)) bad(`${where}: parameters, settings, args and limits must be objects`)
    if (!isStrArr(s.after)) bad(`${where}: after must be a list of step ids`)
    if (CAPABILITY_KINDS.has(s.kind) && !(isObj(s.capability) && typeof s.capability.name === 'string' && s.capability.name !== '')) bad(`${where}: a ${s.kind} step needs capability.name`)
    if (s.module !== undefined && !(isObj(s.module) && typeof s.module.key === 'string' && typeof s.module.cid === 'string')) bad(`${where}: module must be {key, cid}`)
    for (const [name, b] of Object.entries(s.args)) checkBindingShape(b, `${where} arg '${name}'`)
    if (s.kind === 'map') {
      if (s.over === undefined) bad(`${where}: a map step needs over`)
      checkBindingShape(s.over, `${where} over`)
    } else if (s.over !== undefined) bad(`${where}: only map steps have over`)
    if (s.as !== undefined && typeof s.as !== 'string') bad(`${where}: as must be a string`)
    if (s.parent !== undefined && typeof s.parent !== 'string') bad(`${where}: parent must be a step id`)
    for (const k of ['then', 'else', 'body'] as const) if (s[k] !== undefined && !isStrArr(s[k])) bad(`${where}: ${k} must be a list of step ids`)
    if (s.kind === 'branch') {
      checkExprShape(s.condition, `${where} condition`)
      if (s.then === undefined) bad(`${where}: a branch needs then`)
    }
    if (s.kind === 'loop') {
      if (s.body === undefined || (s.body as string[]).length === 0) bad(`${where}: a loop needs a non-empty body`)
      if (s.until !== undefined) checkExprShape(s.until, `${where} until`)
    }
    if (s.kind === 'human' && !(isObj(s.human) && typeof s.human.question === 'string' && isStrArr(s.human.choices))) bad(`${where}: a human step needs human.question and human.choices`)
    if (s.retry !== undefined && !(isObj(s.retry) && Number.isSafeInteger(s.retry.max) && (s.retry.max as number) >= 0 && Number.isSafeInteger(s.retry.backoff_ms) && (s.retry.backoff_ms as number) >= 0)) {
      bad(`${where}: retry must be {max, backoff_ms} with non-negative integers`)
    }
  }
  if (dag.router !== undefined && !(isObj(dag.router) && typeof dag.router.step === 'string')) bad('router must be {step, max_iterations}')
}

/** The edges a step depends on: after, step bindings, map `over`, and its owner. */
export function dependencies (step: Step): string[] {
  const deps = new Set(step.after)
  const add = (b: Binding | undefined): void => { if (b?.from === 'step') deps.add(b.step) }
  Object.values(step.args).forEach(add)
  add(step.over)
  if (step.parent != null) deps.add(step.parent)
  return [...deps]
}

/** A step's owners (parent, its parent, ...), innermost first; stops at a parent cycle. */
function ownersOf (steps: Record<string, Step>, id: string): string[] {
  const out: string[] = []
  for (let p = steps[id]?.parent; p != null && !out.includes(p) && p !== id; p = steps[p]?.parent) out.push(p)
  return out
}

/**
 * The scheduler starts an owner's inside only once the owner runs, so an
 * owner (branch, loop) also waits for every step outside it that a step
 * inside it waits for (the rule of dsl.ts `ownerAfter`). Without these edges
 * `L{B}`, `B after X`, `X after L` looks acyclic but never finishes.
 */
function ownerEdges (steps: Record<string, Step>): Map<string, Set<string>> {
  const extra = new Map<string, Set<string>>()
  const selfAndOwners = new Map<string, Set<string>>()
  const around = (id: string): Set<string> => {
    let set = selfAndOwners.get(id)
    if (set == null) { set = new Set([id, ...ownersOf(steps, id)]); selfAndOwners.set(id, set) }
    return set
  }
  for (const s of Object.values(steps)) {
    if (s.parent == null) continue
    const owners = ownersOf(steps, s.id)
    for (const d of dependencies(s)) {
      if (steps[d] == null) continue
      const containsD = around(d)
      for (const o of owners) {
        if (containsD.has(o)) break // this owner and every outer one contain d
        let set = extra.get(o)
        if (set == null) { set = new Set(); extra.set(o, set) }
        set.add(d)
      }
    }
  }
  return extra
}

/** Throws DagCycleError naming one cycle (`a → b → a`) if the steps have one. */
function checkAcyclic (steps: Record<string, Step>): void {
  const extra = ownerEdges(steps)
  const edges = (s: Step): string[] => [...new Set([...dependencies(s), ...(extra.get(s.id) ?? [])])]
  const state = new Map<string, 1 | 2>() // 1 = on the path, 2 = done
  for (const root of Object.keys(steps)) {
    if (state.has(root)) continue
    // iterative DFS: hostile DAGs may be long chains, deeper than the JS stack
    const path: string[] = [root]
    const pending: string[][] = [edges(steps[root])]
    state.set(root, 1)
    while (path.length > 0) {
      const deps = pending[pending.length - 1]
      const dep = deps.pop()
      if (dep == null) {
        state.set(path.pop()!, 2)
        pending.pop()
        continue
      }
      const st = state.get(dep)
      if (st === 1) {
        const cycle = [...path.slice(path.indexOf(dep)), dep].reverse()
        throw new DagCycleError(`the steps form a cycle: ${cycle.join(' → ')}`, { cycle })
      }
      if (st == null) {
        state.set(dep, 1)
        path.push(dep)
        pending.push(edges(steps[dep]))
      }
    }
  }
}

/**
 * Throws an InvalidDagError-family error unless `dag` is a well-formed,
 * acyclic Task DAG whose every reference resolves.
 * @example validateDag(compileDsl(text)) // returns nothing when valid
 */
export function validateDag (dag: TaskDag): void {
  checkShape(dag)
  const ids = Object.keys(dag.steps)
  if (ids.length === 0) bad(`DAG '${dag.name}' has no steps`)
  const seen = new Set<string>()
  for (const key of ids) {
    const s = dag.steps[key]
    if (typeof s.id !== 'string') bad(`step '${key}' has no id`)
    if (seen.has(s.id)) throw new DuplicateStepError(`two steps have the id '${s.id}'`, { id: s.id })
    seen.add(s.id)
    if (s.id !== key) bad(`step '${key}' has the id '${s.id}': ids must match their keys`, { key, id: s.id })
  }
  const has = (id: string): boolean => Object.prototype.hasOwnProperty.call(dag.steps, id)
  const names = new Set<string>([...Object.keys(dag.inputs), ...ids])
  for (const s of Object.values(dag.steps)) {
    if (s.as == null) continue
    if (names.has(s.as)) throw new DuplicateStepError(`step '${s.id}' names its output '${s.as}', already an input, a step id or another step's name`, { step: s.id, as: s.as })
    names.add(s.as)
  }
  const dangling = (where: string, what: string, ref: string): never => {
    throw new DanglingReferenceError(`${where}: ${what} '${ref}' does not exist`, { where, ref })
  }
  const checkBinding = (s: Step, b: Binding, where: string): void => {
    if (b.from === 'input' && !Object.prototype.hasOwnProperty.call(dag.inputs, b.name)) dangling(where, 'input', b.name)
    if (b.from === 'step') {
      if (!has(b.step)) dangling(where, 'step', b.step)
      if (b.step === s.id) bad(`${where}: a step cannot take its own output`)
    }
    if (b.from === 'item' && (b.step !== s.id || s.kind !== 'map')) bad(`${where}: an item binding belongs to its own map step, not '${b.step}'`)
  }
  for (const s of Object.values(dag.steps)) {
    const where = `step '${s.id}'`
    for (const a of s.after) {
      if (!has(a)) dangling(where, 'after names step', a)
      if (a === s.id) throw new DagCycleError(`${where} waits for itself`, { cycle: [s.id, s.id] })
      if (a === s.parent) bad(`${where} waits for its owner '${a}': the owner runs it, so it must not wait for it`)
    }
    for (const [name, b] of Object.entries(s.args)) checkBinding(s, b, `${where} arg '${name}'`)
    if (s.over != null) {
      if (s.over.from === 'item') bad(`${where}: a map cannot fan out over its own item`)
      checkBinding(s, s.over, `${where} over`)
    }
    for (const e of [s.condition, s.until]) {
      if (e == null) continue
      for (const root of exprRoots(e)) if (!names.has(root)) dangling(where, 'expression names', root)
    }
    if (s.parent != null) {
      if (!has(s.parent)) dangling(where, 'parent', s.parent)
      const owner = dag.steps[s.parent]
      const listed = [...(owner.then ?? []), ...(owner.else ?? []), ...(owner.body ?? [])]
      if (!listed.includes(s.id)) bad(`${where} names '${s.parent}' as its parent, which does not list it in then/else/body`)
    }
    const owned = [...(s.then ?? []), ...(s.else ?? []), ...(s.body ?? [])]
    if (owned.length > 0 && s.kind !== 'branch' && s.kind !== 'loop') bad(`${where}: only branch and loop steps own then/else/body`)
    if (new Set(owned).size !== owned.length) bad(`${where} lists a step twice in then/else/body`)
    for (const c of owned) {
      if (!has(c)) dangling(where, 'then/else/body names step', c)
      if (dag.steps[c].parent !== s.id) bad(`${where} lists '${c}', whose parent is ${show(dag.steps[c].parent ?? null)}, not '${s.id}'`)
    }
    if (s.kind === 'loop') {
      if (typeof s.max !== 'number' || !Number.isInteger(s.max) || s.max < 1 || s.max > MAX_LOOP_ITERATIONS) {
        throw new LoopBoundError(`${where}: loop max must be an integer from 1 to ${MAX_LOOP_ITERATIONS}, got ${show(s.max ?? null)}`, { step: s.id, max: s.max ?? null })
      }
    }
    for (const k of LIMIT_KEYS) checkLimit(where, `limits.${k}`, s.limits[k])
  }
  checkLimit('constraints', 'deadline_ms', dag.constraints.deadline_ms)
  for (const o of dag.outputs) if (!has(o)) dangling('outputs', 'step', o)
  if (new Set(dag.outputs).size !== dag.outputs.length) bad('outputs lists a step twice')
  if (dag.mode === 'router') {
    if (dag.router == null) bad('a router-mode DAG needs router {step, max_iterations}')
    if (!has(dag.router.step)) dangling('router', 'step', dag.router.step)
    const n = dag.router.max_iterations
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_ROUTER_ITERATIONS) {
      throw new LoopBoundError(`router max_iterations must be an integer from 1 to ${MAX_ROUTER_ITERATIONS}, got ${show(n ?? null)}`, { max_iterations: n ?? null })
    }
  } else if (dag.router != null) bad('only router-mode DAGs have a router')
  checkAcyclic(dag.steps)
}

/**
 * Step ids in an order where every step comes after its dependencies
 * (depth-first post-order, visiting steps in key order). The DAG must be
 * valid. Used to restore the IR's "insertion order is a topological order"
 * after dag-json, whose canonical form sorts keys.
 */
export function topologicalOrder (steps: Record<string, Step>): string[] {
  const done = new Set<string>()
  const out: string[] = []
  for (const root of Object.keys(steps)) {
    if (done.has(root)) continue
    const stack: Array<{ id: string, deps: string[] }> = [{ id: root, deps: dependencies(steps[root]).reverse() }]
    done.add(root)
    while (stack.length > 0) {
      const top = stack[stack.length - 1]
      const dep = top.deps.pop()
      if (dep == null) { out.push(top.id); stack.pop(); continue }
      if (done.has(dep)) continue
      done.add(dep)
      stack.push({ id: dep, deps: dependencies(steps[dep]).reverse() })
    }
  }
  return out
}
