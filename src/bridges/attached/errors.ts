/**
 * Errors of attached providers (docs/errors/attached.md). Errors about a
 * frame go back to the client as `{type:'error', error:{name, message}}` and
 * are counted (`pl_rejected_total{area="attached"}`); errors of a step fail
 * the step (retryable when the process vanished or hung, so the requester
 * fails over).
 */
import { PlError } from '../../core/errors.js'

/** A frame that is not a JSON object with a known `op` and well-formed fields (binary, not JSON, unknown op, bad field). */
export class AttachMessageError extends PlError {
  override name = 'AttachMessageError'
  readonly statusCode = 400
}

/** A frame over the attach frame limit (MAX_ATTACH_FRAME_BYTES); the socket is closed (1009). */
export class AttachFrameTooLargeError extends PlError {
  override name = 'AttachFrameTooLargeError'
  readonly statusCode = 413
}

/** `register` with a spec that is not a capability spec (no `x-pl-capability` {name, version}, no input/output), or a spec CID this node does not hold. */
export class AttachSpecError extends PlError {
  override name = 'AttachSpecError'
  readonly statusCode = 400
}

/** A `result`/`error`/`progress`/`bid` frame naming a call this connection was not asked (unknown, finished, cancelled or timed out). */
export class UnknownAttachedCallError extends PlError {
  override name = 'UnknownAttachedCallError'
  readonly statusCode = 404
}

/** A connection asked for more attachments than MAX_ATTACHMENTS_PER_SOCKET. */
export class TooManyAttachmentsError extends PlError {
  override name = 'TooManyAttachmentsError'
  readonly statusCode = 429
}

/** The attached process disconnected (or was never connected) while a step was awarded to it; retryable. */
export class AttachedProviderGoneError extends PlError {
  override name = 'AttachedProviderGoneError'
}

/** The attached process did not answer within the award's wall limit; the call was cancelled; retryable. */
export class AttachedCallTimeoutError extends PlError {
  override name = 'AttachedCallTimeoutError'
}

/** The attached process answered the call with an error (its handler threw, its router refused the input or the output); `details.remote` names the client's error. */
export class AttachedHandlerError extends PlError {
  override name = 'AttachedHandlerError'
}
