/**
 * DSL → Spec: a plan (or a stabilised pattern of one) becomes a versioned
 * capability spec, the way `pl spec stub` goes the other way. The derived
 * spec is an ordinary capability spec (`x-pl-capability`, `#/properties/input`,
 * `#/properties/output`), so it compiles, has a CID and can be published as a
 * composite capability implemented by the plan.
 *
 * - input: an object with one property per input the plan declares; each
 *   property's schema comes from the first step that consumes it — the
 *   capability's input property of the argument it is bound to, or an array
 *   of those when a `map` fans out over the input. Inputs with a value in the
 *   plan are optional (the value is their default).
 * - output: the sink step's output schema (an array of it when the sink is a
 *   `map`); several sinks give an object keyed by step id.
 * - constraints, policies, the plan's CID and its steps are kept as the
 *   `x-pl-composite` annotation.
 *
 * Capability io schemas come from descriptor files (Capability.v1 YAML/JSON,
 * inline io schemas) and capability spec files; a step whose capability has
 * no io schema there is refused with FromPlanError.
 *
 * @example
 * const spec = specFromPlan(dag, [summarizeDescriptor, ...], { name: 'DocSummary', version: '1.0.0' })
 */
import type { Json } from '../../core/encoding.js'
import type { Binding, Step, TaskDag } from '../../workflow/index.js'
import { CAPABILITY_KEYWORD } from './capability.js'
import { FromPlanError } from './errors.js'

/** A capability's io as found in a descriptor or a spec file, with the `$defs` its schemas refer to. */
export interface CapabilityIo {
  name: string
  version?: string
  input: Json
  output: Json
  /** `$defs` of the spec file the schemas come from (their `#/$defs/...` refs point into it) */
  defs?: Record<string, Json>
  /** where it was read (for messages) */
  origin: string
}

export interface FromPlanOptions {
  name: string
  version: string
  description?: string
}

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/
const DEF_NAME = /[^A-Za-z0-9_]/g
const MAX_DEPTH = 64

function isObj (v: unknown): v is Record<string, Json> {
  return v != null && typeof v === 'object' && !Array.isArray(v)
}

/** The io of a Capability.v1 descriptor (inline schemas only; a schema CID cannot be read here), or of a capability spec. */
export function ioOfDescriptor (doc: unknown, origin: string): CapabilityIo {
  if (isObj(doc) && isObj(doc[CAPABILITY_KEYWORD])) return ioOfSpec(doc, origin)
  if (!isObj(doc) || typeof doc.name !== 'string') throw new FromPlanError(`${origin}: neither a capability descriptor (no name) nor a capability spec (no ${CAPABILITY_KEYWORD})`, { origin })
  const io = doc.io
  if (!isObj(io)) throw new FromPlanError(`${origin}: capability ${doc.name} has no io schemas`, { origin, capability: doc.name })
  for (const side of ['input', 'output'] as const) {
    if (typeof io[side] === 'string') {
      throw new FromPlanError(`${origin}: capability ${doc.name} names its ${side} schema by CID (${String(io[side])}); give the capability spec file that defines it instead`, { origin, capability: doc.name })
    }
    if (!isObj(io[side])) throw new FromPlanError(`${origin}: capability ${doc.name} has no ${side} schema`, { origin, capability: doc.name })
  }
  return { name: doc.name, ...(typeof doc.version === 'string' ? { version: doc.version } : {}), input: io.input, output: io.output, origin }
}

/** The io of a capability spec file (`x-pl-capability`, `properties.input/output`). */
export function ioOfSpec (doc: Record<string, Json>, origin: string): CapabilityIo {
  const cap = doc[CAPABILITY_KEYWORD] as Record<string, Json>
  const props = doc.properties
  if (typeof cap?.name !== 'string' || !isObj(props) || !isObj(props.input) || !isObj(props.output)) {
    throw new FromPlanError(`${origin}: a capability spec needs ${CAPABILITY_KEYWORD}.name and properties.input/output`, { origin })
  }
  return {
    name: cap.name,
    ...(typeof cap.version === 'string' ? { version: cap.version } : {}),
    input: props.input,
    output: props.output,
    ...(isObj(doc.$defs) ? { defs: doc.$defs } : {}),
    origin
  }
}

