/**
 * Errors of the spec compiler (`pl spec ...`). One class per condition,
 * discriminated by `.name`; each is listed in docs/errors/spec.md.
 */
import { PlError } from '../../core/errors.js'

/** A spec file or folder cannot be read, or a file is not JSON. */
export class SpecFileError extends PlError {
  override name = 'SpecFileError'
}

/** A keyword's value is malformed (e.g. `minLength: -1`, `type: "strin"`); `details.pointer` says where. */
export class InvalidSchemaError extends PlError {
  override name = 'InvalidSchemaError'
}

/** A keyword outside the supported subset (docs/SPEC.md); `details.keyword` and `details.pointer` name it. */
export class UnsupportedKeywordError extends PlError {
  override name = 'UnsupportedKeywordError'
}

/** A `pattern` uses regex syntax that TS, Python `re` and Go RE2 do not share (lookaround, backreferences, \p{..}). */
export class UnsupportedPatternError extends PlError {
  override name = 'UnsupportedPatternError'
}

/** A `$ref` names nothing this compiler can find (not a local pointer, a known $id, or a CID in the sources). */
export class UnresolvedRefError extends PlError {
  override name = 'UnresolvedRefError'
}

/** Two different schema documents claim the same `$id`. */
export class DuplicateSchemaIdError extends PlError {
  override name = 'DuplicateSchemaIdError'
}

/** `scaffold`/`stub` got a schema without `x-pl-capability` (a capability spec has it, plus input/output). */
export class NotACapabilitySpecError extends PlError {
  override name = 'NotACapabilitySpecError'
}

/** `--lang` names a language the compiler does not generate. */
export class UnknownLanguageError extends PlError {
  override name = 'UnknownLanguageError'
}

/** `scaffold` would overwrite files in a non-empty folder. */
export class ScaffoldTargetExistsError extends PlError {
  override name = 'ScaffoldTargetExistsError'
}

/**
 * A `properties` / `$defs` / `required` name the compiler cannot treat the same in all three languages:
 * `__proto__` as a property or `$defs` name (ajv, the reference, skips it), `""` in `required` (ajv never
 * enforces it), or a lone surrogate (no UTF-8 form).
 */
export class UnsupportedNameError extends PlError {
  override name = 'UnsupportedNameError'
}

/**
 * A `$ref` cycle that never descends into a member or an item (`A: {oneOf: [{$ref: A}]}`): every
 * validator would recurse forever on any document (a fatal stack overflow in Go). `details.cycle` lists the pointers.
 */
export class RefCycleError extends PlError {
  override name = 'RefCycleError'
}

/** `pl spec from-plan`: a plan cannot be turned into a capability spec (a step's capability has no io schema, router mode, a binding the capability does not take). */
export class FromPlanError extends PlError {
  override name = 'FromPlanError'
}
