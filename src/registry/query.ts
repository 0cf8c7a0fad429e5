/**
 * The registry's query language: a small, pure evaluator over flat record
 * documents, hand-written (no eval, no regexes from the caller, no prototype
 * access). A request is validated completely before anything is evaluated.
 *
 *   filter   := { <field>: <cond> | $and: [filter] | $or: [filter] | $not: filter, ... }   (keys AND together)
 *   cond     := <literal> | { <op>: <operand>, ... } | { $not: cond }
 *   ops      := $eq $ne $in $nin $gt $gte $lt $lte $exists $prefix $contains
 *   literal  := string | finite number | boolean | null
 *
 * On list fields (tags, modules) a condition holds when some element
 * satisfies it ($ne / $nin: when none equals). `version` compares as semver,
 * `ts` takes ms numbers or ISO 8601 dates. Limits: depth 8, arrays 1000,
 * strings 1024 characters, `limit` 1000.
 *
 * @example
 * runQuery(docs, { filter: { tags: 'nlp', version: { $gte: '1.2.0' }, $or: [{ name: { $prefix: 'sum' } }, { modules: { $contains: 'llm' } }] }, sort: { ts: -1 }, limit: 10 }, d => d)
 */
import { createHash } from 'node:crypto'
import { DEFAULT_QUERY_LIMIT, MAX_QUERY_ARRAY, MAX_QUERY_DEPTH, MAX_QUERY_LIMIT, MAX_QUERY_STRING } from './constants.js'
import { ForbiddenQueryKeyError, InvalidQueryCursorError, InvalidQueryOperandError, QueryTooDeepError, QueryTooLargeError, UnknownQueryOperatorError } from './errors.js'
import { compareSemver, isSemver } from './semver.js'

export type Literal = string | number | boolean | null
export type QueryDoc = Record<string, Literal | undefined | string[]>

export interface QueryRequest {
  filter?: Record<string, unknown>
  sort?: Record<string, 1 | -1 | 'asc' | 'desc'>
  limit?: number
  cursor?: string
}

export interface QueryResult<T> {
  results: T[]
  /** total matches (all pages) */
  total: number
  /** pass as `cursor` for the next page; absent on the last page */
  next?: string
}

/** Fields a filter or sort may name, and whether each is a list. */
export const QUERY_FIELDS: Record<string, 'scalar' | 'list'> = {
  workflow_id: 'scalar',
  version: 'scalar',
  releaseTag: 'scalar',
  kind: 'scalar',
  bundle: 'scalar',
  record: 'scalar',
  node: 'scalar',
  publisher: 'scalar',
  publisherKind: 'scalar',
  ts: 'scalar',
  size: 'scalar',
  deleted: 'scalar',
  name: 'scalar',
  description: 'scalar',
  tags: 'list',
  modules: 'list'
}

const OPERATORS = new Set(['$eq', '$ne', '$in', '$nin', '$gt', '$gte', '$lt', '$lte', '$exists', '$prefix', '$contains', '$not'])
const LOGICAL = new Set(['$and', '$or', '$not'])
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype'])
const TOP_KEYS = new Set(['filter', 'sort', 'limit', 'cursor'])
const MAX_SORT_KEYS = 4

type Pred = (doc: QueryDoc) => boolean
type ValuePred = (value: Literal | undefined) => boolean

const isPlainObject = (v: unknown): v is Record<string, unknown> => v != null && typeof v === 'object' && !Array.isArray(v) && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)

