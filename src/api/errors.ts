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

/** A control API JSON body (or JSON query value) nests deeper than the API accepts (HTTP 400; default 128 levels). */
export class RequestTooDeepError extends PlError {
  override name = 'RequestTooDeepError'
}

/** No control API route for that method and path (HTTP 404). */
export class RouteNotFoundError extends PlError {
  override name = 'RouteNotFoundError'
}
