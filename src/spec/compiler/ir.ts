/**
 * The compiler's intermediate form: every schema position of a bundle as a
 * `SchemaNode` with its keywords typed and `$ref`s linked to their target
 * node (cycles allowed). The Python and Go validator emitters and every
 * bindings emitter work from this one model, so all languages read a schema
 * the same way.
 *
 * @example
 * const ir = buildIr(bundle)
 * ir.roots[0].node.properties?.[0].name // 'cfp'
 */
import type { Bundle, BundleDoc } from './bundle.js'
import { escapePointer, type JsonType } from './subset.js'
import { translatePattern, type TranslatedPattern } from './pattern.js'
import { RefCycleError } from './errors.js'

export interface PropertyNode {
  name: string
  node: SchemaNode
}

export interface SchemaNode {
  /** index in creation order: names the generated per-node validator functions */
  index: number
  /** `${doc key}#${pointer}` */
  key: string
  doc: BundleDoc
  pointer: string
  /** `true` / `false` schemas */
  bool?: boolean
  types?: JsonType[]
  enum?: unknown[]
  const?: { value: unknown }
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  exclusiveMaximum?: number
  multipleOf?: number
  minLength?: number
  maxLength?: number
  pattern?: TranslatedPattern
  properties?: PropertyNode[]
  required?: string[]
  additionalProperties?: SchemaNode
  minProperties?: number
  maxProperties?: number
  prefixItems?: SchemaNode[]
  items?: SchemaNode
  minItems?: number
  maxItems?: number
  uniqueItems?: boolean
  allOf?: SchemaNode[]
  anyOf?: SchemaNode[]
  oneOf?: SchemaNode[]
  not?: SchemaNode
  ref?: SchemaNode
  /** the `$ref` text as written */
  refText?: string
  title?: string
  description?: string
  /** named `$defs` of this node (root documents only) */
  defs?: Array<{ name: string, node: SchemaNode }>
}

export interface IrDocument {
  doc: BundleDoc
  node: SchemaNode
}

export interface Ir {
  bundle: Bundle
  /** one per bundle document, in bundle order */
  roots: IrDocument[]
  /** every node, by index */
  nodes: SchemaNode[]
  /** node at `${doc key}#${pointer}` */
  at: (docKey: string, pointer: string) => SchemaNode
}

class IrBuilder {
  readonly nodes: SchemaNode[] = []
  private readonly byKey = new Map<string, SchemaNode>()

  constructor (private readonly bundle: Bundle) {}

  node (doc: BundleDoc, pointer: string): SchemaNode {
    const key = `${doc.key}#${pointer}`
    const existing = this.byKey.get(key)
    if (existing != null) return existing
    const raw = doc.positions.get(pointer)
    const n: SchemaNode = { index: this.nodes.length, key, doc, pointer }
    this.nodes.push(n)
    this.byKey.set(key, n)
    if (typeof raw === 'boolean') {
      n.bool = raw
      return n
    }
    const s = raw as Record<string, any>
    const sub = (k: string): SchemaNode => this.node(doc, `${pointer}/${k}`)
    if (typeof s.title === 'string') n.title = s.title
    if (typeof s.description === 'string') n.description = s.description
    if ('type' in s) n.types = Array.isArray(s.type) ? s.type : [s.type]
    if ('enum' in s) n.enum = s.enum
    if ('const' in s) n.const = { value: s.const }
    for (const k of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength', 'minProperties', 'maxProperties', 'minItems', 'maxItems'] as const) {
      if (typeof s[k] === 'number') n[k] = s[k]
    }
    if (typeof s.pattern === 'string') n.pattern = translatePattern(s.pattern, `${doc.origin} #${pointer}/pattern`)
    if (typeof s.uniqueItems === 'boolean') n.uniqueItems = s.uniqueItems
    if (Array.isArray(s.required)) n.required = s.required
    if (s.properties != null) {
      n.properties = Object.keys(s.properties).map(name => ({ name, node: sub(`properties/${escapePointer(name)}`) }))
    }
    if ('additionalProperties' in s) n.additionalProperties = sub('additionalProperties')
    if (Array.isArray(s.prefixItems)) n.prefixItems = s.prefixItems.map((_: unknown, i: number) => sub(`prefixItems/${i}`))
    if ('items' in s) n.items = sub('items')
    for (const k of ['allOf', 'anyOf', 'oneOf'] as const) {
      if (Array.isArray(s[k])) n[k] = s[k].map((_: unknown, i: number) => sub(`${k}/${i}`))
    }
    if ('not' in s) n.not = sub('not')
    if (s.$defs != null) {
      n.defs = Object.keys(s.$defs).map(name => ({ name, node: sub(`$defs/${escapePointer(name)}`) }))
    }
    if (typeof s.$ref === 'string') {
      const t = this.bundle.resolve(doc, s.$ref)
      n.refText = s.$ref
      n.ref = this.node(t.doc, t.pointer)
    }
    return n
  }
}

/** The subschemas a node applies to the same instance (not to a member or an item). */
function sameInstance (n: SchemaNode): SchemaNode[] {
  return [...(n.ref != null ? [n.ref] : []), ...(n.allOf ?? []), ...(n.anyOf ?? []), ...(n.oneOf ?? []), ...(n.not != null ? [n.not] : [])]
}

/** Refuses `$ref` cycles that never descend into the instance: they recurse forever in every validator. */
function checkRefCycles (nodes: SchemaNode[]): void {
  const state = new Map<SchemaNode, 'open' | 'done'>()
  const path: SchemaNode[] = []
  const visit = (n: SchemaNode): void => {
    const s = state.get(n)
    if (s === 'done') return
    if (s === 'open') {
      const cycle = path.slice(path.indexOf(n)).map(x => `${x.doc.key}#${x.pointer}`)
      throw new RefCycleError(`${n.doc.origin}: the $ref cycle ${[...cycle, cycle[0]].map(c => JSON.stringify(c)).join(' -> ')} never descends into a member or an item: validation would recurse forever`, { cycle })
    }
    state.set(n, 'open')
    path.push(n)
    for (const m of sameInstance(n)) visit(m)
    path.pop()
    state.set(n, 'done')
  }
  for (const n of nodes) visit(n)
}

export function buildIr (bundle: Bundle): Ir {
  const b = new IrBuilder(bundle)
  const roots = bundle.docs.map(doc => ({ doc, node: b.node(doc, '') }))
  checkRefCycles(b.nodes)
  return {
    bundle,
    roots,
    nodes: b.nodes,
    at: (docKey, pointer) => {
      const doc = bundle.get(docKey)
      if (doc == null) throw new TypeError(`no document ${docKey} in the bundle`)
      return b.node(doc, pointer)
    }
  }
}
