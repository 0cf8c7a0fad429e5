/**
 * Base of every typed error in pl. One class per condition, discriminated by
 * `.name` (never rely on `instanceof` across a worker or the wire). Errors
 * that cross a boundary travel as plain `ErrorData` and are rebuilt with
 * `errorFromData`.
 */
export interface ErrorData {
  name: string
  message: string
  details?: Record<string, unknown>
  retryable?: boolean
  stack?: string
}

export class PlError extends Error {
  static readonly code: string = 'PlError'
  override name = 'PlError'
  details: Record<string, unknown>
  retryable: boolean

  constructor (message: string, details: Record<string, unknown> = {}, retryable = false) {
    super(message)
    this.details = details
    this.retryable = retryable
  }

  toData (): ErrorData {
    return errorToData(this)
  }
}

/** Plain-data form of any thrown value, safe to send over a worker port or the wire. */
export function errorToData (err: unknown): ErrorData {
  if (err instanceof Error) {
    const e = err as Error & { details?: Record<string, unknown>, retryable?: boolean }
    const out: ErrorData = { name: e.name, message: e.message }
    if (e.details != null && typeof e.details === 'object') out.details = e.details
    if (typeof e.retryable === 'boolean') out.retryable = e.retryable
    if (typeof e.stack === 'string') out.stack = e.stack
    return out
  }
  return { name: 'Error', message: String(err) }
}

/** A rebuilt remote error: keeps the remote `name` so callers can branch on it. */
export class RemoteError extends PlError {
  override name = 'RemoteError'
  constructor (data: ErrorData) {
    super(data.message, data.details ?? {}, data.retryable ?? false)
    this.name = data.name
    if (data.stack != null) this.stack = data.stack
  }
}

export function errorFromData (data: ErrorData): PlError {
  return new RemoteError(data)
}

// Errors of the core area (encoding, envelopes, identity).

export class InvalidEncodingError extends PlError {
  override name = 'InvalidEncodingError'
}

export class MalformedEnvelopeError extends PlError {
  override name = 'MalformedEnvelopeError'
}

export class UnknownTypeError extends PlError {
  override name = 'UnknownTypeError'
}

export class SchemaMismatchError extends PlError {
  override name = 'SchemaMismatchError'
}

export class InvalidBodyError extends PlError {
  override name = 'InvalidBodyError'
}

export class BadSignatureError extends PlError {
  override name = 'BadSignatureError'
}

export class WrongSenderError extends PlError {
  override name = 'WrongSenderError'
}

export class NotForMeError extends PlError {
  override name = 'NotForMeError'
}

export class ClockSkewError extends PlError {
  override name = 'ClockSkewError'
}

export class EnvelopeExpiredError extends PlError {
  override name = 'EnvelopeExpiredError'
}

/** An envelope whose lifetime (`exp - ts`) is longer than the node accepts. */
export class EnvelopeLifetimeError extends PlError {
  override name = 'EnvelopeLifetimeError'
}

export class ReplayError extends PlError {
  override name = 'ReplayError'
}

export class EnvelopeTooLargeError extends PlError {
  override name = 'EnvelopeTooLargeError'
}

export class IdentityError extends PlError {
  override name = 'IdentityError'
}

/** The identity key file is readable by group or others and cannot be made private (chmod 0600 failed). */
export class IdentityKeyExposedError extends PlError {
  override name = 'IdentityKeyExposedError'
}

export class CidMismatchError extends PlError {
  override name = 'CidMismatchError'
}

/** A module folder is missing, has no entry file, an ambiguous Python class, or a symlink/special file. */
export class ModuleFolderError extends PlError {
  override name = 'ModuleFolderError'
}
