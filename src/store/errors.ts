import { PlError } from '../core/errors.js'

export class DataDirLockedError extends PlError {
  override name = 'DataDirLockedError'
}

export class StoreVersionError extends PlError {
  override name = 'StoreVersionError'
}

export class StoreClosedError extends PlError {
  override name = 'StoreClosedError'
}

export class BlockNotFoundError extends PlError {
  override name = 'BlockNotFoundError'
}
