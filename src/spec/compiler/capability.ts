/**
 * Capability specs. A capability spec is an ordinary JSON Schema document
 * (so it has a CID and compiles like any other) that describes one call as
 * `{input, output}` and names the capability in the `x-pl-capability`
 * annotation:
 *
 * @example
 * {
 *   "$schema": "https://json-schema.org/draft/2020-12/schema",
 *   "$id": "pl:Summarize.v1", "title": "Summarize.v1",
 *   "x-pl-capability": { "name": "Summarize", "version": "1.0.0" },
 *   "type": "object", "required": ["input", "output"],
 *   "properties": { "input": { "$ref": "#/$defs/SummarizeInput" }, "output": { "$ref": "#/$defs/SummarizeOutput" } },
 *   "$defs": { "SummarizeInput": { ... }, "SummarizeOutput": { ... } }
 * }
 *
 * The capability's input schema is `#/properties/input`, its output schema
 * `#/properties/output`; a Capability.v1 descriptor points at them as
 * `{"$ref": "cid:<spec CID>#/properties/input"}` (or names the spec CID).
 */
import type { BundleDoc } from './bundle.js'
import { InvalidSchemaError, NotACapabilitySpecError } from './errors.js'

export const CAPABILITY_KEYWORD = 'x-pl-capability'
export const INPUT_POINTER = '/properties/input'
export const OUTPUT_POINTER = '/properties/output'
/** Same rule as Capability.v1 `name`. */
const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/

export interface CapabilityInfo {
  name: string
  version: string
  description?: string
  doc: BundleDoc
}

/** The capability a document declares, or undefined for a plain schema. Throws InvalidSchemaError when `x-pl-capability` is malformed. */
export function capabilityOf (doc: BundleDoc): CapabilityInfo | undefined {
  const raw = doc.doc[CAPABILITY_KEYWORD]
  if (raw === undefined) return undefined
  const bad = (what: string): never => {
    throw new InvalidSchemaError(`${doc.origin}: ${what} at #/${CAPABILITY_KEYWORD}`, { file: doc.file, pointer: `#/${CAPABILITY_KEYWORD}` })
  }
  if (raw == null || typeof raw !== 'object' || Array.isArray(raw)) bad(`"${CAPABILITY_KEYWORD}" must be an object {name, version, description?}`)
  const c = raw as Record<string, unknown>
  for (const k of Object.keys(c)) if (!['name', 'version', 'description'].includes(k)) bad(`unknown member "${k}" (allowed: name, version, description)`)
  if (typeof c.name !== 'string' || !NAME.test(c.name)) bad('"name" must match ^[A-Za-z][A-Za-z0-9_.-]{0,127}$')
  if (typeof c.version !== 'string' || c.version === '' || c.version.length > 64) bad('"version" must be a non-empty string of at most 64 characters')
  if (c.description !== undefined && typeof c.description !== 'string') bad('"description" must be a string')
  for (const p of [INPUT_POINTER, OUTPUT_POINTER]) {
    if (!doc.positions.has(p)) {
      throw new InvalidSchemaError(`${doc.origin}: a capability spec must define its ${p.split('/').pop() as string} schema at #${p}`, { file: doc.file, pointer: `#${p}` })
    }
  }
  const info: CapabilityInfo = { name: c.name as string, version: c.version as string, doc }
  if (typeof c.description === 'string') info.description = c.description
  else if (typeof doc.doc.description === 'string') info.description = doc.doc.description
  return info
}

/** Like capabilityOf, for commands that need a capability spec. */
export function requireCapability (doc: BundleDoc): CapabilityInfo {
  const info = capabilityOf(doc)
  if (info == null) {
    throw new NotACapabilitySpecError(`${doc.origin} is not a capability spec: it has no "${CAPABILITY_KEYWORD}": {name, version} (see docs/SPEC.md)`, { file: doc.file })
  }
  return info
}
