/**
 * Query matching: name/version, attrs, policies, and the structural io rule.
 *
 * io rule (documented in docs/DISCOVERY.md):
 * - two schemas given as the same CID (or an inline schema whose CID is the
 *   other's CID) match;
 * - otherwise both are resolved to JSON Schema objects and compared:
 *   - **input** (the query describes the data the requester has): every
 *     property in the query's `required` must be a property of the
 *     capability's input schema, and the query's type for it must be accepted
 *     by the capability's type; every property in the capability's `required`
 *     must be provided by the query (in its `properties` or `required`);
 *   - **output** (the query describes what the requester needs): every
 *     property in the query's `required` must be a property of the
 *     capability's output schema, whose type must be accepted by the query's
 *     type;
 *   - types are compatible when either side leaves `type` out, or every type
 *     the data side may have is accepted by the other side (`number` accepts
 *     `integer`); nested objects are compared the same way, down to
 *     MAX_SCHEMA_DEPTH levels.
 */
import { cidStringOf } from '../core/encoding.js'
import { CID_TEXT, MAX_SCHEMA_DEPTH } from './constants.js'
import { InvalidCapabilityQueryError } from './errors.js'
import type { AttrFilter, AttrOp, CapabilityDescriptor, CapabilityQuery, IoSchema } from './types.js'

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/
const OPS: AttrOp[] = ['>=', '<=', '>', '<', '=']

type Schema = Record<string, any>

/** Resolves a schema CID to the schema document (undefined when it cannot be had). */
export type SchemaResolver = (cid: string) => Promise<Schema | undefined>

function checkSchema (s: unknown, where: string): void {
  if (typeof s === 'string') {
    if (!CID_TEXT.test(s)) throw new InvalidCapabilityQueryError(`${where} must be a schema CID (base32 CIDv1) or an inline JSON Schema object`)
    return
  }
  if (s == null || typeof s !== 'object' || Array.isArray(s)) throw new InvalidCapabilityQueryError(`${where} must be a schema CID or an inline JSON Schema object`)
}

/** Checks a query's shape (it may come from HTTP or the CLI) and returns it with defaults filled. */
export function validateQuery (q: unknown): CapabilityQuery {
  if (q == null || typeof q !== 'object' || Array.isArray(q)) throw new InvalidCapabilityQueryError('a capability query must be an object with a name')
  const query = q as CapabilityQuery
  if (typeof query.name !== 'string' || !NAME.test(query.name)) throw new InvalidCapabilityQueryError(`query name ${JSON.stringify(query.name)} is not a capability name (letters, digits, _ . -, starting with a letter)`)
  if (query.version != null && (typeof query.version !== 'string' || query.version.length > 64)) throw new InvalidCapabilityQueryError('query version must be a string of at most 64 characters')
  if (query.attrs != null) {
    if (!Array.isArray(query.attrs)) throw new InvalidCapabilityQueryError('query attrs must be a list of {key, op, value}')
    for (const a of query.attrs) {
      if (a == null || typeof a.key !== 'string' || a.key === '') throw new InvalidCapabilityQueryError('each attr filter needs a key')
      if (!OPS.includes(a.op)) throw new InvalidCapabilityQueryError(`attr ${a.key}: unknown operator ${JSON.stringify(a.op)} (use ${OPS.join(' ')})`)
      if (!['number', 'string', 'boolean'].includes(typeof a.value)) throw new InvalidCapabilityQueryError(`attr ${a.key}: value must be a number, string or boolean`)
      if (a.op !== '=' && typeof a.value !== 'number') throw new InvalidCapabilityQueryError(`attr ${a.key}: ${a.op} needs a number`)
    }
  }
  if (query.policies != null && (!Array.isArray(query.policies) || query.policies.some(p => typeof p !== 'string'))) {
    throw new InvalidCapabilityQueryError('query policies must be a list of strings')
  }
  if (query.io != null) {
    if (typeof query.io !== 'object' || Array.isArray(query.io)) throw new InvalidCapabilityQueryError('query io must be {input?, output?}')
    if (query.io.input != null) checkSchema(query.io.input, 'io.input')
    if (query.io.output != null) checkSchema(query.io.output, 'io.output')
  }
  return query
}

