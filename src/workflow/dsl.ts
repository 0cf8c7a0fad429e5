/**
 * The DSL front end (schema Plan.v1): a YAML plan compiled to a Task DAG.
 *
 *   goal: SummarizeDocument
 *   inputs: { doc: cid:doc-123 }
 *   constraints: { deadline: PT30S, length: "<400w" }
 *   policy: { require: [cid:pol-PII-no-exfil] }
 *   select: { optimize: [readability:0.6, price:0.2] }
 *   plan:
 *     - map: FetchSections(doc)       # fan out over the input list
 *     - map: Summarize(section)       # `section` names nothing: the item, over the previous entry
 *     - reduce: MergeSummaries()      # gets the previous list as `items`
 *     - join: AttachReferences()      # waits for every earlier entry
 *
 * Data flow decides order: a step waits for the steps its arguments name
 * (plus the previous entry for `reduce`/item maps, all earlier ones for
 * `join`). Errors name `file:line:col`.
 */
import { isScalar, type Node, type Pair, type YAMLMap, type YAMLSeq } from 'yaml'
import { cidStringOf, type Json } from '../core/encoding.js'
import type { Binding, Expr, Step, StepLimits, TaskDag } from './ir.js'
import { DslSource } from './dsl-source.js'
import { NAME, readConstraints, readInputs, readPolicy, readSelect } from './dsl-header.js'
import { parseCall, type CallArg } from './call.js'
import { exprRoots, parseExpr } from './expr.js'
import { limitsFromRequirements } from './limits.js'
import { validateDag } from './validate.js'
import { MAX_LOOP_ITERATIONS } from './constants.js'
import {
  CallSyntaxError, DslSchemaError, DuplicateNameError, ExprSyntaxError,
  LoopBoundError, ResourceRequirementError, UnknownReferenceError, UnknownStepKindError
} from './errors.js'

const TOP_KEYS = ['goal', 'inputs', 'constraints', 'policy', 'select', 'plan']
const CALL_KINDS = ['step', 'map', 'reduce', 'join'] as const
const ENTRY_KINDS = [...CALL_KINDS, 'when', 'loop']
/** Deepest nesting of when/loop entries. */
const MAX_NESTING = 16

/** Names visible at a point of the plan: `as` names and step ids → step id. */
class Scope {
  private readonly names = new Map<string, string>()
  constructor (private readonly parent?: Scope) {}
  set (name: string, step: string): void { this.names.set(name, step) }
  get (name: string): string | undefined { return this.names.get(name) ?? this.parent?.get(name) }
  child (): Scope { return new Scope(this) }
}

interface ListContext {
  /** id prefix of the entries of this list */
  prefix: string
  /** owning branch/loop step, for nested lists */
  parent?: string
  scope: Scope
  depth: number
}

class DslCompiler {
  private readonly src: DslSource
  private readonly steps: Record<string, Step> = {}
  private inputs: Record<string, Json> = {}
  /** every name taken: inputs, `as` names, step ids */
  private readonly taken = new Set<string>()

  constructor (text: string, file?: string) {
    this.src = new DslSource(text, file)
  }