/** Shape limits over the whole request, before any meaning is given to it: depth, sizes, forbidden keys, value types. */
function checkShape (value: unknown, depth: number, path: string): void {
  if (value === null || typeof value === 'boolean') return
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidQueryOperandError(`${path}: numbers must be finite`, { path })
    return
  }
  if (typeof value === 'string') {
    if (value.length > MAX_QUERY_STRING) throw new QueryTooLargeError(`${path}: strings are at most ${MAX_QUERY_STRING} characters`, { path, max: MAX_QUERY_STRING })
    return
  }
  if (typeof value !== 'object') throw new InvalidQueryOperandError(`${path}: a ${typeof value} is not a query value (only JSON)`, { path })
  if (depth > MAX_QUERY_DEPTH) throw new QueryTooDeepError(`${path}: the query nests deeper than ${MAX_QUERY_DEPTH} levels`, { path, max: MAX_QUERY_DEPTH })
  if (Array.isArray(value)) {
    if (value.length > MAX_QUERY_ARRAY) throw new QueryTooLargeError(`${path}: arrays hold at most ${MAX_QUERY_ARRAY} items`, { path, max: MAX_QUERY_ARRAY })
    for (let i = 0; i < value.length; i++) checkShape(value[i], depth + 1, `${path}[${i}]`)
    return
  }
  if (!isPlainObject(value)) throw new InvalidQueryOperandError(`${path}: only plain JSON objects (no regexes, dates or class instances)`, { path })
  const keys = Object.keys(value)
  if (keys.length > MAX_QUERY_ARRAY) throw new QueryTooLargeError(`${path}: objects hold at most ${MAX_QUERY_ARRAY} keys`, { path, max: MAX_QUERY_ARRAY })
  for (const k of keys) {
    if (FORBIDDEN.has(k)) throw new ForbiddenQueryKeyError(`${path}: the key ${JSON.stringify(k)} is not allowed`, { path, key: k })
    checkShape(value[k], depth + 1, `${path}.${k}`)
  }
}

