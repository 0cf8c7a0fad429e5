/**
 * The language-neutral type model the bindings emitters render: named
 * structs (objects with declared properties) and aliases, with `TypeRef`s
 * between them. Names come from `title` (`Bid.v1` → `BidV1`), `$defs` keys,
 * and for anonymous nested objects the path from the nearest named type
 * (`BidV1Limits`, `PlanV1PlanItem`).
 *
 * @example
 * const model = buildTypeModel(ir)
 * model.types.find(t => t.name === 'BidV1')?.fields?.map(f => f.json) // ['cfp', 'run', ...]
 */
import type { Ir, SchemaNode } from './ir.js'

export type TypeRef =
  | { kind: 'any' }
  | { kind: 'never' }
  | { kind: 'null' }
  | { kind: 'boolean' }
  | { kind: 'integer' }
  | { kind: 'number' }
  | { kind: 'string' }
  | { kind: 'literal', values: unknown[] }
  | { kind: 'array', items: TypeRef }
  | { kind: 'map', values: TypeRef }
  | { kind: 'named', name: string }
  | { kind: 'union', options: TypeRef[] }

export interface StructField {
  json: string
  type: TypeRef
  required: boolean
  description?: string
}

export interface NamedType {
  name: string
  node: SchemaNode
  description?: string
  kind: 'struct' | 'alias'
  /** struct members in schema order */
  fields?: StructField[]
  /** struct: other members allowed (additionalProperties not false) */
  open?: boolean
  /** alias: what it stands for */
  alias?: TypeRef
}

export interface TypeModel {
  types: NamedType[]
  /** the named type of a node that has one (roots, $defs, nested structs) */
  typeOfNode: (node: SchemaNode) => NamedType | undefined
  /** the type of any node (named or inline) */
  refOf: (node: SchemaNode) => TypeRef
  /** the named type of a bundle document */
  rootType: (docKey: string) => NamedType
}

/** `Bid.v1` → `BidV1`, `cpu_ms` → `CpuMs`, `x-y z` → `XYZ`. */
export function pascal (text: string): string {
  const parts = text.split(/[^A-Za-z0-9]+/).filter(p => p !== '')
  const out = parts.map(p => p[0].toUpperCase() + p.slice(1)).join('')
  if (out === '') return 'T'
  return /^[0-9]/.test(out) ? `T${out}` : out
}

function isStruct (n: SchemaNode): boolean {
  if (n.properties == null || n.properties.length === 0) return false
  return n.types == null || (n.types.length === 1 && n.types[0] === 'object')
}

function rootName (ir: Ir, index: number): string {
  const d = ir.roots[index].doc
  if (typeof d.doc.title === 'string' && d.doc.title !== '') return pascal(d.doc.title)
  if (typeof d.doc.$id === 'string') return pascal(d.doc.$id.split(/[:/]/).pop() as string)
  if (d.file != null) return pascal((d.file.split('/').pop() as string).replace(/\.json$/, ''))
  return `Schema${d.cid.slice(-8)}`
}

/**
 * Names a generated type must not take: the runtimes' and the fixed generated
 * code's top-level names (Go puts everything in one package; Python's models
 * import typing names), and names whose derived functions would clash
 * (`DagJson` → `encodeDagJson`). A type named like these, or starting with
 * `Encode`/`Decode`/`Validate`, gets a `T` prefix.
 */
export const RESERVED_TYPE_NAMES = new Set([
  // Go runtime and generated package
  'CID', 'CIDOf', 'ParseCID', 'IsReceiptCID', 'Normalize', 'PublicKeyOfPeer', 'EncodeDagJSON', 'DecodeDagJSON', 'EncodeDagCBOR',
  'SpecValidationError', 'SpecDecodeError', 'ReceiptFormatError', 'ReceiptSignatureInvalidError', 'ReceiptMismatchError',
  'SchemaInfo', 'Schemas', 'Encode', 'Decode', 'Validate', 'Validators', 'ErrorOf', 'IsValid', 'CheckReceipt', 'CheckReceiptOptions',
  'CapabilitySpecInfo', 'Capabilities', 'ReceiptDomain', 'ReceiptAcceptDomain', 'SpecInputOf',
  // Python models' imports and Python constants (`None = ...` does not compile)
  'Any', 'Dict', 'List', 'Literal', 'Optional', 'Union', 'JsonNull', 'None', 'True', 'False',
  // TypeScript globals types.ts uses
  'Array', 'Record',
  // stems whose encode/decode functions are runtime names (encodeDagJson, encode_dag_json, EncodeDagCBOR)
  'DagJSON', 'DagJson', 'DagCBOR', 'DagCbor'
])

export function isReservedTypeName (name: string): boolean {
  return RESERVED_TYPE_NAMES.has(name) || /^(Encode|Decode|Validate)/.test(name)
}

class ModelBuilder {
  readonly types: NamedType[] = []
  private readonly taken = new Set<string>()
  private readonly named = new Map<SchemaNode, NamedType>()
  private readonly inline = new Map<SchemaNode, TypeRef>()
  private readonly pending: Array<() => void> = []

  claim (wanted: string): string {
    const want = isReservedTypeName(wanted) ? `T${wanted}` : wanted
    let name = want
    for (let i = 2; this.taken.has(name); i++) name = `${want}${i}`
    this.taken.add(name)
    return name
  }

  /** Reserves a name for a node now; its shape is filled in after all names are known. */
  declare (node: SchemaNode, name: string): NamedType {
    const t: NamedType = { name: this.claim(name), node, kind: isStruct(node) ? 'struct' : 'alias' }
    if (node.description != null) t.description = node.description
    this.named.set(node, t)
    this.types.push(t)
    this.pending.push(() => { this.fill(t) })
    return t
  }