  compile (): TaskDag {
    const { src } = this
    const root = src.doc.contents
    if (root == null) this.src.fail(DslSchemaError, null, 'the plan is empty: expected goal and plan')
    const top = src.map(root, 'a plan document')
    const fields = new Map<string, Pair>()
    for (const [key, pair] of src.entries(top)) {
      if (!TOP_KEYS.includes(key)) this.src.fail(DslSchemaError, pair.key as Node, `unknown top-level key '${key}' (expected ${TOP_KEYS.join(', ')})`)
      fields.set(key, pair)
    }
    const goalPair = fields.get('goal')
    if (goalPair == null) this.src.fail(DslSchemaError, top, 'the plan has no goal')
    const goal = src.string(goalPair.value, 'goal', goalPair)
    if (goal.trim() === '') this.src.fail(DslSchemaError, goalPair.value as Node, 'goal must not be empty')
    const planPair = fields.get('plan')
    if (planPair == null) this.src.fail(DslSchemaError, top, 'the plan has no plan list')

    if (fields.has('inputs')) {
      this.inputs = readInputs(src, fields.get('inputs')!)
      for (const name of Object.keys(this.inputs)) this.taken.add(name)
    }
    const constraints = fields.has('constraints') ? readConstraints(src, fields.get('constraints')!) : {}
    const policies = fields.has('policy') ? readPolicy(src, fields.get('policy')!) : []
    const select = fields.has('select') ? readSelect(src, fields.get('select')!) : []

    const plan = src.seq(planPair.value, 'plan', planPair)
    if (plan.items.length === 0) this.src.fail(DslSchemaError, plan, 'plan must list at least one entry')
    const topIds = this.compileList(plan, { prefix: '', scope: new Scope(), depth: 0 })

    const depended = new Set(topIds.flatMap(id => this.steps[id].after))
    let sourceCid: string
    try {
      sourceCid = cidStringOf(src.json(root, 'the plan document'))
    } catch (err) {
      if ((err as Error).name === 'DslSchemaError') throw err
      this.src.fail(DslSchemaError, root, `the plan document cannot be encoded: ${(err as Error).message}`)
    }
    const dag: TaskDag = {
      v: 1,
      name: goal,
      source: { format: 'dsl', cid: sourceCid },
      mode: 'dag',
      inputs: this.inputs,
      constraints,
      policies,
      select,
      globalSettings: {},
      globalParameters: {},
      steps: this.steps,
      outputs: topIds.filter(id => !depended.has(id))
    }
    validateDag(dag)
    return dag
  }

  /** Claims a step id or `as` name, refusing one already taken. */
  private claim (name: string, node: Node | Pair | null | undefined, what: string): void {
    if (this.taken.has(name)) this.src.fail(DuplicateNameError, node, `${what} '${name}' is already used (names of inputs, outputs and steps must be unique)`)
    this.taken.add(name)
  }

  private stepId (prefix: string, index: number, label: string): string {
    const base = `${prefix}${index}-${label.toLowerCase()}`
    let id = base
    for (let n = 2; this.taken.has(id); n++) id = `${base}-${n}`
    return id
  }

  /** Compiles one list of entries; returns the ids of its entries (not of their nested steps). */
  private compileList (list: YAMLSeq, ctx: ListContext): string[] {
    const { src } = this
    if (ctx.depth > MAX_NESTING) this.src.fail(DslSchemaError, list, `when/loop entries nest deeper than ${MAX_NESTING} levels`)
    const ids: string[] = []
    list.items.forEach((raw, index) => {
      const entry = src.map(raw, 'a plan entry', list)
      ids.push(this.compileEntry(entry, index, ids, ctx))
    })
    return ids
  }

  private compileEntry (entry: YAMLMap, index: number, earlier: string[], ctx: ListContext): string {
    const { src } = this
    const pairs = src.entries(entry)
    const kinds = pairs.filter(([k]) => ENTRY_KINDS.includes(k))
    if (kinds.length === 0) {
      const unknown = pairs.find(([k]) => !['as', 'limits', 'then', 'else'].includes(k))
      if (unknown == null) this.src.fail(UnknownStepKindError, entry, `a plan entry needs one of ${ENTRY_KINDS.join(', ')}`, 0, { kind: null })
      this.src.fail(UnknownStepKindError, unknown[1].key as Node, `unknown plan entry kind '${unknown[0]}' (expected one of ${ENTRY_KINDS.join(', ')})`, 0, { kind: unknown[0] })
    }
    if (kinds.length > 1) this.src.fail(DslSchemaError, kinds[1][1].key as Node, `a plan entry has one kind, this one has ${kinds.map(k => k[0]).join(' and ')}`)
    const [kind, kindPair] = kinds[0]
    const allowed = kind === 'when' ? ['as', 'then', 'else'] : kind === 'loop' ? ['as'] : ['as', 'limits']
    const extra = new Map<string, Pair>()
    for (const [k, p] of pairs) {
      if (k === kind) continue
      if (!allowed.includes(k)) {
        if (ENTRY_KINDS.includes(k)) continue
        const hint = (k === 'then' || k === 'else') ? ' (then/else belong to when entries)' : ''
        this.src.fail(DslSchemaError, p.key as Node, `unknown key '${k}' in a ${kind} entry${hint}`)
      }
      extra.set(k, p)
    }
    let as: string | undefined
    const asPair = extra.get('as')
    if (asPair != null) {
      as = src.string(asPair.value, 'as', asPair)
      if (!NAME.test(as)) this.src.fail(DslSchemaError, asPair.value as Node, `as name '${as}' must be a plain name (letters, digits, _)`)
    }
    let id: string
    if (kind === 'when') id = this.compileWhen(kindPair, extra, index, ctx)
    else if (kind === 'loop') id = this.compileLoop(kindPair, index, ctx)
    else id = this.compileCall(kind as typeof CALL_KINDS[number], kindPair, index, earlier, ctx)
    const step = this.steps[id]
    const limitsPair = extra.get('limits')
    if (limitsPair != null) step.limits = this.readLimits(id, limitsPair)
    if (as != null) {
      this.claim(as, asPair!.value as Node, 'the name')
      step.as = as
      ctx.scope.set(as, id)
    }
    return id
  }

