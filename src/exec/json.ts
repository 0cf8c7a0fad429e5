/**
 * Module outputs must be JSON: they are journaled as dag-cbor by CID, sent to
 * peers and printed by the CLI. `toJsonValue` returns a clean copy (object
 * members that are `undefined` dropped, as JSON.stringify does) or throws
 * InvalidOutputError naming the first offending path.
 */
import { InvalidOutputError } from './errors.js'

export function toJsonValue (value: unknown): unknown {
  if (value === undefined) return null
  return clean(value, '$', new Set())
}

function clean (value: unknown, path: string, ancestors: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (!Number.isFinite(value)) throw bad(path, `the number ${String(value)} (JSON has no NaN or Infinity)`)
      return value
    case 'bigint':
      throw bad(path, `a BigInt (${String(value)}n); return it as a string or a number`)
    case 'function':
      throw bad(path, 'a function')
    case 'symbol':
      throw bad(path, 'a symbol')
    case 'undefined':
      return null
  }
  if (value === null) return null
  const obj = value as Record<string, unknown>
  if (ancestors.has(obj)) throw bad(path, 'a cyclic reference')
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function' && !Array.isArray(obj)) {
    return clean((obj as { toJSON: () => unknown }).toJSON(), path, ancestors)
  }
  ancestors.add(obj)
  try {
    if (Array.isArray(obj)) return obj.map((v, i) => clean(v, `${path}[${i}]`, ancestors))
    const proto = Object.getPrototypeOf(obj)
    if (proto !== Object.prototype && proto !== null) {
      throw bad(path, `an instance of ${String(proto?.constructor?.name ?? 'an unknown class')}; return plain objects and arrays`)
    }
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined) continue
      out[k] = clean(v, `${path}.${k}`, ancestors)
    }
    return out
  } finally {
    ancestors.delete(obj)
  }
}

function bad (path: string, what: string): InvalidOutputError {
  return new InvalidOutputError(`module output is not JSON: ${path} is ${what}`, { path })
}
