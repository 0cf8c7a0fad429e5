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
