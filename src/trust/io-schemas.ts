/**
 * Checks of step inputs and outputs against a capability's io schemas. A
 * schema is given inline in the descriptor or by the CID of a schema the
 * node knows (protocols/schemas, or a block in the local store); each is
 * compiled by ajv once per schema CID and kept (bounded).
 *
 * @example
 * const io = new IoSchemas(registry, blocks)
 * await io.check('input', descriptor.io.input, inputData) // throws InputSchemaError
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import { cidStringOf, parseCid } from '../core/encoding.js'
import { formatAjvErrors, type SchemaRegistry } from '../spec/index.js'
import type { BlockStore } from '../store/index.js'
import { MAX_COMPILED_SCHEMAS } from './constants.js'
import { InputSchemaError, OutputSchemaError } from './errors.js'

export class IoSchemas {
  // created at the first schema to compile: constructing ajv costs ~100 ms of a node's start
  private ajvInstance: Ajv2020 | undefined
  private get ajv (): Ajv2020 {
    this.ajvInstance ??= new Ajv2020({ allErrors: false, strict: false, ownProperties: true })
    return this.ajvInstance
  }

  private readonly compiled = new Map<string, ValidateFunction>()
  /** how many schemas were compiled (tests check the cache) */
  compiles = 0

  constructor (private readonly registry?: SchemaRegistry, private readonly blocks?: BlockStore) {}

  /** The validator of `schema` (inline object or CID), or undefined when it checks nothing or is unknown here. */
  async validator (schema: unknown): Promise<ValidateFunction | undefined> {
    let doc: unknown = schema
    let cid: string
    if (typeof schema === 'string') {
      try {
        cid = parseCid(schema.startsWith('cid:') ? schema.slice(4) : schema).toString()
      } catch {
        return undefined
      }
      const known = this.compiled.get(cid)
      if (known != null) return known
      const entry = this.registry?.getByCid(cid)
      if (entry != null) return entry.validate
      if (this.blocks == null || !await this.blocks.has(cid)) return undefined
      doc = await this.blocks.get(cid)
    } else {
      if (schema == null || typeof schema !== 'object' || Array.isArray(schema) || Object.keys(schema).length === 0) return undefined
      cid = cidStringOf(schema)
    }
    const known = this.compiled.get(cid)
    if (known != null) return known
    let validate: ValidateFunction
    try {
      // $id would collide between two copies of one schema: compile by content, not by id
      const { $id: _id, ...body } = doc as Record<string, unknown>
      validate = this.ajv.compile(body)
    } catch {
      return undefined
    }
    this.compiles++
    if (this.compiled.size >= MAX_COMPILED_SCHEMAS) this.compiled.delete(this.compiled.keys().next().value as string)
    this.compiled.set(cid, validate)
    return validate
  }

  /** Throws InputSchemaError / OutputSchemaError when `value` does not match `schema`. */
  async check (which: 'input' | 'output', schema: unknown, value: unknown): Promise<void> {
    const validate = await this.validator(schema)
    if (validate == null || validate(value) === true) return
    const why = formatAjvErrors(validate.errors)
    if (which === 'input') throw new InputSchemaError(`the step input does not match the capability's input schema: ${why}`, { errors: validate.errors?.slice(0, 5) ?? [] })
    throw new OutputSchemaError(`the step output does not match the capability's output schema: ${why}`, { errors: validate.errors?.slice(0, 5) ?? [] })
  }
}
