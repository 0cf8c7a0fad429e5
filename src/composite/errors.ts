/**
 * Errors of composite capabilities (src/composite): one class per condition,
 * discriminated by `.name` (docs/errors/composite.md).
 */
import { PlError } from '../core/errors.js'

/** The plan a composite names (a file, or a plan CID in the block store) cannot be found. */
export class CompositePlanNotFoundError extends PlError {
  override name = 'CompositePlanNotFoundError'
}

/** The plan of a composite does not compile (`details.cause`: the DSL error's name). */
export class CompositePlanInvalidError extends PlError {
  override name = 'CompositePlanInvalidError'
}

/** A composite's plan names the composite's own capability: it would call itself. */
export class CompositeSelfCallError extends PlError {
  override name = 'CompositeSelfCallError'
}

/**
 * A composite call is nested deeper than the node's maximum depth: its inner
 * run would call further composites (a cycle through the mesh, most often).
 * Never retried.
 */
export class CallDepthExceededError extends PlError {
  override name = 'CallDepthExceededError'
}

/** The inner run of a composite step failed (`details.inner`: its run id, `details.error`: its error). */
export class CompositeRunFailedError extends PlError {
  override name = 'CompositeRunFailedError'
}
