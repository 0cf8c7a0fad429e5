/**
 * Errors of the trust area: attestations, revocations, trusted issuers,
 * policies by CID, plan constraints and io schema checks. One class per
 * condition (docs/errors/trust.md).
 */
import { PlError } from '../core/errors.js'

/** Not an Attestation.v1 / Revocation.v1: schema, claim keys or values, PeerIds. */
export class AttestationMalformedError extends PlError {
  override name = 'AttestationMalformedError'
}

/** The issuer's signature over an attestation does not verify. */
export class AttestationSignatureError extends PlError {
  override name = 'AttestationSignatureError'
}

/** The attestation is about another peer (or another capability) than the one it is presented for. */
export class AttestationSubjectMismatchError extends PlError {
  override name = 'AttestationSubjectMismatchError'
}

/** Outside its validity window: before `nbf` or at/after `exp`. */
export class AttestationExpiredError extends PlError {
  override name = 'AttestationExpiredError'
}

/** Its issuer revoked it (a Revocation.v1 signed by the same issuer is known). */
export class AttestationRevokedError extends PlError {
  override name = 'AttestationRevokedError'
}

/** The issuer is not in the trusted issuers, or not trusted for this claim. */
export class UntrustedIssuerError extends PlError {
  override name = 'UntrustedIssuerError'
}

/** A revocation whose signature does not verify, or that is not signed by the attestation's issuer. */
export class RevocationInvalidError extends PlError {
  override name = 'RevocationInvalidError'
}

/** A /pl/revocations request that is not `{attestations: [CID...]}` of at most MAX_SYNC_REQUEST CIDs. */
export class RevocationSyncRequestError extends PlError {
  override name = 'RevocationSyncRequestError'
}

/** A /pl/revocations answer that is not `{revocations: [...]}` of at most MAX_SYNC_ANSWER entries. */
export class RevocationSyncAnswerError extends PlError {
  override name = 'RevocationSyncAnswerError'
}

/** A policy reference (CID, `cid:<CID>` or alias) that resolves to no Policy.v1 here nor in the mesh. */
export class PolicyUnresolvedError extends PlError {
  override name = 'PolicyUnresolvedError'
}

/** A trust file, issuer key file or trusted issuer entry that cannot be read or is invalid. */
export class TrustFileError extends PlError {
  override name = 'TrustFileError'
}

/** A plan constraint the step's output breaks: names the constraint, its limit and the measured value. */
export class ConstraintViolationError extends PlError {
  override name = 'ConstraintViolationError'
  constructor (message: string, details: { constraint: string, limit: unknown, measured: unknown } & Record<string, unknown>) {
    // another provider may honour it: the requester fails over
    super(message, details, true)
  }
}

/** A plan constraint that is not in the vocabulary's syntax (e.g. `length: "short"`). */
export class ConstraintSyntaxError extends PlError {
  override name = 'ConstraintSyntaxError'
}

/** A step's input does not match its capability's input schema (checked by the provider before running). */
export class InputSchemaError extends PlError {
  override name = 'InputSchemaError'
}

/** A step's output does not match its capability's output schema (checked by the requester before countersigning). */
export class OutputSchemaError extends PlError {
  override name = 'OutputSchemaError'
  constructor (message: string, details: Record<string, unknown> = {}) {
    super(message, details, true)
  }
}

/** A receipt's recorded attestations do not check against a trust file. */
export class ReceiptTrustError extends PlError {
  override name = 'ReceiptTrustError'
}
