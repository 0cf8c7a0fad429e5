import { PlError } from '../core/errors.js'

export class ControlApiUnavailableError extends PlError {
  override name = 'ControlApiUnavailableError'
}

export class UnauthorizedError extends PlError {
  override name = 'UnauthorizedError'
}

/** A control API request body or query is missing fields or ill-typed (HTTP 400). */
export class InvalidRequestError extends PlError {
  override name = 'InvalidRequestError'
}

/** A control API request body is larger than the API accepts (HTTP 413; default 8 MiB). */
export class RequestTooLargeError extends PlError {
  override name = 'RequestTooLargeError'
}

/** A JSON body (or JSON query value) nests deeper than accepted: the node's one JSON guard (src/core/json-guard.ts). */
export { RequestTooDeepError } from '../core/json-guard.js'

/** No control API route for that method and path (HTTP 404). */
export class RouteNotFoundError extends PlError {
  override name = 'RouteNotFoundError'
}
