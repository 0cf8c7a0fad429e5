/**
 * Errors of negotiation and remote execution. One class per condition,
 * discriminated by `.name`; provider-side refusals travel back to the
 * requester as REJECTED responses carrying the same name.
 */
import { PlError } from '../core/errors.js'

/** A condition worth retrying (another provider, later): `retryable` is always true. */
abstract class RetryableError extends PlError {
  constructor (message: string, details: Record<string, unknown> = {}) { super(message, details, true) }
}

/** Discovery found no provider (other than this node) for the capability. */
export class NoProvidersError extends PlError {
  override name = 'NoProvidersError'
}

/**
 * Candidates were asked but none made a usable bid; the message names each candidate's answer.
 * Retryable when one of them declined `busy` (at its limit of open bids or active steps: a
 * transient refusal), so the executor's retry policy tries the step again.
 */
export class NoBidsError extends PlError {
  override name = 'NoBidsError'
}

/** Every awarded provider (winner and backups) failed within the attempt and round limits. */
export class AllProvidersFailedError extends RetryableError {
  override name = 'AllProvidersFailedError'
}

/** A call for proposals arrived after its `reply_by` or `deadline`. */
export class CfpExpiredError extends PlError {
  override name = 'CfpExpiredError'
}

/** An award names a bid this provider never made (or made for another requester). */
export class UnknownBidError extends PlError {
  override name = 'UnknownBidError'
}

/** An award arrived after the bid it accepts expired. */
export class BidExpiredError extends PlError {
  override name = 'BidExpiredError'
}

/** A second award for a bid that was already awarded (one award per bid). */
export class BidAlreadyAwardedError extends PlError {
  override name = 'BidAlreadyAwardedError'
}

/** An award's fields disagree with the bid and call it accepts (`details.field`). */
export class AwardMismatchError extends PlError {
  override name = 'AwardMismatchError'
}

/** The provider is at its limit of active remote steps. */
export class ProviderBusyError extends RetryableError {
  override name = 'ProviderBusyError'
}

/** An exec request names an award this provider did not accept from that peer. */
export class UnknownAwardError extends PlError {
  override name = 'UnknownAwardError'
}

/** An exec request for an award that is already running or finished. */
export class AwardAlreadyExecutedError extends PlError {
  override name = 'AwardAlreadyExecutedError'
}

/** The step input is not inline and the provider has no way to fetch it. */
export class InputUnavailableError extends RetryableError {
  override name = 'InputUnavailableError'
}

/** The step input document is not `{input_data, parameters, settings, global_settings, global_parameters}`. */
export class InvalidStepInputError extends PlError {
  override name = 'InvalidStepInputError'
}

/** A bid or decline does not answer the call it claims to (cfp id, run, step), or the bid already expired. */
export class InvalidBidError extends PlError {
  override name = 'InvalidBidError'
}

/** A Result does not answer the award (award id, run, step), or lacks its output or receipt. */
export class InvalidResultError extends PlError {
  override name = 'InvalidResultError'
}

/** The provider ran the step and the step failed; `details.remote` is the provider's error. */
export class RemoteStepFailedError extends PlError {
  override name = 'RemoteStepFailedError'
}

/** The step's negotiation deadline passed before any provider delivered. */
export class NegotiationDeadlineError extends RetryableError {
  override name = 'NegotiationDeadlineError'
}

/** No award explanation is stored for that run (and step). */
export class ExplanationNotFoundError extends PlError {
  override name = 'ExplanationNotFoundError'
}

/** A step's output is larger than the provider returns (`details.size`, `details.max`). */
export class StepOutputTooLargeError extends PlError {
  override name = 'StepOutputTooLargeError'
}
