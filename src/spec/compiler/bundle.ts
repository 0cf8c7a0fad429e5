/**
 * A bundle is the closed set of schema documents one compilation needs: the
 * documents the user named, plus everything their `$ref`s reach. Refs may
 * point inside the document (`#/$defs/X`), at another document's `$id`
 * (`pl:Receipt.v1`), or at a document's CID (`cid:<CID>` or a bare CID,
 * optionally with a `#/pointer`); CIDs resolve from the bundle, then each
 * source in order (folders, the local store, protocols/schemas).
 *
 * @example
 * const bundle = await buildBundle(await readSchemaPath('protocols/schemas'), { sources: [protocolSource()] })
 * bundle.docs.map(d => d.key) // ['pl:AdvertiseCapability.v1', ...]
 */
import { parseCid } from '../../core/encoding.js'
import { DuplicateSchemaIdError, UnresolvedRefError } from './errors.js'
import { checkSubset, escapePointer } from './subset.js'
import { describeSchema, schemaCid, type LoadedSchema, type SchemaDocument, type SchemaSource } from './sources.js'
import { forEachSubschema, mapSubschemas, unescapePointer } from './walk.js'

export interface BundleDoc {
  /** the document's `$id`, or `cid:<CID>` when it has none */
  key: string
  cid: string
  doc: SchemaDocument
  file?: string
  /** named by the user, not only reached through a $ref */
  input: boolean
  /** where it came from, for messages */
  origin: string
  /** JSON pointer ('' = root) → subschema, for every schema position */
  positions: Map<string, unknown>
}

export interface RefTarget {
  doc: BundleDoc
  /** JSON pointer inside `doc` ('' = root), normalized */
  pointer: string
}

export type ParsedRef =
  | { kind: 'local', pointer: string }
  | { kind: 'id', id: string, pointer: string }
  | { kind: 'cid', cid: string, pointer: string }

const BARE_CID = /^(b[a-z2-7]{20,}|Qm[1-9A-HJ-NP-Za-km-z]{44})$/

/** Normalizes a `#fragment` pointer: URI-decoded, then re-escaped token by token. */
function normalizePointer (fragment: string, ref: string): string {
  if (fragment === '' || fragment === '/') return fragment === '/' ? '/' : ''
  if (!fragment.startsWith('/')) throw new UnresolvedRefError(`$ref "${ref}": only JSON pointer fragments (#/...) are supported, not anchors`, { ref })
  const decode = (t: string): string => {
    try {
      return decodeURIComponent(t)
    } catch {
      throw new UnresolvedRefError(`$ref "${ref}": the fragment has malformed percent-encoding`, { ref })
    }
  }
  return '/' + fragment.slice(1).split('/').map(t => escapePointer(unescapePointer(decode(t)))).join('/')
}

/**
 * A JSON pointer as a URI fragment (RFC 6901 §6): what a fragment may not
 * hold raw is percent-encoded, so `percent%field` is written `percent%25field`
 * and ajv, which URI-decodes fragments, reads the pointer back unchanged.
 */
export function pointerFragment (pointer: string): string {
  return pointer.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/]/gu, c => encodeURIComponent(c))
}

export function parseRef (ref: string): ParsedRef {
  const hash = ref.indexOf('#')
  const base = hash < 0 ? ref : ref.slice(0, hash)
  const pointer = normalizePointer(hash < 0 ? '' : ref.slice(hash + 1), ref)
  if (base === '') return { kind: 'local', pointer }
  const cidText = base.startsWith('cid:') ? base.slice(4) : BARE_CID.test(base) ? base : undefined
  if (cidText != null) {
    let cid: string
    try {
      cid = parseCid(cidText).toV1().toString()
    } catch {
      throw new UnresolvedRefError(`$ref "${ref}": "${cidText}" is not a CID`, { ref })
    }
    return { kind: 'cid', cid, pointer }
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(base)) return { kind: 'id', id: base, pointer }
  throw new UnresolvedRefError(`$ref "${ref}": relative references are not supported; use "#/$defs/...", a schema $id, or "cid:<CID>"`, { ref })
}

