/**
 * What every emitter gets: the bundle, its IR and type model, and the list of
 * entry points (one validator/codec per root document, plus the input and
 * output of each capability spec).
 *
 * @example
 * const ctx = createContext(bundle)
 * ctx.entries.map(e => e.label) // ['AdvertiseCapability.v1', ..., 'Summarize.v1#input', 'Summarize.v1#output']
 */
import type { Bundle, BundleDoc } from './bundle.js'
import { buildIr, type Ir, type SchemaNode } from './ir.js'
import { buildTypeModel, pascal, type TypeModel, type TypeRef } from './shapes.js'
import { capabilityOf, INPUT_POINTER, OUTPUT_POINTER, type CapabilityInfo } from './capability.js'

export interface Entry {
  /** the name callers use: the title (`Bid.v1`), or `<title>#input` / `#output` for capability io */
  label: string
  /** PascalCase stem of generated names: `BidV1` → validateBidV1 / validate_bid_v1 / ValidateBidV1 */
  stem: string
  node: SchemaNode
  doc: BundleDoc
  /** the ajv reference of the schema: `<doc key>` or `<doc key>#<pointer>` */
  ajvRef: string
  type: TypeRef
  /** CID of the schema document (root entries only) */
  cid?: string
}

export interface CapabilityEntry {
  info: CapabilityInfo
  specCid: string
  input: Entry
  output: Entry
  /** the input's declared members: a step call's input_data/parameters are mapped onto them */
  inputMembers: string[]
}

/** Declared members of an object schema, following $refs. */
export function membersOf (node: SchemaNode): string[] {
  let n = node
  for (let i = 0; i < 32 && n.properties == null && n.ref != null; i++) n = n.ref
  return (n.properties ?? []).map(p => p.name)
}

export interface CompileOptions {
  /** Python package name @default 'plspec' */
  pyPackage?: string
  /** Go package name (and module path) @default 'plspec' */
  goPackage?: string
}

export interface CompileContext {
  bundle: Bundle
  ir: Ir
  model: TypeModel
  entries: Entry[]
  capabilities: CapabilityEntry[]
  pyPackage: string
  goPackage: string
}

function labelOf (doc: BundleDoc): string {
  return typeof doc.doc.title === 'string' && doc.doc.title !== '' ? doc.doc.title : doc.key
}

export function createContext (bundle: Bundle, options: CompileOptions = {}): CompileContext {
  const ir = buildIr(bundle)
  const model = buildTypeModel(ir)
  const entries: Entry[] = []
  const capabilities: CapabilityEntry[] = []
  const labels = new Set<string>()
  for (const root of ir.roots) {
    let label = labelOf(root.doc)
    if (labels.has(label)) label = root.doc.key
    labels.add(label)
    const stem = model.rootType(root.doc.key).name
    const entry: Entry = { label, stem, node: root.node, doc: root.doc, ajvRef: root.doc.key, type: { kind: 'named', name: stem }, cid: root.doc.cid }
    entries.push(entry)
    const info = capabilityOf(root.doc)
    if (info == null) continue
    const io = (pointer: string, suffix: 'input' | 'output'): Entry => {
      const node = ir.at(root.doc.key, pointer)
      return { label: `${label}#${suffix}`, stem: `${stem}${pascal(suffix)}`, node, doc: root.doc, ajvRef: `${root.doc.key}#${pointer}`, type: model.refOf(node) }
    }
    const input = io(INPUT_POINTER, 'input')
    capabilities.push({ info, specCid: root.doc.cid, input, output: io(OUTPUT_POINTER, 'output'), inputMembers: membersOf(input.node) })
  }
  for (const c of capabilities) entries.push(c.input, c.output)
  return { bundle, ir, model, entries, capabilities, pyPackage: options.pyPackage ?? 'plspec', goPackage: options.goPackage ?? 'plspec' }
}

/** `$id`s every compilation includes: the receipt checker needs them. */
export const RECEIPT_SCHEMA_IDS = ['pl:Receipt.v1', 'pl:SignedReceipt.v1', 'pl:Capability.v1']

export interface ReceiptNames {
  /** entry label of SignedReceipt.v1 / Capability.v1 */
  signedLabel: string
  capabilityLabel: string
  /** type names */
  signedType: string
  receiptType: string
}

/** Where the receipt schemas ended up in this compilation. */
export function receiptNames (ctx: CompileContext): ReceiptNames {
  const find = (id: string): Entry => {
    const e = ctx.entries.find(x => x.doc.key === id && x.ajvRef === id)
    if (e == null) throw new TypeError(`the bundle lacks ${id} (always included by compile)`)
    return e
  }
  const signed = find('pl:SignedReceipt.v1')
  return { signedLabel: signed.label, capabilityLabel: find('pl:Capability.v1').label, signedType: signed.stem, receiptType: find('pl:Receipt.v1').stem }
}