/** Parses `key>=value` (also <=, >, <, =); values that look like numbers or booleans become them. */
export function parseAttrFilter (text: string): AttrFilter {
  const m = /^([^<>=\s]+)\s*(>=|<=|>|<|=)\s*(.+)$/.exec(text.trim())
  if (m == null) throw new InvalidCapabilityQueryError(`attr filter ${JSON.stringify(text)} is not key<op>value with op one of ${OPS.join(' ')}`)
  const raw = m[3].trim()
  const value = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && !Number.isNaN(Number(raw)) ? Number(raw) : raw
  const filter = { key: m[1], op: m[2] as AttrOp, value }
  validateQuery({ name: 'x', attrs: [filter] })
  return filter
}

function attrMatches (descriptor: CapabilityDescriptor, f: AttrFilter): boolean {
  const v = descriptor.attrs?.[f.key] ?? (f.key === 'price' ? descriptor.price : undefined)
  if (v === undefined) return false
  if (f.op === '=') return v === f.value
  if (typeof v !== 'number' || typeof f.value !== 'number') return false
  switch (f.op) {
    case '>=': return v >= f.value
    case '<=': return v <= f.value
    case '>': return v > f.value
    case '<': return v < f.value
  }
}

/** The cheap part of matching (no schema resolution). */
export function matchesStatic (descriptor: CapabilityDescriptor, query: CapabilityQuery): boolean {
  if (descriptor.name !== query.name) return false
  if (query.version != null && descriptor.version !== query.version) return false
  for (const f of query.attrs ?? []) if (!attrMatches(descriptor, f)) return false
  const held = new Set([...(descriptor.policies ?? []), ...(descriptor.attestations ?? [])])
  for (const p of query.policies ?? []) if (!held.has(p)) return false
  return true
}

function typesOf (s: Schema): Set<string> | undefined {
  if (s.type == null) return undefined
  return new Set(Array.isArray(s.type) ? s.type.map(String) : [String(s.type)])
}

/** Every type the data side may have is accepted by the acceptor side. */
function typeAccepts (acceptor: Schema, data: Schema): boolean {
  const acc = typesOf(acceptor)
  const dat = typesOf(data)
  if (acc == null || dat == null) return true
  for (const t of dat) {
    if (acc.has(t)) continue
    if (t === 'integer' && acc.has('number')) continue
    return false
  }
  return true
}

function props (s: Schema): Record<string, Schema> {
  return s.properties != null && typeof s.properties === 'object' ? s.properties : {}
}

function required (s: Schema): string[] {
  return Array.isArray(s.required) ? s.required.filter((r: unknown): r is string => typeof r === 'string') : []
}

/** `data` flows into `acceptor`; `query` says which side is the requester's. */
function structural (acceptor: Schema, data: Schema, dir: 'input' | 'output', depth: number): boolean {
  if (depth > MAX_SCHEMA_DEPTH) return true
  if (!typeAccepts(acceptor, data)) return false
  const query = dir === 'input' ? data : acceptor
  const cap = dir === 'input' ? acceptor : data
  const capProps = props(cap)
  for (const key of required(query)) {
    const cp = capProps[key]
    if (cp == null || typeof cp !== 'object') return false
    const qp = props(query)[key] ?? {}
    if (!structural(dir === 'input' ? cp : qp, dir === 'input' ? qp : cp, dir, depth + 1)) return false
  }
  if (dir === 'input') {
    const provided = new Set([...Object.keys(props(query)), ...required(query)])
    for (const key of required(cap)) if (!provided.has(key)) return false
  }
  return true
}

function cidOfSchema (s: IoSchema): string {
  return typeof s === 'string' ? s : cidStringOf(s)
}

/** Does the capability's `dir` schema fit the query's? Resolves CIDs through `resolve` when needed. */
export async function ioMatches (capSchema: IoSchema, querySchema: IoSchema, dir: 'input' | 'output', resolve: SchemaResolver): Promise<boolean> {
  if (cidOfSchema(capSchema) === cidOfSchema(querySchema)) return true
  const cap = typeof capSchema === 'string' ? await resolve(capSchema) : capSchema
  const query = typeof querySchema === 'string' ? await resolve(querySchema) : querySchema
  if (cap == null || query == null) return false
  return dir === 'input' ? structural(cap, query, 'input', 0) : structural(query, cap, 'output', 0)
}

/** Full match of a descriptor against a validated query. */
export async function matches (descriptor: CapabilityDescriptor, query: CapabilityQuery, resolve: SchemaResolver): Promise<boolean> {
  if (!matchesStatic(descriptor, query)) return false
  if (query.io?.input != null && !await ioMatches(descriptor.io.input, query.io.input, 'input', resolve)) return false
  if (query.io?.output != null && !await ioMatches(descriptor.io.output, query.io.output, 'output', resolve)) return false
  return true
}