/** Copies a schema, rewriting `#/$defs/X` refs to `#/$defs/<prefix>X` and collecting the defs it reaches. */
class DefCopier {
  readonly defs: Record<string, Json> = {}

  constructor (private readonly io: CapabilityIo, private readonly prefix: string) {}

  copy (node: Json, depth = 0): Json {
    if (depth > MAX_DEPTH) throw new FromPlanError(`${this.io.origin}: schema of ${this.io.name} nests deeper than ${MAX_DEPTH} levels`, { capability: this.io.name })
    if (Array.isArray(node)) return node.map(n => this.copy(n, depth + 1))
    if (!isObj(node)) return node
    const out: Record<string, Json> = {}
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out[k] = this.ref(v, depth)
      else if (k === '$defs' || k === '$id' || k === '$schema') continue
      else out[k] = this.copy(v, depth + 1)
    }
    return out
  }

  private ref (ref: string, depth: number): string {
    const m = /^#\/\$defs\/([^/]+)$/.exec(ref)
    if (m == null) {
      if (ref.startsWith('#')) throw new FromPlanError(`${this.io.origin}: ${this.io.name} uses the $ref ${ref}, only #/$defs/<name> refs can be carried into a derived spec`, { capability: this.io.name, ref })
      return ref // cid:… and pl:… refs resolve by themselves
    }
    const name = decodeURIComponent(m[1])
    const target = `${this.prefix}${name.replace(DEF_NAME, '_')}`
    if (!(target in this.defs)) {
      const def = this.io.defs?.[name]
      if (def === undefined) throw new FromPlanError(`${this.io.origin}: ${this.io.name} refers to #/$defs/${name}, which the file does not define`, { capability: this.io.name, ref })
      this.defs[target] = true // placeholder against cycles
      this.defs[target] = this.copy(def, depth + 1)
    }
    return `#/$defs/${target}`
  }
}

/** Follows one level of local `$ref` to read an object schema's properties. */
function propertiesOf (io: CapabilityIo, schema: Json): { props: Record<string, Json>, closed: boolean } | undefined {
  let s = schema
  for (let i = 0; i < 8 && isObj(s) && typeof s.$ref === 'string'; i++) {
    const m = /^#\/\$defs\/([^/]+)$/.exec(s.$ref)
    s = m != null ? io.defs?.[decodeURIComponent(m[1])] ?? null : null
  }
  if (!isObj(s) || !isObj(s.properties)) return undefined
  return { props: s.properties, closed: s.additionalProperties === false }
}

function capabilityStep (step: Step): step is Step & { capability: NonNullable<Step['capability']> } {
  return step.capability != null && !['branch', 'loop', 'human'].includes(step.kind)
}

