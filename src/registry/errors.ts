/**
 * Errors of the workflow registry. Each carries the HTTP status the gateway
 * answers with (`statusCode`), so a route plugin never maps names by hand.
 */
import { PlError } from '../core/errors.js'

/** A registry request that is ill-formed beyond what the route schema catches (exactly one source, a bad base64 bundle...). */
export class InvalidWorkflowRequestError extends PlError {
  override name = 'InvalidWorkflowRequestError'
  readonly statusCode = 400
}

/** A workflow id that is not 1–128 characters of `[A-Za-z0-9._-]` starting with a letter or digit. */
export class InvalidWorkflowIdError extends PlError {
  override name = 'InvalidWorkflowIdError'
  readonly statusCode = 400
}

/** A version that is not semver `MAJOR.MINOR.PATCH[-pre][+build]`. */
export class InvalidWorkflowVersionError extends PlError {
  override name = 'InvalidWorkflowVersionError'
  readonly statusCode = 400
}

/** A bundle or plan that does not load (unsafe ZIP, bad workflow.json, DSL error); `details.cause` names the loader's error. */
export class InvalidWorkflowBundleError extends PlError {
  override name = 'InvalidWorkflowBundleError'
  readonly statusCode = 400
}

/** The workflow id in the URL differs from the one in the bundle's workflow.json. */
export class WorkflowIdMismatchError extends PlError {
  override name = 'WorkflowIdMismatchError'
  readonly statusCode = 400
}

/** A bundle or plan over the registry's size limit. */
export class WorkflowBundleTooLargeError extends PlError {
  override name = 'WorkflowBundleTooLargeError'
  readonly statusCode = 413
}

/** No such workflow here, and no peer of the mesh serves it. */
export class WorkflowNotFoundInRegistryError extends PlError {
  override name = 'WorkflowNotFoundInRegistryError'
  readonly statusCode = 404
}

/** The workflow is known but has no such version. */
export class WorkflowVersionNotFoundError extends PlError {
  override name = 'WorkflowVersionNotFoundError'
  readonly statusCode = 404
}

/** The workflow was deleted (a signed tombstone is its latest record). */
export class WorkflowDeletedError extends PlError {
  override name = 'WorkflowDeletedError'
  readonly statusCode = 410
}

/** `POST /workflows` for an id that is registered already (with another version or bundle): use PUT to add a version. */
export class WorkflowExistsError extends PlError {
  override name = 'WorkflowExistsError'
  readonly statusCode = 409
}

/** A new version that is not greater (semver) than the latest registered one. */
export class WorkflowVersionConflictError extends PlError {
  override name = 'WorkflowVersionConflictError'
  readonly statusCode = 409
}

/** `?purge=1` without the admin scope. */
export class PurgeForbiddenError extends PlError {
  override name = 'PurgeForbiddenError'
  readonly statusCode = 403
}

/** A record from a peer that fails verification (signature, schema, signer, workflow id). */
export class InvalidWorkflowRecordError extends PlError {
  override name = 'InvalidWorkflowRecordError'
  readonly statusCode = 502
}

/** A `/pl/workflows` request or answer that is not the documented shape. */
export class InvalidWorkflowsAnswerError extends PlError {
  override name = 'InvalidWorkflowsAnswerError'
  readonly statusCode = 502
}

/** The registry service is not started, or the node runs no executor / discovery it needs. */
export class RegistryUnavailableError extends PlError {
  override name = 'RegistryUnavailableError'
  readonly statusCode = 503
}

/** `execute_dsl` names an addon this node's executor does not configure. */
export class RunAddonMissingError extends PlError {
  override name = 'RunAddonMissingError'
  readonly statusCode = 400
}

// the query language (src/registry/query.ts)

/** A `$`-key that is not one of the documented operators (`$where`, `$regex`, `$expr`...). */
export class UnknownQueryOperatorError extends PlError {
  override name = 'UnknownQueryOperatorError'
  readonly statusCode = 400
}

/** A key that could reach an object's prototype (`__proto__`, `constructor`, `prototype`), or a field that is not queryable. */
export class ForbiddenQueryKeyError extends PlError {
  override name = 'ForbiddenQueryKeyError'
  readonly statusCode = 400
}

/** A filter nested deeper than the limit (default 8). */
export class QueryTooDeepError extends PlError {
  override name = 'QueryTooDeepError'
  readonly statusCode = 400
}

/** An array in a query longer than the limit (default 1000), or a `limit` over the maximum. */
export class QueryTooLargeError extends PlError {
  override name = 'QueryTooLargeError'
  readonly statusCode = 400
}

/** An operand of the wrong type (a regex, a function, an object where a value belongs, a non-array `$in`...). */
export class InvalidQueryOperandError extends PlError {
  override name = 'InvalidQueryOperandError'
  readonly statusCode = 400
}

/** A cursor that is not one this node issued for the same filter and sort. */
export class InvalidQueryCursorError extends PlError {
  override name = 'InvalidQueryCursorError'
  readonly statusCode = 400
}