  private readLimits (id: string, pair: Pair): StepLimits {
    const { src } = this
    const value = src.json(src.map(pair.value, 'limits', pair), 'limits')
    for (const k of Object.keys(value as object)) {
      if (!['wall_ms', 'cpu_ms', 'mem_mb', 'timeout', 'memory'].includes(k)) this.src.fail(DslSchemaError, pair.value as Node, `unknown limit '${k}' (expected wall_ms, cpu_ms, mem_mb, timeout or memory)`)
    }
    try {
      return limitsFromRequirements(id, value)
    } catch (err) {
      if ((err as Error).name !== 'ResourceRequirementError') throw err
      this.src.fail(ResourceRequirementError, pair.value as Node, (err as Error).message)
    }
  }

  /** Registers a step, claiming its id. */
  private add (step: Step, node: Node | Pair | null | undefined): void {
    this.claim(step.id, node, 'the step id')
    this.steps[step.id] = step
  }

  private resolveRef (arg: Extract<CallArg, { kind: 'ref' }>, ctx: ListContext): Binding | undefined {
    const [head, ...rest] = arg.path
    const path = rest.length > 0 ? { path: rest } : {}
    if (Object.prototype.hasOwnProperty.call(this.inputs, head)) return { from: 'input', name: head, ...path }
    const step = ctx.scope.get(head)
    if (step != null) return { from: 'step', step, ...path }
    return undefined
  }

