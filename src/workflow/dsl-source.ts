/**
 * The YAML side of the DSL: parses text with source positions kept, and
 * turns nodes into `file:line:col` locations, plain JSON values and typed
 * errors. The compiler (dsl.ts) walks nodes through these helpers only.
 */
import { LineCounter, parseDocument, isAlias, isMap, isScalar, isSeq, type Document, type Node, type Pair, type YAMLMap, type YAMLSeq, type Scalar } from 'yaml'
import type { Json } from '../core/encoding.js'
import type { PlError } from '../core/errors.js'
import { MAX_DOCUMENT_BYTES } from './constants.js'
import { DslSchemaError, DslSyntaxError } from './errors.js'

type ErrorClass = new (message: string, details?: Record<string, unknown>) => PlError

export interface Loc { file: string, line: number, col: number }

/** Deepest nesting of values (inputs, constraints) accepted. */
const MAX_VALUE_DEPTH = 64

export class DslSource {
  readonly file: string
  readonly doc: Document.Parsed
  private readonly lines: LineCounter

  constructor (text: string, file = '<dsl>') {
    this.file = file
    if (typeof text !== 'string') throw new DslSyntaxError(`${file}: DSL text must be a string, got ${typeof text}`, { file })
    if (text.length > MAX_DOCUMENT_BYTES) throw new DslSyntaxError(`${file}: plan is too large (${text.length} > ${MAX_DOCUMENT_BYTES} characters)`, { file })
    this.lines = new LineCounter()
    this.doc = parseDocument(text, { lineCounter: this.lines, keepSourceTokens: true, uniqueKeys: true, prettyErrors: false })
    const first = this.doc.errors[0]
    if (first != null) {
      const pos = first.linePos?.[0] ?? this.lines.linePos(first.pos[0])
      const reason = first.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')
      throw new DslSyntaxError(`${file}:${pos.line}:${pos.col}: YAML error: ${reason}`, { file, line: pos.line, col: pos.col, code: first.code })
    }
  }

  /** Location of a node (plus `offset` characters into it). */
  loc (node: Node | Pair | null | undefined, offset = 0): Loc {
    const start = node != null && 'range' in node && node.range != null ? node.range[0] : (node != null && 'key' in node ? (node.key as Node | null)?.range?.[0] : undefined)
    const pos = this.lines.linePos((start ?? 0) + offset)
    return { file: this.file, line: pos.line, col: pos.col }
  }

  /** Throws `Cls` with the message prefixed by `file:line:col`. */
  fail (Cls: ErrorClass, node: Node | Pair | null | undefined, message: string, offset = 0, details: Record<string, unknown> = {}): never {
    const at = this.loc(node, offset)
    throw new Cls(`${at.file}:${at.line}:${at.col}: ${message}`, { ...details, file: at.file, line: at.line, col: at.col })
  }

  /** Follows an alias to the node it names. */
  deref (node: unknown): Node | null {
    if (isAlias(node)) return (node.resolve(this.doc) ?? null)
    return (node ?? null) as Node | null
  }

  map (node: unknown, what: string, at: Node | Pair | null | undefined = node as Node): YAMLMap {
    const n = this.deref(node)
    if (!isMap(n)) this.fail(DslSchemaError, n ?? at, `${what} must be a mapping`)
    return n
  }

  seq (node: unknown, what: string, at: Node | Pair | null | undefined = node as Node): YAMLSeq {
    const n = this.deref(node)
    if (!isSeq(n)) this.fail(DslSchemaError, n ?? at, `${what} must be a list`)
    return n
  }

  /** The string keys of a mapping, with their pairs; non-scalar keys are refused. */
  entries (map: YAMLMap): Array<[string, Pair]> {
    return map.items.map(pair => {
      const key = this.deref(pair.key)
      if (!isScalar(key) || (typeof key.value !== 'string' && typeof key.value !== 'number')) this.fail(DslSchemaError, key ?? pair, 'mapping keys must be plain names')
      return [String(key.value), pair]
    })
  }

  /** A scalar's string value (numbers and booleans are not strings here). */
  string (node: unknown, what: string, at: Node | Pair | null | undefined = node as Node): string {
    const n = this.deref(node)
    if (!isScalar(n) || typeof n.value !== 'string') this.fail(DslSchemaError, n ?? at, `${what} must be a string`)
    return (n as Scalar<string>).value
  }

  /** Offset of a scalar's text inside its source token (1 for quoted scalars), for column arithmetic. */
  textOffset (node: unknown): number {
    const n = this.deref(node)
    return isScalar(n) && (n.type === 'QUOTE_DOUBLE' || n.type === 'QUOTE_SINGLE') ? 1 : 0
  }

  /** A node as plain JSON (no NaN/Infinity, no binary, bounded depth). */
  json (node: unknown, what: string): Json {
    const n = this.deref(node)
    let value: unknown
    try {
      value = n == null ? null : n.toJS(this.doc, { maxAliasCount: 100 })
    } catch (err) {
      this.fail(DslSchemaError, n, `${what} cannot be read: ${(err as Error).message}`)
    }
    const check = (v: unknown, depth: number): void => {
      if (depth > MAX_VALUE_DEPTH) this.fail(DslSchemaError, n, `${what} nests deeper than ${MAX_VALUE_DEPTH} levels`)
      if (v === null || typeof v === 'string' || typeof v === 'boolean') return
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) this.fail(DslSchemaError, n, `${what} holds a number that is not finite`)
        return
      }
      if (Array.isArray(v)) { v.forEach(x => { check(x, depth + 1) }); return }
      if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
        Object.values(v).forEach(x => { check(x, depth + 1) })
        return
      }
      this.fail(DslSchemaError, n, `${what} holds a value that is not plain JSON`)
    }
    check(value, 0)
    return value as Json
  }
}
