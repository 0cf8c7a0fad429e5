/**
 * Errors of receipt signing and verification. One class per condition,
 * discriminated by `.name` (see docs/ERRORS.md).
 */
import { PlError } from '../core/errors.js'

/** Not a Receipt.v1 / SignedReceipt.v1 per its schema, or a CID / PeerId in it is not well formed. */
export class ReceiptMalformedError extends PlError {
  override name = 'ReceiptMalformedError'
}

/** A signature does not verify for the key of the peer it claims (`details.signer`: 'provider' | 'requester'). */
export class ReceiptSignatureError extends PlError {
  override name = 'ReceiptSignatureError'
}

/** The signing identity is not the receipt's provider (sign) or requester (countersign). */
export class ReceiptSignerMismatchError extends PlError {
  override name = 'ReceiptSignerMismatchError'
}

/** The requester's countersignature is required but absent. */
export class ReceiptNotCountersignedError extends PlError {
  override name = 'ReceiptNotCountersignedError'
}

/** The receipt does not refer to the award it answers: award id, run, step, capability, provider, requester or `prev` differ (`details.field`). */
export class ReceiptAwardMismatchError extends PlError {
  override name = 'ReceiptAwardMismatchError'
}

/** The receipt's `input` is not the CID of the input the requester sent. */
export class ReceiptInputMismatchError extends PlError {
  override name = 'ReceiptInputMismatchError'
}

/** The receipt's `output` is not the CID of the output bytes the requester received. */
export class ReceiptOutputMismatchError extends PlError {
  override name = 'ReceiptOutputMismatchError'
}

/** The receipt reports usage above the limits of the award (`details`: {limit, limit_value, measured}). */
export class ReceiptUsageExceededError extends PlError {
  override name = 'ReceiptUsageExceededError'
}

/** The receipt does not list a policy the requester required (`details.missing`). */
export class ReceiptPolicyMissingError extends PlError {
  override name = 'ReceiptPolicyMissingError'
}

/** The receipt's `status` is not the status of the Result it came with (an `ok` Result with an `error` receipt). */
export class ReceiptStatusMismatchError extends PlError {
  override name = 'ReceiptStatusMismatchError'
}

/** The receipt's `limits` are not the limits of the award it answers (`details.limit`). */
export class ReceiptLimitsMismatchError extends PlError {
  override name = 'ReceiptLimitsMismatchError'
}

/** The receipt's `started` is after its `ended`. */
export class ReceiptTimesInvalidError extends PlError {
  override name = 'ReceiptTimesInvalidError'
}

/** No receipt with that CID, or no receipts for that run, in the local store. */
export class ReceiptNotFoundError extends PlError {
  override name = 'ReceiptNotFoundError'
}

/** A receipt in a chain names a `prev` receipt that is not part of the set. */
export class ReceiptPrevMissingError extends PlError {
  override name = 'ReceiptPrevMissingError'
}

/** Two accepted receipts in a chain claim the same step of the same run. */
export class DuplicateStepReceiptError extends PlError {
  override name = 'DuplicateStepReceiptError'
}

/** A chain mixes receipts of several runs, or is empty. */
export class ReceiptChainRunError extends PlError {
  override name = 'ReceiptChainRunError'
}

/** A chain mixes receipts of several requesters, or names another requester than the one expected. */
export class ReceiptChainRequesterError extends PlError {
  override name = 'ReceiptChainRequesterError'
}

/** A receipts export file is not `{v: 1, run, root, receipts}`, or its `root` is not the root of its receipts. */
export class ReceiptExportError extends PlError {
  override name = 'ReceiptExportError'
}

/** A receipt names an inner run receipt (`inner.receipts`) that is not in the set (`details.receipt`, `details.inner`). */
export class ReceiptInnerMissingError extends PlError {
  override name = 'ReceiptInnerMissingError'
}

/** A receipt listed in another's `inner.receipts` is not of that inner run, or not requested by the outer receipt's provider (`details.field`). */
export class ReceiptInnerMismatchError extends PlError {
  override name = 'ReceiptInnerMismatchError'
}
