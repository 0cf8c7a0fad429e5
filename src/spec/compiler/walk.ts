/**
 * Schema-aware traversal: visits only schema positions (never the insides of
 * `enum`, `const`, `default` or `examples`, which are data).
 *
 * @example
 * forEachSubschema(doc, '#', (s, ptr) => { if ('$ref' in s) refs.push(s.$ref) })
 */
import { escapePointer } from './subset.js'

export type SchemaObject = Record<string, unknown>

function isObject (v: unknown): v is SchemaObject {
  return v != null && typeof v === 'object' && !Array.isArray(v)
}

/** Calls `fn` for the schema and every subschema below it (depth first, document order). */
export function forEachSubschema (schema: unknown, pointer: string, fn: (s: SchemaObject, pointer: string) => void): void {
  if (!isObject(schema)) return
  fn(schema, pointer)
  for (const k of ['properties', '$defs']) {
    const m = schema[k]
    if (isObject(m)) for (const [name, sub] of Object.entries(m)) forEachSubschema(sub, `${pointer}/${k}/${escapePointer(name)}`, fn)
  }
  for (const k of ['additionalProperties', 'items', 'not']) forEachSubschema(schema[k], `${pointer}/${k}`, fn)
  for (const k of ['prefixItems', 'allOf', 'anyOf', 'oneOf']) {
    const list = schema[k]
    if (Array.isArray(list)) list.forEach((sub, i) => { forEachSubschema(sub, `${pointer}/${k}/${i}`, fn) })
  }
}

/** Same traversal, rebuilding the document with `map` applied to each schema object (children first mapped). */
export function mapSubschemas (schema: unknown, fn: (s: SchemaObject) => SchemaObject): unknown {
  if (!isObject(schema)) return schema
  const out: SchemaObject = { ...schema }
  for (const k of ['properties', '$defs']) {
    const m = schema[k]
    if (isObject(m)) out[k] = Object.fromEntries(Object.entries(m).map(([name, sub]) => [name, mapSubschemas(sub, fn)]))
  }
  for (const k of ['additionalProperties', 'items', 'not']) if (k in schema) out[k] = mapSubschemas(schema[k], fn)
  for (const k of ['prefixItems', 'allOf', 'anyOf', 'oneOf']) {
    const list = schema[k]
    if (Array.isArray(list)) out[k] = list.map(sub => mapSubschemas(sub, fn))
  }
  return fn(out)
}

/** Unescapes one JSON pointer token. */
export function unescapePointer (token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~')
}
