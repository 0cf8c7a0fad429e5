/**
 * Trust: who vouches for a provider, and what a plan may demand of its
 * output. Attestation.v1 (an issuer's signed claims about a peer, valid from
 * nbf to exp), Revocation.v1 (gossiped on `pl/v1/revocations`), trusted
 * issuers (config + data dir trust.json), Policy.v1 by CID (local or
 * fetched from the mesh), the evaluation negotiation uses to admit bids,
 * the plan's constraint vocabulary and io schema checks. See docs/TRUST.md.
 *
 * @example
 * const att = issueAttestation(auditor, { subject: provider.id, claims: { region: 'eu-west' }, exp: Date.now() + 86_400_000 })
 * await node.service<TrustService>('trust').addAttestation(att)   // on the provider: carried in its bids
 * // on the requester: trust.issuers: [{ key: auditor.id, name: 'auditor' }] and a policy with residency: [eu-west]
 */
export * from './errors.js'
export * from './attestation.js'
export * from './evaluate.js'
export * from './issuers.js'
export * from './constraints.js'
export { IoSchemas } from './io-schemas.js'
export { signDoc, signingBytes, signatureValid, docCid } from './signed.js'
export { trust, TrustService, exportTrust, readPolicyFile, revocationKey, SUBLEVELS, type TrustInit, type TrustComponents, type BidEvidence, type RevocationSyncResult } from './service.js'
export { revocationSyncProtocol, checkSyncRequest, checkSyncAnswer, type SyncRequest, type SyncAnswer } from './revocation-sync.js'
export { REVOCATION_TOPIC, REVOCATION_SYNC_PROTOCOL, MAX_SYNC_REQUEST, MAX_SYNC_ANSWER, TRUST_FILE, CLAIM_KEY } from './constants.js'
export { checkReceiptsTrust, type ReceiptTrustSummary } from './receipt-check.js'