  private compileCall (kind: typeof CALL_KINDS[number], pair: Pair, index: number, earlier: string[], ctx: ListContext): string {
    const { src } = this
    const valueNode = src.deref(pair.value)
    const text = src.string(valueNode, `a ${kind} call such as Capability(arg)`, pair)
    const base = src.textOffset(valueNode)
    let call
    try {
      call = parseCall(text)
    } catch (err) {
      if ((err as Error).name !== 'CallSyntaxError') throw err
      this.src.fail(CallSyntaxError, valueNode, (err as Error).message, base + Number((err as CallSyntaxError).details.column ?? 0))
    }
    const id = this.stepId(ctx.prefix, index, call.name)
    const prev = earlier.at(-1)
    const args: Record<string, Binding> = {}
    const after = new Set<string>()
    let item: string | undefined
    let over: Binding | undefined
    call.args.forEach((arg, i) => {
      const name = arg.name ?? (arg.kind === 'ref' ? arg.path[arg.path.length - 1] : `arg${i}`)
      if (Object.prototype.hasOwnProperty.call(args, name)) this.src.fail(DuplicateNameError, valueNode, `argument '${name}' is given twice in ${call.name}(...)`, base + arg.at)
      let binding: Binding
      if (arg.kind === 'lit') {
        binding = { from: 'const', value: arg.value }
      } else {
        const found = this.resolveRef(arg, ctx)
        if (found != null) {
          binding = found
        } else if (kind === 'map' && item == null) {
          if (arg.path.length > 1) this.src.fail(DslSchemaError, valueNode, `the map item '${arg.path[0]}' is used whole: '${arg.path.join('.')}' cannot take a path`, base + arg.at)
          if (prev == null) this.src.fail(UnknownReferenceError, valueNode, `'${arg.path[0]}' is not an input or an earlier output, and there is no previous entry for the map to fan out over`, base + arg.at)
          item = arg.path[0]
          binding = { from: 'item', step: id }
          over = { from: 'step', step: prev }
        } else {
          this.src.fail(UnknownReferenceError, valueNode, `'${arg.path[0]}' is not an input or an earlier output${kind === 'map' ? ` (the map item is already '${item ?? ''}')` : ''}`, base + arg.at, { name: arg.path[0] })
        }
      }
      args[name] = binding
    })
    if (kind === 'map' && over == null) {
      const first = call.args.findIndex(a => a.name == null)
      if (first >= 0) {
        // all arguments known: fan out over the first positional one, which becomes the item
        const arg = call.args[first]
        const name = arg.kind === 'ref' ? arg.path[arg.path.length - 1] : `arg${first}`
        over = args[name]
        args[name] = { from: 'item', step: id }
      } else {
        if (prev == null) this.src.fail(DslSchemaError, valueNode, `map: ${call.name}(...) has no argument to fan out over and no previous entry`)
        over = { from: 'step', step: prev }
        args.item = { from: 'item', step: id }
      }
    }
    if (kind === 'reduce' && call.args.length === 0) {
      if (prev == null) this.src.fail(DslSchemaError, valueNode, `reduce: ${call.name}() has no arguments and no previous entry to reduce`)
      args.items = { from: 'step', step: prev }
    }
    if (kind === 'join') {
      if (earlier.length === 0) this.src.fail(DslSchemaError, valueNode, `join: ${call.name}() has no earlier entries to join`)
      for (const e of earlier) {
        const name = this.steps[e].as ?? e
        if (!Object.prototype.hasOwnProperty.call(args, name)) args[name] = { from: 'step', step: e }
        after.add(e)
      }
    }
    for (const b of [...Object.values(args), over]) if (b?.from === 'step') after.add(b.step)
    const step: Step = {
      id,
      kind: kind === 'step' ? 'call' : kind,
      capability: call.version != null ? { name: call.name, version: call.version } : { name: call.name },
      parameters: {},
      settings: {},
      after: [...after],
      args,
      limits: {}
    }
    if (over != null) step.over = over
    if (ctx.parent != null) step.parent = ctx.parent
    this.add(step, pair.key as Node)
    ctx.scope.set(id, id)
    return id
  }

  /** An expression from a scalar (`label.score > 0.8`, or a plain true/false), with its names checked. */
  private readExpr (node: unknown, what: string, at: Pair, scope: Scope): { expr: Expr, deps: string[] } {
    const { src } = this
    const n = src.deref(node)
    if (!isScalar(n) || !['string', 'boolean'].includes(typeof n.value)) this.src.fail(DslSchemaError, n ?? at, `${what} must be an expression such as label.score > 0.8`)
    let expr: Expr
    if (typeof n.value === 'boolean') {
      expr = { op: 'lit', value: n.value }
    } else {
      try {
        expr = parseExpr(n.value as string)
      } catch (err) {
        if ((err as Error).name !== 'ExprSyntaxError') throw err
        const col = Number((err as ExprSyntaxError).details.column ?? 1) - 1
        this.src.fail(ExprSyntaxError, n, `${what}: ${(err as Error).message}`, src.textOffset(n) + col)
      }
    }
    const deps = new Set<string>()
    for (const root of exprRoots(expr)) {
      if (Object.prototype.hasOwnProperty.call(this.inputs, root)) continue
      const step = scope.get(root)
      if (step == null) this.src.fail(UnknownReferenceError, n, `${what} names '${root}', which is not an input or an earlier output`, 0, { name: root })
      deps.add(step)
    }
    return { expr, deps: [...deps] }
  }

  /** Steps under `owner` (recursively). */
  private subtree (owner: string): Set<string> {
    const out = new Set<string>()
    const walk = (id: string): void => {
      const s = this.steps[id]
      for (const c of [...(s.then ?? []), ...(s.else ?? []), ...(s.body ?? [])]) { out.add(c); walk(c) }
    }
    walk(owner)
    return out
  }

