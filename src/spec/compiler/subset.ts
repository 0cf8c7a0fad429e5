/**
 * The supported JSON Schema (2020-12) keyword subset: only what the compiler
 * implements identically in TypeScript (ajv), Python and Go. Every keyword
 * outside it fails compilation with its name and JSON pointer; malformed
 * keyword values fail too. Annotations are allowed and ignored.
 *
 * @example
 * checkSubset(doc, 'Bid.v1.json') // throws UnsupportedKeywordError for {"format": "email"} at #/properties/x
 */
import { InvalidSchemaError, UnsupportedKeywordError, UnsupportedNameError } from './errors.js'
import { translatePattern } from './pattern.js'

export const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema'

export const JSON_TYPES = ['null', 'boolean', 'object', 'array', 'number', 'integer', 'string'] as const
export type JsonType = typeof JSON_TYPES[number]

/** Validation keywords, grouped as in docs/SPEC.md. */
export const VALIDATION_KEYWORDS = [
  'type', 'enum', 'const',
  'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf',
  'minLength', 'maxLength', 'pattern',
  'properties', 'required', 'additionalProperties', 'minProperties', 'maxProperties',
  'items', 'prefixItems', 'minItems', 'maxItems', 'uniqueItems',
  'allOf', 'anyOf', 'oneOf', 'not',
  '$ref', '$defs'
] as const

