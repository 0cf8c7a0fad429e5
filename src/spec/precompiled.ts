/**
 * Precompiled validators of the protocol schemas: ajv standalone code
 * generated at build time (scripts/build-validators.mjs writes
 * `validators.generated.cjs` next to this module), so a starting node loads
 * plain functions instead of compiling every schema with ajv (a few hundred
 * ms of CPU). Each validator is filed under the CID of the schema it was
 * generated from: a schema file edited after the build has another CID, and
 * the registry compiles that one at run time instead.
 *
 * @example
 * const fns = loadPrecompiled() // ./precompile-emit.ts writes them
 * fns?.validators.get(cidStringOf(schema))?.(doc) // true / false, errors on .errors
 */
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import type { ValidateFunction } from 'ajv/dist/2020.js'
import { compiledUrl } from '../core/paths.js'

/** The file the build writes next to this module. */
export const PRECOMPILED_FILE = 'validators.generated.cjs'

/** The ajv options of the registry: generated and run-time validators must be the same engine, same options. */
export const REGISTRY_AJV_OPTIONS = { allErrors: false, strict: false, ownProperties: true } as const

/** Hash of a schema file's text, under which the build files the schema's CID. */
export function textHash (text: string): string {
  return createHash('sha256').update(text).digest('base64url')
}

export interface Precompiled {
  /** validators by schema CID */
  validators: Map<string, ValidateFunction>
  /** schema CIDs by the hash (textHash) of the file they were read from */
  cidByText: Map<string, string>
}

/** The build's validators by schema CID; undefined when the build did not write them (or they do not load). */
export function loadPrecompiled (): Precompiled | undefined {
  let mod: Record<string, unknown> & { __byCid?: Record<string, string>, __cidByText?: Record<string, string> }
  try {
    // next to this module in the tsc output, also when the node runs from the bundle
    mod = createRequire(compiledUrl('spec/precompiled.js'))(`./${PRECOMPILED_FILE}`)
  } catch {
    return undefined
  }
  const validators = new Map<string, ValidateFunction>()
  for (const [cid, name] of Object.entries(mod.__byCid ?? {})) {
    const fn = mod[name]
    if (typeof fn === 'function') validators.set(cid, fn as ValidateFunction)
  }
  return { validators, cidByText: new Map(Object.entries(mod.__cidByText ?? {})) }
}