function literal (v: unknown, path: string): Literal {
  if (v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return v
  throw new InvalidQueryOperandError(`${path}: expected a string, number, boolean or null`, { path })
}

function unknownOperator (op: string, path: string): never {
  const hint = op === '$where' || op === '$function' || op === '$expr' || op === '$accumulator' ? ' (code in queries is never run)' : op === '$regex' ? ' (regexes are refused: use $prefix or $contains)' : ''
  throw new UnknownQueryOperatorError(`${path}: unknown operator ${JSON.stringify(op)}${hint}; known: ${[...OPERATORS].join(' ')}, and $and $or at filter level`, { path, operator: op })
}

/** Order of two values of one field, or undefined when they do not compare (different types, missing). */
function order (field: string, a: Literal | undefined, b: Literal): number | undefined {
  if (a == null || b == null) return undefined
  if (field === 'version' && typeof a === 'string' && typeof b === 'string' && isSemver(a) && isSemver(b)) return compareSemver(a, b)
  if (typeof a === 'number' && typeof b === 'number') return a - b
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0
  return undefined
}

/** A `ts` operand may be an ISO 8601 date. */
function operand (field: string, v: unknown, path: string): Literal {
  const lit = literal(v, path)
  if (field === 'ts' && typeof lit === 'string') {
    const ms = Date.parse(lit)
    if (!Number.isFinite(ms)) throw new InvalidQueryOperandError(`${path}: ts compares with ms since epoch or an ISO 8601 date`, { path })
    return ms
  }
  return lit
}

function equal (field: string, a: Literal | undefined, b: Literal): boolean {
  if (a === undefined) return b === null
  if (field === 'version' && typeof a === 'string' && typeof b === 'string' && isSemver(a) && isSemver(b)) return a === b
  return a === b
}

function valueCondition (field: string, cond: unknown, depth: number, path: string): ValuePred {
  if (!isPlainObject(cond)) {
    const v = operand(field, cond, path)
    return x => equal(field, x, v)
  }
  const preds: ValuePred[] = []
  for (const [op, arg] of Object.entries(cond)) {
    const p = `${path}.${op}`
    if (!op.startsWith('$')) throw new InvalidQueryOperandError(`${p}: a condition object holds operators only (fields do not nest)`, { path: p })
    switch (op) {
      case '$eq': { const v = operand(field, arg, p); preds.push(x => equal(field, x, v)); break }
      case '$ne': { const v = operand(field, arg, p); preds.push(x => !equal(field, x, v)); break }
      case '$in':
      case '$nin': {
        if (!Array.isArray(arg)) throw new InvalidQueryOperandError(`${p}: expects an array`, { path: p })
        const vs = arg.map((v, i) => operand(field, v, `${p}[${i}]`))
        preds.push(op === '$in' ? x => vs.some(v => equal(field, x, v)) : x => !vs.some(v => equal(field, x, v)))
        break
      }
      case '$gt': case '$gte': case '$lt': case '$lte': {
        const v = operand(field, arg, p)
        if (typeof v !== 'string' && typeof v !== 'number') throw new InvalidQueryOperandError(`${p}: compares with a string or a number`, { path: p })
        const test = op === '$gt' ? (o: number) => o > 0 : op === '$gte' ? (o: number) => o >= 0 : op === '$lt' ? (o: number) => o < 0 : (o: number) => o <= 0
        preds.push(x => { const o = order(field, x, v); return o !== undefined && test(o) })
        break
      }
      case '$exists': {
        if (typeof arg !== 'boolean') throw new InvalidQueryOperandError(`${p}: expects true or false`, { path: p })
        preds.push(x => (x !== undefined && x !== null) === arg)
        break
      }
      case '$prefix':
      case '$contains': {
        if (typeof arg !== 'string') throw new InvalidQueryOperandError(`${p}: expects a string`, { path: p })
        preds.push(op === '$prefix' ? x => typeof x === 'string' && x.startsWith(arg) : x => typeof x === 'string' && x.includes(arg))
        break
      }
      case '$not': {
        if (depth + 1 > MAX_QUERY_DEPTH) throw new QueryTooDeepError(`${p}: the query nests deeper than ${MAX_QUERY_DEPTH} levels`, { path: p })
        const inner = valueCondition(field, arg, depth + 1, p)
        preds.push(x => !inner(x))
        break
      }
      default: unknownOperator(op, p)
    }
  }
  return x => preds.every(f => f(x))
}

/** Negative operators hold on a list when no element fails them; the others when some element satisfies them. */
function isNegative (cond: unknown): boolean {
  return isPlainObject(cond) && Object.keys(cond).length > 0 && Object.keys(cond).every(k => k === '$ne' || k === '$nin' || (k === '$exists' && cond[k] === false))
}

function compileFilter (filter: unknown, depth: number, path: string): Pred {
  if (!isPlainObject(filter)) throw new InvalidQueryOperandError(`${path}: a filter is a JSON object`, { path })
  if (depth > MAX_QUERY_DEPTH) throw new QueryTooDeepError(`${path}: the query nests deeper than ${MAX_QUERY_DEPTH} levels`, { path, max: MAX_QUERY_DEPTH })
  const preds: Pred[] = []
  for (const [key, cond] of Object.entries(filter)) {
    const p = `${path}.${key}`
    if (key.startsWith('$')) {
      if (!LOGICAL.has(key)) unknownOperator(key, p)
      if (key === '$not') {
        const inner = compileFilter(cond, depth + 1, p)
        preds.push(d => !inner(d))
        continue
      }
      if (!Array.isArray(cond) || cond.length === 0) throw new InvalidQueryOperandError(`${p}: expects a non-empty array of filters`, { path: p })
      const inner = cond.map((f, i) => compileFilter(f, depth + 2, `${p}[${i}]`))
      preds.push(key === '$and' ? d => inner.every(f => f(d)) : d => inner.some(f => f(d)))
      continue
    }
    const kind = Object.prototype.hasOwnProperty.call(QUERY_FIELDS, key) ? QUERY_FIELDS[key] : undefined
    if (kind == null) throw new ForbiddenQueryKeyError(`${p}: ${JSON.stringify(key)} is not a queryable field; fields: ${Object.keys(QUERY_FIELDS).join(', ')}`, { path: p, key })
    const test = valueCondition(key, cond, depth + 1, p)
    if (kind === 'list') {
      const negative = isNegative(cond)
      preds.push(d => {
        const list = d[key]
        if (!Array.isArray(list)) return test(undefined)
        if (list.length === 0) return test(undefined)
        return negative ? list.every(x => test(x)) : list.some(x => test(x))
      })
    } else {
      preds.push(d => { const v = d[key]; return test(Array.isArray(v) ? undefined : v) })
    }
  }
  return d => preds.every(f => f(d))
}

type SortKey = [string, 1 | -1]

function compileSort (sort: unknown): SortKey[] {
  if (sort == null) return [['workflow_id', 1]]
  if (!isPlainObject(sort)) throw new InvalidQueryOperandError('sort: an object of field: 1 | -1 | "asc" | "desc"', { path: 'sort' })
  const keys = Object.entries(sort)
  if (keys.length > MAX_SORT_KEYS) throw new QueryTooLargeError(`sort: at most ${MAX_SORT_KEYS} fields`, { path: 'sort', max: MAX_SORT_KEYS })
  return keys.map(([field, dir]) => {
    if (field.startsWith('$')) unknownOperator(field, `sort.${field}`)
    if (!Object.prototype.hasOwnProperty.call(QUERY_FIELDS, field)) throw new ForbiddenQueryKeyError(`sort.${field}: not a queryable field`, { path: `sort.${field}`, key: field })
    if (dir === 1 || dir === 'asc') return [field, 1]
    if (dir === -1 || dir === 'desc') return [field, -1]
    throw new InvalidQueryOperandError(`sort.${field}: 1, -1, "asc" or "desc"`, { path: `sort.${field}` })
  })
}

function sortValue (v: Literal | undefined | string[]): Literal | undefined {
  return Array.isArray(v) ? v.join('\u0000') : v
}

/** Compares two docs by the sort keys; missing values sort first ascending; ties broken by `record`. */
function comparator (keys: SortKey[]): (a: QueryDoc, b: QueryDoc) => number {
  return (a, b) => {
    for (const [field, dir] of keys) {
      const x = sortValue(a[field])
      const y = sortValue(b[field])
      if (x === y) continue
      if (x == null) return -dir
      if (y == null) return dir
      const o = order(field, x, y) ?? (String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0)
      if (o !== 0) return o * dir
    }
    const r = String(a.record ?? '')
    const s = String(b.record ?? '')
    return r < s ? -1 : r > s ? 1 : 0
  }
}

function fingerprint (filter: unknown, sort: SortKey[]): string {
  return createHash('sha256').update(JSON.stringify([filter ?? null, sort])).digest('base64url').slice(0, 16)
}

function readCursor (cursor: unknown, fp: string): number {
  if (cursor == null) return 0
  if (typeof cursor !== 'string' || cursor.length > 256) throw new InvalidQueryCursorError('cursor: pass back the "next" string of the previous page', { path: 'cursor' })
  let parsed: unknown
  try { parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) } catch { parsed = undefined }
  const c = parsed as { o?: unknown, f?: unknown } | undefined
  if (c == null || typeof c !== 'object' || typeof c.o !== 'number' || !Number.isSafeInteger(c.o) || c.o < 0 || typeof c.f !== 'string') {
    throw new InvalidQueryCursorError('cursor: not a cursor this node issued', { path: 'cursor' })
  }
  if (c.f !== fp) throw new InvalidQueryCursorError('cursor: it was issued for another filter or sort', { path: 'cursor' })
  return c.o
}

