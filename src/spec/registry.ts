/**
 * The schema registry: loads `protocols/schemas/*.json` once, computes each
 * schema's CID (CID of its canonical dag-cbor form, so key order and
 * formatting never change it) and takes each schema's validator from the
 * build's precompiled ones (./precompiled.ts) — compiling with ajv at run time
 * only a schema the build did not see (edited since, or another folder).
 *
 * @example
 * const reg = await SchemaRegistry.load()
 * reg.validate('Bid.v1', body) // throws InvalidBodyError with the ajv path
 */
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import type { Ajv2020, ValidateFunction, ErrorObject } from 'ajv/dist/2020.js'
import type * as AjvModule from 'ajv/dist/2020.js'
import { cidStringOf } from '../core/encoding.js'
import type { EnvelopeSchemas } from '../core/index.js'
import { packageRoot } from '../core/paths.js'
import { InvalidBodyError, UnknownTypeError } from '../core/errors.js'
import { loadPrecompiled, REGISTRY_AJV_OPTIONS, textHash, type Precompiled } from './precompiled.js'

/** ajv, loaded (synchronously: it is CommonJS) only when a schema must be compiled here. */
function newAjv (): Ajv2020 {
  const { Ajv2020: Ajv } = createRequire(import.meta.url)('ajv/dist/2020.js') as typeof AjvModule
  return new Ajv({ ...REGISTRY_AJV_OPTIONS })
}

let precompiled: Precompiled | undefined | null = null

/** The build's validators, loaded once per process. */
function precompiledValidators (): Precompiled | undefined {
  if (precompiled === null) precompiled = loadPrecompiled()
  return precompiled
}

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
  private ajvInstance: Ajv2020 | undefined
  /** How many of the validators came precompiled from the build (the rest were compiled here). */
  readonly precompiled: number

  private constructor (private readonly docs: Array<Record<string, unknown>>, options: { precompiled?: boolean, texts?: string[] } = {}) {
    const built = options.precompiled === false ? undefined : precompiledValidators()
    let fromBuild = 0
    for (const [i, doc] of docs.entries()) {
      const type = String(doc.title)
      // a file the build read has its CID on file (by the hash of its text): no dag-cbor encoding at start
      const text = options.texts?.[i]
      const cid = (text != null ? built?.cidByText.get(textHash(text)) : undefined) ?? cidStringOf(doc)
      let validate = built?.validators.get(cid)
      if (validate != null) fromBuild++
      else validate = this.ajv.getSchema(String(doc.$id))
      if (validate == null) throw new Error(`schema ${type} did not compile`)
      const entry: SchemaEntry = { type, cid, schema: doc, validate }
      this.byType.set(type, entry)
      this.byCid.set(entry.cid, entry)
    }
    this.precompiled = fromBuild
  }

  /**
   * The ajv instance holding every schema of this registry (for checks beyond
   * the registry's own, e.g. `validateSchema`); created on first use.
   * ownProperties: like the generated validators, only a document's own members count (required: ["toString"] refuses {}).
   */
  get ajv (): Ajv2020 {
    if (this.ajvInstance == null) {
      const ajv = newAjv()
      for (const doc of this.docs) ajv.addSchema(doc)
      this.ajvInstance = ajv
    }
    return this.ajvInstance
  }

  /** A registry of `docs`; `precompiled: false` compiles every validator here (tests compare the two). */
  static fromDocuments (docs: Array<Record<string, unknown>>, options: { precompiled?: boolean } = {}): SchemaRegistry {
    return new SchemaRegistry(docs, options)
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
      const texts = readdirSync(key).filter(f => f.endsWith('.json')).sort().map(f => readFileSync(join(key, f), 'utf8'))
      registry = new SchemaRegistry(texts.map(t => JSON.parse(t) as Record<string, unknown>), { texts })
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