  /** What the owner must wait for: its own deps plus every outside step its nested steps wait for. */
  private ownerAfter (owner: string, own: string[]): string[] {
    const inside = this.subtree(owner)
    const after = new Set(own)
    for (const c of inside) for (const d of this.steps[c].after) if (!inside.has(d) && d !== owner) after.add(d)
    return [...after]
  }

  private compileWhen (pair: Pair, extra: Map<string, Pair>, index: number, ctx: ListContext): string {
    const { src } = this
    const { expr, deps } = this.readExpr(pair.value, 'when', pair, ctx.scope)
    const id = this.stepId(ctx.prefix, index, 'when')
    const step: Step = { id, kind: 'branch', parameters: {}, settings: {}, after: [], args: {}, limits: {}, condition: expr, then: [] }
    if (ctx.parent != null) step.parent = ctx.parent
    this.add(step, pair.key as Node)
    const thenPair = extra.get('then')
    if (thenPair == null) this.src.fail(DslSchemaError, pair.key as Node, 'a when entry needs then: [entries]')
    step.then = this.compileList(src.seq(thenPair.value, 'then', thenPair), { prefix: `${id}.then.`, parent: id, scope: ctx.scope.child(), depth: ctx.depth + 1 })
    const elsePair = extra.get('else')
    if (elsePair != null) step.else = this.compileList(src.seq(elsePair.value, 'else', elsePair), { prefix: `${id}.else.`, parent: id, scope: ctx.scope.child(), depth: ctx.depth + 1 })
    step.after = this.ownerAfter(id, deps)
    ctx.scope.set(id, id)
    return id
  }

  private compileLoop (pair: Pair, index: number, ctx: ListContext): string {
    const { src } = this
    const spec = src.map(pair.value, 'loop (max, until, do)', pair)
    const fields = new Map(src.entries(spec))
    for (const [k, p] of fields) if (!['max', 'until', 'do'].includes(k)) this.src.fail(DslSchemaError, p.key as Node, `unknown loop key '${k}' (expected max, until, do)`)
    const maxPair = fields.get('max')
    if (maxPair == null) this.src.fail(LoopBoundError, spec, `a loop needs max (1 to ${MAX_LOOP_ITERATIONS})`)
    const maxNode = src.deref(maxPair.value)
    const max = isScalar(maxNode) ? maxNode.value : undefined
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > MAX_LOOP_ITERATIONS) {
      this.src.fail(LoopBoundError, maxNode ?? maxPair, `loop max must be an integer from 1 to ${MAX_LOOP_ITERATIONS}, got ${JSON.stringify(max ?? null)}`)
    }
    const doPair = fields.get('do')
    if (doPair == null) this.src.fail(DslSchemaError, spec, 'a loop needs do: [entries]')
    const id = this.stepId(ctx.prefix, index, 'loop')
    const step: Step = { id, kind: 'loop', parameters: {}, settings: {}, after: [], args: {}, limits: {}, body: [], max }
    if (ctx.parent != null) step.parent = ctx.parent
    this.add(step, pair.key as Node)
    const bodyScope = ctx.scope.child()
    const doList = src.seq(doPair.value, 'do', doPair)
    if (doList.items.length === 0) this.src.fail(DslSchemaError, doList, 'a loop body (do) needs at least one entry')
    step.body = this.compileList(doList, { prefix: `${id}.do.`, parent: id, scope: bodyScope, depth: ctx.depth + 1 })
    let own: string[] = []
    const untilPair = fields.get('until')
    if (untilPair != null) {
      const { expr, deps } = this.readExpr(untilPair.value, 'until', untilPair, bodyScope)
      step.until = expr
      const inside = this.subtree(id)
      own = deps.filter(d => !inside.has(d))
    }
    step.after = this.ownerAfter(id, own)
    ctx.scope.set(id, id)
    return id
  }
}

/**
 * Compiles DSL text to a validated Task DAG. Errors carry `file:line:col`
 * in the message and `{file, line, col}` in details.
 * @example compileDsl(readFileSync('plan.yaml', 'utf8'), { file: 'plan.yaml' })
 */
export function compileDsl (text: string, options: { file?: string } = {}): TaskDag {
  return new DslCompiler(text, options.file).compile()
}