/** A validated query, ready to run over any number of document sets. */
export interface CompiledQuery {
  match: Pred
  compare: (a: QueryDoc, b: QueryDoc) => number
  limit: number
  offset: number
  fingerprint: string
}

/** Validates a whole request (typed 400 errors) and compiles it. Pure. */
export function compileQuery (request: unknown): CompiledQuery {
  if (request == null) request = {}
  if (!isPlainObject(request)) throw new InvalidQueryOperandError('a query is a JSON object {filter?, sort?, limit?, cursor?}', { path: '' })
  checkShape(request, 1, '(query)')
  for (const k of Object.keys(request)) {
    if (!TOP_KEYS.has(k)) throw new ForbiddenQueryKeyError(`unknown query key ${JSON.stringify(k)}; a query is {filter?, sort?, limit?, cursor?}`, { path: k, key: k })
  }
  const match = request.filter == null ? () => true : compileFilter(request.filter, 2, 'filter')
  const sort = compileSort(request.sort)
  const limit = request.limit ?? DEFAULT_QUERY_LIMIT
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) throw new InvalidQueryOperandError('limit: an integer from 1', { path: 'limit' })
  if (limit > MAX_QUERY_LIMIT) throw new QueryTooLargeError(`limit: at most ${MAX_QUERY_LIMIT}`, { path: 'limit', max: MAX_QUERY_LIMIT })
  const fp = fingerprint(request.filter, sort)
  return { match, compare: comparator(sort), limit, offset: readCursor(request.cursor, fp), fingerprint: fp }
}

/** Runs a query over `items`, seen through `toDoc`. */
export function runQuery<T> (items: T[], request: unknown, toDoc: (item: T) => QueryDoc): QueryResult<T> {
  const q = compileQuery(request)
  const matched = items.map(item => ({ item, doc: toDoc(item) })).filter(x => q.match(x.doc)).sort((a, b) => q.compare(a.doc, b.doc))
  const page = matched.slice(q.offset, q.offset + q.limit).map(x => x.item)
  const end = q.offset + page.length
  const result: QueryResult<T> = { results: page, total: matched.length }
  if (end < matched.length) result.next = Buffer.from(JSON.stringify({ o: end, f: q.fingerprint })).toString('base64url')
  return result
}