/** The derived capability spec of a compiled plan. */
export function specFromPlan (dag: TaskDag, ios: CapabilityIo[], options: FromPlanOptions): Record<string, Json> {
  if (!NAME.test(options.name)) throw new FromPlanError(`--name ${JSON.stringify(options.name)} is not a capability name (letters, digits, _ . -; starting with a letter)`, { name: options.name })
  if (options.version === '' || options.version.length > 64) throw new FromPlanError('--version must be a non-empty string of at most 64 characters', { version: options.version })
  if (dag.mode === 'router') throw new FromPlanError(`plan ${dag.name} runs in router mode: its output depends on run-time routing, so no output schema can be derived`, { plan: dag.name })
  const byName = new Map<string, CapabilityIo>()
  for (const io of ios) {
    const key = `${io.name}@${io.version ?? ''}`
    if (!byName.has(io.name)) byName.set(io.name, io)
    byName.set(key, io)
  }
  const defs: Record<string, Json> = {}
  const copiers = new Map<CapabilityIo, DefCopier>()
  const ioFor = (step: Step): CapabilityIo => {
    const cap = step.capability
    if (cap == null) throw new FromPlanError(`step ${step.id} (${step.kind}) calls no capability`, { step: step.id })
    const io = (cap.version != null ? byName.get(`${cap.name}@${cap.version}`) : undefined) ?? byName.get(cap.name)
    if (io == null) {
      throw new FromPlanError(`step ${step.id}: no io schema for capability ${cap.name}${cap.version != null ? `@${cap.version}` : ''}: give its descriptor or spec file with --cap`, { step: step.id, capability: cap.name })
    }
    return io
  }
  const copy = (io: CapabilityIo, schema: Json): Json => {
    let c = copiers.get(io)
    if (c == null) {
      c = new DefCopier(io, `${io.name.replace(DEF_NAME, '_')}_`)
      copiers.set(io, c)
    }
    const out = c.copy(schema)
    Object.assign(defs, c.defs)
    return out
  }

  const steps = Object.values(dag.steps)
  // every capability step must have an io schema, not only those that shape the io
  for (const step of steps) if (capabilityStep(step)) ioFor(step)

  // input: one property per declared input, typed by its first consumer
  const inputProps: Record<string, Json> = {}
  const required: string[] = []
  for (const name of Object.keys(dag.inputs)) {
    inputProps[name] = inputSchema(name) ?? { description: `plan input ${name} (no step's io schema types it)` }
  }
  function bindsInput (b: Binding | undefined, name: string): boolean {
    return b?.from === 'input' && b.name === name && (b.path == null || b.path.length === 0)
  }
  function inputSchema (name: string): Json | undefined {
    for (const step of steps) {
      if (!capabilityStep(step)) continue
      const io = ioFor(step)
      const shape = propertiesOf(io, io.input)
      for (const [arg, b] of Object.entries(step.args)) {
        const fanned = step.kind === 'map' && b.from === 'item' && bindsInput(step.over, name)
        if (!fanned && !bindsInput(b, name)) continue
        const prop = shape?.props[arg]
        if (prop === undefined) {
          if (shape?.closed === true) throw new FromPlanError(`step ${step.id} binds input ${name} to argument ${arg}, which capability ${io.name} does not take (${io.origin})`, { step: step.id, capability: io.name, arg })
          return fanned ? { type: 'array' } : undefined
        }
        const s = copy(io, prop)
        return fanned ? { type: 'array', items: s } : s
      }
    }
    return undefined
  }
  for (const [name, value] of Object.entries(dag.inputs)) {
    if (value == null) required.push(name)
  }

  // output: the sink(s)
  const outputOf = (id: string): Json => {
    const step = dag.steps[id]
    if (step == null || !capabilityStep(step)) throw new FromPlanError(`plan output ${id} is not a capability step, so its output schema cannot be derived`, { step: id })
    const io = ioFor(step)
    const s = copy(io, io.output)
    return step.kind === 'map' ? { type: 'array', items: s } : s
  }
  const output: Json = dag.outputs.length === 1
    ? outputOf(dag.outputs[0])
    : { type: 'object', additionalProperties: false, required: [...dag.outputs], properties: Object.fromEntries(dag.outputs.map(id => [id, outputOf(id)])) }

  const base = options.name.replace(DEF_NAME, '_')
  const major = options.version.split('.')[0]
  const composite: Record<string, Json> = {
    goal: dag.name,
    steps: steps.filter(capabilityStep).map(s => ({ id: s.id, kind: s.kind, capability: s.capability.name, ...(s.capability.version != null ? { version: s.capability.version } : {}) })),
    constraints: dag.constraints as Record<string, Json>,
    policies: [...dag.policies]
  }
  if (dag.source.cid != null) composite.plan = dag.source.cid
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `pl:cap:${options.name}.v${major}`,
    title: `${options.name}.v${major}`,
    description: options.description ?? `Composite capability implemented by the plan ${dag.name}.`,
    [CAPABILITY_KEYWORD]: { name: options.name, version: options.version },
    'x-pl-composite': composite,
    type: 'object',
    additionalProperties: false,
    required: ['input', 'output'],
    properties: { input: { $ref: `#/$defs/${base}Input` }, output: { $ref: `#/$defs/${base}Output` } },
    $defs: {
      ...defs,
      [`${base}Input`]: { description: `Inputs of ${dag.name}.`, type: 'object', additionalProperties: false, required, properties: inputProps },
      [`${base}Output`]: isObj(output) ? { description: `Output of ${dag.name}.`, ...output } : output
    }
  }
}