function positionsOf (doc: SchemaDocument): Map<string, unknown> {
  const out = new Map<string, unknown>()
  forEachSubschema(doc, '', (s, p) => { out.set(p, s) })
  // boolean subschemas are schema positions too
  forEachSubschema(doc, '', (s, p) => {
    for (const k of ['additionalProperties', 'items', 'not']) if (typeof s[k] === 'boolean') out.set(`${p}/${k}`, s[k])
    for (const k of ['properties', '$defs']) {
      const m = s[k]
      if (m != null && typeof m === 'object') for (const [n, v] of Object.entries(m)) if (typeof v === 'boolean') out.set(`${p}/${k}/${escapePointer(n)}`, v)
    }
    for (const k of ['prefixItems', 'allOf', 'anyOf', 'oneOf']) {
      const l = s[k]
      if (Array.isArray(l)) l.forEach((v, i) => { if (typeof v === 'boolean') out.set(`${p}/${k}/${i}`, v) })
    }
  })
  return out
}

export class Bundle {
  readonly docs: BundleDoc[] = []
  private readonly byKey = new Map<string, BundleDoc>()
  private readonly byCid = new Map<string, BundleDoc>()
  private readonly byId = new Map<string, BundleDoc>()
  /** `${docKey}\n${ref}` → target */
  private readonly refs = new Map<string, RefTarget>()

  get (key: string): BundleDoc | undefined {
    return this.byKey.get(key)
  }

  findById (id: string): BundleDoc | undefined {
    return this.byId.get(id)
  }

  findByCid (cid: string): BundleDoc | undefined {
    return this.byCid.get(cid)
  }

  /** Adds a document (idempotent by CID); refuses a second document with the same $id. */
  add (loaded: LoadedSchema, input: boolean, origin: string): BundleDoc {
    const cid = schemaCid(loaded.doc)
    const existing = this.byCid.get(cid)
    if (existing != null) {
      if (input) existing.input = true
      return existing
    }
    checkSubset(loaded.doc, describeSchema(loaded))
    const id = typeof loaded.doc.$id === 'string' ? loaded.doc.$id : undefined
    if (id != null) {
      const other = this.byId.get(id)
      if (other != null) {
        throw new DuplicateSchemaIdError(`two different schemas claim $id "${id}": ${other.origin} (${other.cid}) and ${origin} (${cid})`, { id, cids: [other.cid, cid] })
      }
    }
    const doc: BundleDoc = { key: id ?? `cid:${cid}`, cid, doc: loaded.doc, file: loaded.file, input, origin, positions: positionsOf(loaded.doc) }
    this.docs.push(doc)
    this.byKey.set(doc.key, doc)
    this.byCid.set(cid, doc)
    if (id != null) this.byId.set(id, doc)
    return doc
  }

  setRef (from: BundleDoc, ref: string, target: RefTarget): void {
    this.refs.set(`${from.key}\n${ref}`, target)
  }

  /** The target of a `$ref` written in `from` (resolved while building). */
  resolve (from: BundleDoc, ref: string): RefTarget {
    const t = this.refs.get(`${from.key}\n${ref}`)
    if (t == null) throw new UnresolvedRefError(`$ref "${ref}" in ${from.origin} was not resolved`, { ref })
    return t
  }

  /** Documents as ajv must see them: `$id` set to the bundle key, CID refs rewritten to keys. */
  ajvDocuments (): SchemaDocument[] {
    return this.docs.map(d => {
      const rewritten = mapSubschemas(d.doc, (s) => {
        if (typeof s.$ref !== 'string') return s
        const t = this.resolve(d, s.$ref)
        return { ...s, $ref: t.doc === d ? `#${pointerFragment(t.pointer)}` : `${t.doc.key}${t.pointer === '' ? '' : '#' + pointerFragment(t.pointer)}` }
      }) as SchemaDocument
      return { ...rewritten, $id: d.key }
    })
  }
}