/** Annotations: allowed, ignored by validation. Vendor keywords `x-*` are annotations too. */
export const ANNOTATION_KEYWORDS = ['$schema', '$id', '$comment', 'title', 'description', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly'] as const

const KNOWN = new Set<string>([...VALIDATION_KEYWORDS, ...ANNOTATION_KEYWORDS])

/** Why a well-known keyword is left out, to make the error actionable. */
const HINTS: Record<string, string> = {
  format: 'formats differ between validators; use "pattern"',
  definitions: 'use "$defs" (2020-12)',
  patternProperties: 'name the properties, or use additionalProperties with a schema',
  propertyNames: 'not supported',
  dependentRequired: 'not supported; split the schema with oneOf',
  dependentSchemas: 'not supported; split the schema with oneOf',
  if: 'use oneOf/anyOf',
  then: 'use oneOf/anyOf',
  else: 'use oneOf/anyOf',
  contains: 'not supported',
  minContains: 'not supported',
  maxContains: 'not supported',
  unevaluatedProperties: 'use additionalProperties',
  unevaluatedItems: 'use items',
  $anchor: 'reference $defs by JSON pointer',
  $dynamicRef: 'use $ref',
  $dynamicAnchor: 'use $ref',
  $recursiveRef: 'use $ref',
  nullable: 'use "type": ["T", "null"]'
}

export function escapePointer (token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1')
}

const LONE_SURROGATE = /\p{Cs}/u

function isObject (v: unknown): v is Record<string, unknown> {
  return v != null && typeof v === 'object' && !Array.isArray(v)
}

function isNonNegInt (v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0
}

class SubsetChecker {
  constructor (private readonly where: string) {}

  private bad (pointer: string, message: string): never {
    throw new InvalidSchemaError(`${this.where}: ${message} at ${pointer}`, { file: this.where, pointer })
  }

  /** A member name every language can hold and every validator treats alike. */
  private name (name: string, pointer: string, requiredOnly = false): void {
    // a lone surrogate has no UTF-8 form: neither the Python/Go sources nor their JSON decoders keep it
    if (LONE_SURROGATE.test(name)) throw new UnsupportedNameError(`${this.where}: the name ${JSON.stringify(name)} at ${pointer} has a lone surrogate`, { file: this.where, pointer, name })
    // ajv skips a "__proto__" entry of properties (prototype pollution guard); Python and Go would check it
    // ajv never enforces required: [""] (its missing-property check treats the name "" as false)
    if (requiredOnly && name === '') throw new UnsupportedNameError(`${this.where}: "required" at ${pointer} names "" (ajv, the reference validator, never enforces it)`, { file: this.where, pointer, name })
    if (!requiredOnly && name === '__proto__') throw new UnsupportedNameError(`${this.where}: "__proto__" at ${pointer} is not supported as a property or $defs name (ajv, the reference validator, ignores it)`, { file: this.where, pointer, name })
  }

  schema (s: unknown, pointer: string, root: boolean): void {
    if (typeof s === 'boolean') return
    if (!isObject(s)) this.bad(pointer, 'a schema must be an object or a boolean')
    for (const key of Object.keys(s)) {
      if (key.startsWith('x-')) continue
      if (!KNOWN.has(key)) {
        const hint = HINTS[key] != null ? `: ${HINTS[key]}` : ''
        throw new UnsupportedKeywordError(`${this.where}: unsupported keyword "${key}" at ${pointer}${hint} (supported subset: docs/SPEC.md)`, { file: this.where, keyword: key, pointer })
      }
    }
    const p = (k: string): string => `${pointer}/${escapePointer(k)}`
    for (const k of ['properties', '$defs']) {
      const m = s[k]
      if (isObject(m)) for (const name of Object.keys(m)) this.name(name, p(k))
    }
    if (Array.isArray(s.required)) for (const name of s.required) if (typeof name === 'string') this.name(name, p('required'), true)
    if (typeof s.$id === 'string' && LONE_SURROGATE.test(s.$id)) this.bad(p('$id'), '"$id" has a lone surrogate')
    if ('$schema' in s && (!root || s.$schema !== DRAFT_2020_12)) {
      this.bad(p('$schema'), root ? `only JSON Schema 2020-12 is supported ("${DRAFT_2020_12}")` : '"$schema" is only allowed at the document root')
    }
    if ('$id' in s && (!root || typeof s.$id !== 'string' || s.$id === '' || s.$id.includes('#'))) {
      this.bad(p('$id'), root ? '"$id" must be a non-empty absolute id without "#"' : '"$id" is only allowed at the document root')
    }
    if ('type' in s) {
      const t = s.type
      const list = Array.isArray(t) ? t : [t]
      if (list.length === 0 || !list.every(x => typeof x === 'string' && (JSON_TYPES as readonly string[]).includes(x)) || new Set(list).size !== list.length) {
        this.bad(p('type'), `"type" must be one of ${JSON_TYPES.join(', ')} or a non-empty array of distinct ones`)
      }
    }
    if ('enum' in s && (!Array.isArray(s.enum) || s.enum.length === 0)) this.bad(p('enum'), '"enum" must be a non-empty array')
    for (const k of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum']) {
      if (k in s && (typeof s[k] !== 'number' || !Number.isFinite(s[k]))) this.bad(p(k), `"${k}" must be a number`)
    }
    if ('multipleOf' in s && (typeof s.multipleOf !== 'number' || !(s.multipleOf > 0) || !Number.isFinite(s.multipleOf))) this.bad(p('multipleOf'), '"multipleOf" must be a number > 0')
    for (const k of ['minLength', 'maxLength', 'minItems', 'maxItems', 'minProperties', 'maxProperties']) {
      if (k in s && !isNonNegInt(s[k])) this.bad(p(k), `"${k}" must be a non-negative integer`)
    }
    if ('uniqueItems' in s && typeof s.uniqueItems !== 'boolean') this.bad(p('uniqueItems'), '"uniqueItems" must be a boolean')
    if ('pattern' in s) {
      if (typeof s.pattern !== 'string') this.bad(p('pattern'), '"pattern" must be a string')
      translatePattern(s.pattern, `${this.where} ${p('pattern')}`)
    }
    if ('required' in s) {
      const r = s.required
      if (!Array.isArray(r) || !r.every(x => typeof x === 'string') || new Set(r).size !== r.length) this.bad(p('required'), '"required" must be an array of distinct strings')
    }
    if ('$ref' in s && (typeof s.$ref !== 'string' || s.$ref === '')) this.bad(p('$ref'), '"$ref" must be a non-empty string')
    if ('properties' in s) {
      if (!isObject(s.properties)) this.bad(p('properties'), '"properties" must be an object of schemas')
      for (const [name, sub] of Object.entries(s.properties)) this.schema(sub, `${p('properties')}/${escapePointer(name)}`, false)
    }
    if ('$defs' in s) {
      if (!isObject(s.$defs)) this.bad(p('$defs'), '"$defs" must be an object of schemas')
      for (const [name, sub] of Object.entries(s.$defs)) this.schema(sub, `${p('$defs')}/${escapePointer(name)}`, false)
    }
    if ('additionalProperties' in s) this.schema(s.additionalProperties, p('additionalProperties'), false)
    if ('items' in s) {
      if (Array.isArray(s.items)) this.bad(p('items'), '"items" must be one schema in 2020-12 (use "prefixItems" for tuples)')
      this.schema(s.items, p('items'), false)
    }
    if ('not' in s) this.schema(s.not, p('not'), false)
    for (const k of ['prefixItems', 'allOf', 'anyOf', 'oneOf']) {
      if (!(k in s)) continue
      const list = s[k]
      if (!Array.isArray(list) || list.length === 0) this.bad(p(k), `"${k}" must be a non-empty array of schemas`)
      list.forEach((sub, i) => { this.schema(sub, `${p(k)}/${i}`, false) })
    }
  }
}

/**
 * Checks a whole schema document (every subschema, reachable or not).
 * `where` names the document in messages (file name or $id).
 */
export function checkSubset (doc: unknown, where: string): void {
  new SubsetChecker(where).schema(doc, '#', true)
}
