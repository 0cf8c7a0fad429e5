import { PlError } from '../core/errors.js'

export class ControlApiUnavailableError extends PlError {
  override name = 'ControlApiUnavailableError'
}

export class UnauthorizedError extends PlError {
  override name = 'UnauthorizedError'
}
