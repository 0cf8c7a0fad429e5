/**
 * Domain-separated ed25519 signatures over documents that carry their own
 * `sig` (Attestation.v1, Revocation.v1): signed bytes = domain tag ||
 * dag-cbor(document without `sig`); the signer is the document's `issuer`.
 */
import { fromBase64url, toBase64url, cidStringOf } from '../core/encoding.js'
import { withDomain } from '../receipts/index.js'
import { verifyByPeer, type Identity } from '../core/index.js'

export function signingBytes (domain: string, doc: Record<string, unknown>): Uint8Array {
  const { sig: _sig, ...body } = doc
  return withDomain(domain, body)
}

export function signDoc<T extends Record<string, unknown>> (identity: Identity, domain: string, body: T): T & { sig: string } {
  return { ...body, sig: toBase64url(identity.sign(signingBytes(domain, body))) }
}

/** True when `doc.sig` is the canonical base64url of a valid signature by `signer`. */
export function signatureValid (domain: string, doc: Record<string, unknown>, signer: string): boolean {
  try {
    const sig = String(doc.sig)
    const raw = fromBase64url(sig)
    return toBase64url(raw) === sig && verifyByPeer(signer, signingBytes(domain, doc), raw)
  } catch {
    return false
  }
}

/** The content address of a signed document (dag-cbor, sha2-256, with its `sig`). */
export function docCid (doc: unknown): string {
  return cidStringOf(doc)
}