export interface BundleOptions {
  /** consulted in order for `$id` and CID refs the bundle itself does not hold */
  sources?: SchemaSource[]
  /** `$id`s to add even when nothing refers to them (e.g. pl:SignedReceipt.v1 for receipt checkers) */
  include?: string[]
}

async function findInSources (sources: SchemaSource[], what: { id?: string, cid?: string }): Promise<{ loaded: LoadedSchema, source: SchemaSource } | undefined> {
  for (const source of sources) {
    const loaded = what.cid != null ? await source.byCid(what.cid) : await source.byId(what.id as string)
    if (loaded != null) return { loaded, source }
  }
  return undefined
}

/** Loads every document reachable from `inputs` and resolves every `$ref`. */
export async function buildBundle (inputs: LoadedSchema[], options: BundleOptions = {}): Promise<Bundle> {
  const sources = options.sources ?? []
  const bundle = new Bundle()
  for (const s of inputs) {
    const doc = bundle.add(s, true, s.file ?? describeSchema(s))
    // an input must not silently shadow a different document with its $id (e.g. a changed copy of pl:Bid.v1)
    if (typeof s.doc.$id !== 'string') continue
    for (const source of sources) {
      const other = await source.byId(s.doc.$id)
      if (other != null && schemaCid(other.doc) !== doc.cid) {
        throw new DuplicateSchemaIdError(`two different schemas claim $id "${s.doc.$id}": ${doc.origin} (${doc.cid}) and ${source.name}: ${describeSchema(other)} (${schemaCid(other.doc)})`, { id: s.doc.$id, cids: [doc.cid, schemaCid(other.doc)] })
      }
    }
  }
  for (const id of options.include ?? []) {
    if (bundle.findById(id) != null) continue
    const found = await findInSources(sources, { id })
    if (found == null) throw new UnresolvedRefError(`schema "${id}" not found in ${sources.map(s => s.name).join(', ') || 'any source'}`, { ref: id })
    bundle.add(found.loaded, false, `${found.source.name}: ${describeSchema(found.loaded)}`)
  }
  for (let i = 0; i < bundle.docs.length; i++) {
    const from = bundle.docs[i]
    const refs: Array<{ ref: string, pointer: string }> = []
    forEachSubschema(from.doc, '#', (s, pointer) => { if (typeof s.$ref === 'string') refs.push({ ref: s.$ref, pointer }) })
    for (const { ref, pointer } of refs) {
      const where = `${from.origin} at ${pointer}/$ref`
      let parsed: ParsedRef
      try {
        parsed = parseRef(ref)
      } catch (err) {
        if (err instanceof UnresolvedRefError) throw new UnresolvedRefError(`${err.message} (${where})`, { ...err.details, at: where })
        throw err
      }
      let target: BundleDoc | undefined
      if (parsed.kind === 'local') {
        target = from
      } else {
        target = parsed.kind === 'cid' ? bundle.findByCid(parsed.cid) : bundle.findById(parsed.id)
        if (target == null) {
          const found = await findInSources(sources, parsed.kind === 'cid' ? { cid: parsed.cid } : { id: parsed.id })
          if (found == null) {
            const what = parsed.kind === 'cid' ? `no schema with CID ${parsed.cid}` : `no schema with $id "${parsed.id}"`
            throw new UnresolvedRefError(`$ref "${ref}" (${where}): ${what} in the bundle or in ${sources.map(s => s.name).join(', ') || 'any source'}`, { ref, at: where })
          }
          target = bundle.add(found.loaded, false, `${found.source.name}: ${describeSchema(found.loaded)}`)
        }
      }
      if (!target.positions.has(parsed.pointer)) {
        throw new UnresolvedRefError(`$ref "${ref}" (${where}): ${target.origin} has no schema at #${parsed.pointer}`, { ref, at: where })
      }
      bundle.setRef(from, ref, { doc: target, pointer: parsed.pointer })
    }
  }
  return bundle
}