  finish (): void {
    while (this.pending.length > 0) (this.pending.shift() as () => void)()
  }

  get (node: SchemaNode): NamedType | undefined {
    return this.named.get(node)
  }

  private fill (t: NamedType): void {
    const n = t.node
    if (t.kind === 'struct') {
      const required = new Set(n.required ?? [])
      t.fields = (n.properties ?? []).map(p => {
        const f: StructField = { json: p.name, type: this.ref(p.node, `${t.name}${pascal(p.name)}`), required: required.has(p.name) }
        if (p.node.description != null) f.description = p.node.description
        return f
      })
      t.open = n.additionalProperties?.bool !== false
    } else {
      t.alias = this.shape(n, t.name)
    }
  }

  /** The type of a node used somewhere; `hint` names it if it needs a named type. */
  ref (n: SchemaNode, hint: string): TypeRef {
    const named = this.named.get(n)
    if (named != null) return { kind: 'named', name: named.name }
    if (isStruct(n)) return { kind: 'named', name: this.declare(n, hint).name }
    const cached = this.inline.get(n)
    if (cached != null) return cached
    // guard against self-reference through inline nodes
    this.inline.set(n, { kind: 'any' })
    const r = this.shape(n, hint)
    this.inline.set(n, r)
    return r
  }

  /** The structural type of a node, ignoring any name it has. */
  shape (n: SchemaNode, hint: string): TypeRef {
    if (n.bool === false) return { kind: 'never' }
    if (n.bool === true) return { kind: 'any' }
    if (n.ref != null && n.types == null && n.enum == null && n.const == null && n.oneOf == null && n.anyOf == null) return this.ref(n.ref, hint)
    if (n.const != null) return { kind: 'literal', values: [n.const.value] }
    if (n.enum != null) return { kind: 'literal', values: n.enum }
    if (isStruct(n)) return this.ref(n, hint)
    const alts = n.oneOf ?? n.anyOf
    if (alts != null && n.types == null) return simplify({ kind: 'union', options: alts.map((a, i) => this.ref(a, `${hint}Option${i + 1}`)) })
    if (n.allOf != null && n.types == null) {
      const parts = n.allOf.map((a, i) => this.ref(a, `${hint}Part${i + 1}`)).filter(p => p.kind !== 'any')
      return parts.length === 1 ? parts[0] : { kind: 'any' }
    }
    if (n.types == null) return { kind: 'any' }
    const types = n.types.includes('number') ? n.types.filter(t => t !== 'integer') : n.types
    const options = types.map((t): TypeRef => {
      switch (t) {
        case 'array': {
          const elems = [...(n.prefixItems ?? []), ...(n.items != null && n.items.bool !== false ? [n.items] : [])]
          if (elems.length === 0) return { kind: 'array', items: { kind: 'any' } }
          return { kind: 'array', items: simplify({ kind: 'union', options: elems.map((e, i) => this.ref(e, elems.length === 1 ? `${hint}Item` : `${hint}Item${i + 1}`)) }) }
        }
        case 'object': {
          const ap = n.additionalProperties
          if (ap == null || ap.bool === true) return { kind: 'map', values: { kind: 'any' } }
          return { kind: 'map', values: this.ref(ap, `${hint}Value`) }
        }
        default:
          return { kind: t }
      }
    })
    return simplify({ kind: 'union', options })
  }
}

function sameRef (a: TypeRef, b: TypeRef): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

/** Flattens unions, folds string literals into `string` when `string` is present, drops duplicates. */
export function simplify (t: TypeRef): TypeRef {
  if (t.kind !== 'union') return t
  const flat: TypeRef[] = []
  for (const o of t.options) {
    const s = simplify(o)
    for (const x of s.kind === 'union' ? s.options : [s]) if (!flat.some(y => sameRef(x, y))) flat.push(x)
  }
  if (flat.some(o => o.kind === 'any')) return { kind: 'any' }
  const has = (k: string): boolean => flat.some(o => o.kind === k)
  const kept = flat.filter(o => {
    if (o.kind === 'never') return false
    if (o.kind !== 'literal') return true
    return !o.values.every(v => (typeof v === 'string' && has('string')) || (typeof v === 'number' && (has('number') || (has('integer') && Number.isInteger(v)))) || (typeof v === 'boolean' && has('boolean')) || (v === null && has('null')))
  })
  if (kept.length === 0) return { kind: 'never' }
  return kept.length === 1 ? kept[0] : { kind: 'union', options: kept }
}

export function buildTypeModel (ir: Ir): TypeModel {
  const b = new ModelBuilder()
  const rootTypes = new Map<string, NamedType>()
  ir.roots.forEach((r, i) => { rootTypes.set(r.doc.key, b.declare(r.node, rootName(ir, i))) })
  for (const r of ir.roots) {
    const rootTypeName = (rootTypes.get(r.doc.key) as NamedType).name
    for (const d of r.node.defs ?? []) {
      if (b.get(d.node) != null) continue
      const want = pascal(d.name)
      b.declare(d.node, want === rootTypeName ? `${rootTypeName}Def` : want)
    }
  }
  b.finish()
  return {
    types: b.types,
    typeOfNode: (node) => b.get(node),
    refOf: (node) => {
      const r = b.ref(node, `Anon${node.index}`)
      b.finish()
      return r
    },
    rootType: (docKey) => {
      const t = rootTypes.get(docKey)
      if (t == null) throw new TypeError(`no root type for ${docKey}`)
      return t
    }
  }
}
