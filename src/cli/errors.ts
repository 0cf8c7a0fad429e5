/** Errors of the command-line front end. */
import { PlError } from '../core/errors.js'

/** A file named on the command line does not exist. */
export class InputFileNotFoundError extends PlError {
  override name = 'InputFileNotFoundError'
}
