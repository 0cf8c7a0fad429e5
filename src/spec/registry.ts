/**
 * The schema registry: loads `protocols/schemas/*.json` once, computes each
 * schema's CID (CID of its canonical dag-cbor form, so key order and
 * formatting never change it) and compiles an ajv validator per schema.
 *
 * @example
 * const reg = await SchemaRegistry.load()
 * reg.validate('Bid.v1', body) // throws InvalidBodyError with the ajv path
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Ajv2020, type ValidateFunction, type ErrorObject } from 'ajv/dist/2020.js'
import { cidStringOf } from '../core/encoding.js'
import type { EnvelopeSchemas } from '../core/envelope.js'
import { packageRoot } from '../core/paths.js'
import { InvalidBodyError, UnknownTypeError } from '../core/errors.js'

export interface SchemaEntry {
  type: string
  cid: string
  schema: Record<string, unknown>
  validate: ValidateFunction
}

export function schemasDir (): string {
  return join(packageRoot(), 'protocols', 'schemas')
}

export function formatAjvErrors (errors: ErrorObject[] | null | undefined, max = 3): string {
  if (errors == null || errors.length === 0) return 'invalid'
  return errors.slice(0, max).map(e => `${e.instancePath === '' ? '(root)' : e.instancePath} ${e.message ?? 'is invalid'}${e.params != null && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`).join('; ')
}

export class SchemaRegistry implements EnvelopeSchemas {
  private readonly byType = new Map<string, SchemaEntry>()
  private readonly byCid = new Map<string, SchemaEntry>()
  readonly ajv: Ajv2020

  private constructor (docs: Array<Record<string, unknown>>) {
    // ownProperties: like the generated validators, only a document's own members count (required: ["toString"] refuses {})
    this.ajv = new Ajv2020({ allErrors: false, strict: false, ownProperties: true })
    for (const doc of docs) this.ajv.addSchema(doc)
    for (const doc of docs) {
      const type = String(doc.title)
      const validate = this.ajv.getSchema(String(doc.$id))
      if (validate == null) throw new Error(`schema ${type} did not compile`)
      const entry: SchemaEntry = { type, cid: cidStringOf(doc), schema: doc, validate }
      this.byType.set(type, entry)
      this.byCid.set(entry.cid, entry)
    }
  }

  static fromDocuments (docs: Array<Record<string, unknown>>): SchemaRegistry {
    return new SchemaRegistry(docs)
  }

  /**
   * Registries by schema folder. A registry never changes after it is built,
   * and compiling every schema with ajv costs a few hundred ms, so nodes of
   * one process (a TestMesh, the benches) share one.
   */
  private static readonly loaded = new Map<string, SchemaRegistry>()

  /** Loads every `*.json` in `dir` (default: the package's protocols/schemas); once per folder and process. */
  static async load (dir: string = schemasDir()): Promise<SchemaRegistry> {
    return SchemaRegistry.loadSync(dir)
  }

  /** Synchronous `load` (a dozen small files, read once per process), for callers that cannot await. */
  static loadSync (dir: string = schemasDir()): SchemaRegistry {
    const key = resolve(dir)
    let registry = SchemaRegistry.loaded.get(key)
    if (registry == null) {
      const files = readdirSync(key).filter(f => f.endsWith('.json')).sort()
      registry = new SchemaRegistry(files.map(f => JSON.parse(readFileSync(join(key, f), 'utf8')) as Record<string, unknown>))
      SchemaRegistry.loaded.set(key, registry)
    }
    return registry
  }

  types (): string[] {
    return [...this.byType.keys()].sort()
  }

  has (type: string): boolean {
    return this.byType.has(type)
  }

  get (type: string): SchemaEntry {
    const entry = this.byType.get(type)
    if (entry == null) throw new UnknownTypeError(`unknown message type "${type}"`, { type })
    return entry
  }

  getByCid (cid: string): SchemaEntry | undefined {
    return this.byCid.get(cid)
  }

  cidOf (type: string): string {
    return this.get(type).cid
  }

  /** Throws InvalidBodyError naming the failing path unless `value` matches `type`. */
  validate (type: string, value: unknown): void {
    const entry = this.get(type)
    if (!entry.validate(value)) {
      throw new InvalidBodyError(`${type}: ${formatAjvErrors(entry.validate.errors)}`, { type, errors: entry.validate.errors?.slice(0, 5) ?? [] })
    }
  }

  isValid (type: string, value: unknown): boolean {
    return this.get(type).validate(value) === true
  }
}
