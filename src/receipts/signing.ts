/**
 * Receipt signatures. The provider signs `"pl/receipt/v1" || dagcbor(receipt)`,
 * the requester accepts by countersigning `"pl/receipt-accept/v1" || dagcbor(receipt)`.
 * Both are ed25519 (node crypto), base64url without padding, and the signer
 * keys are the ones embedded in `receipt.provider` / `receipt.requester`.
 *
 * @example
 * const signed = signReceipt(provider, receipt)
 * const accepted = countersignReceipt(requester, signed)
 * verifySignedReceipt(accepted, { requireRequester: true })
 * receiptCid(accepted.receipt) // 'bafyrei...'
 */
import { cidStringOf, encodeCanonical, fromBase64url, parseCid, stripUndefined, toBase64url } from '../core/encoding.js'
import { verifyByPeer, publicKeyOfPeer, type Identity } from '../core/index.js'
import { SchemaRegistry, formatAjvErrors } from '../spec/index.js'
import type { ReceiptV1, SignedReceiptV1 } from '../wire/index.js'
import { ReceiptMalformedError, ReceiptNotCountersignedError, ReceiptSignatureError, ReceiptSignerMismatchError } from './errors.js'

export const RECEIPT_DOMAIN = 'pl/receipt/v1'
export const RECEIPT_ACCEPT_DOMAIN = 'pl/receipt-accept/v1'

/** A Receipt.v1 document (protocols/schemas/Receipt.v1.json; `output` is '' when the step produced none). */
export type Receipt = ReceiptV1

/** A SignedReceipt.v1 document. */
export type SignedReceipt = SignedReceiptV1

export interface ReceiptOptions {
  /** validates against this registry instead of the package's protocols/schemas */
  registry?: SchemaRegistry
}

export interface VerifyReceiptOptions extends ReceiptOptions {
  /** fail with ReceiptNotCountersignedError when `requester_sig` is absent @default false */
  requireRequester?: boolean
}

let defaultRegistry: SchemaRegistry | undefined

function registryOf (options: ReceiptOptions): SchemaRegistry {
  if (options.registry != null) return options.registry
  defaultRegistry ??= SchemaRegistry.loadSync()
  return defaultRegistry
}

const encoder = new TextEncoder()

/** `domain` (UTF-8) followed by the dag-cbor of `value`: the bytes a domain-separated signature covers. */
export function withDomain (domain: string, value: unknown): Uint8Array {
  const tag = encoder.encode(domain)
  const body = encodeCanonical(value)
  const out = new Uint8Array(tag.byteLength + body.byteLength)
  out.set(tag, 0)
  out.set(body, tag.byteLength)
  return out
}

/** The bytes the provider signs. */
export function receiptSigningBytes (receipt: Receipt): Uint8Array {
  return withDomain(RECEIPT_DOMAIN, receipt)
}

/** The bytes the requester countersigns. */
export function receiptAcceptBytes (receipt: Receipt): Uint8Array {
  return withDomain(RECEIPT_ACCEPT_DOMAIN, receipt)
}

/** CIDv1(dag-cbor, sha2-256) of the receipt's canonical bytes, base32. */
export function receiptCid (receipt: Receipt): string {
  return cidStringOf(receipt)
}

function checkReceipt (value: unknown, registry: SchemaRegistry): asserts value is Receipt {
  const entry = registry.get('Receipt.v1')
  if (entry.validate(value) !== true) {
    throw new ReceiptMalformedError(`not a Receipt.v1: ${formatAjvErrors(entry.validate.errors)}`, { errors: entry.validate.errors?.slice(0, 5) ?? [] })
  }
  const receipt = value as Receipt
  checkCids(receipt)
  for (const role of ['provider', 'requester'] as const) {
    try {
      publicKeyOfPeer(receipt[role])
    } catch (err) {
      throw new ReceiptMalformedError(`receipt ${role} is not an ed25519 PeerId: ${(err as Error).message}`, { field: role })
    }
  }
}

/** The schema only checks the alphabet; a CID must also parse (version, codec, multihash). */
function checkCids (receipt: Receipt): void {
  const fields: Array<[string, string]> = [['input', receipt.input], ...receipt.prev.map((c, i): [string, string] => [`prev/${i}`, c]), ...(receipt.inner?.receipts ?? []).map((c, i): [string, string] => [`inner/receipts/${i}`, c])]
  if (receipt.output !== '') fields.push(['output', receipt.output])
  for (const [field, text] of fields) {
    try {
      const cid = parseCid(text)
      if (cid.version !== 1 || cid.multihash.code !== 0x12 || cid.multihash.digest.byteLength !== 32) throw new Error('not CIDv1 sha2-256')
    } catch {
      throw new ReceiptMalformedError(`receipt ${field} is not a well-formed CIDv1 (sha2-256): ${JSON.stringify(text).slice(0, 80)}`, { field })
    }
  }
}

function checkSigned (signed: unknown, registry: SchemaRegistry): asserts signed is SignedReceipt {
  const entry = registry.get('SignedReceipt.v1')
  if (!entry.validate(signed)) {
    throw new ReceiptMalformedError(`not a SignedReceipt.v1: ${formatAjvErrors(entry.validate.errors)}`, { errors: entry.validate.errors?.slice(0, 5) ?? [] })
  }
  checkReceipt((signed as SignedReceipt).receipt, registry)
}

/** Signs `receipt` as its provider. Throws ReceiptSignerMismatchError unless `identity` is `receipt.provider`. */
export function signReceipt (identity: Identity, receipt: Receipt, options: ReceiptOptions = {}): SignedReceipt {
  const clean = stripUndefined(receipt)
  checkReceipt(clean, registryOf(options))
  if (identity.id !== clean.provider) {
    throw new ReceiptSignerMismatchError(`only the provider ${clean.provider} can sign this receipt (signer is ${identity.id})`, { expected: clean.provider, actual: identity.id })
  }
  return { receipt: clean, provider_sig: toBase64url(identity.sign(receiptSigningBytes(clean))) }
}

/**
 * Countersigns a provider-signed receipt as its requester, after checking the
 * provider's signature. Throws ReceiptSignerMismatchError unless `identity` is `receipt.requester`.
 */
export function countersignReceipt (identity: Identity, signed: SignedReceipt, options: ReceiptOptions = {}): SignedReceipt {
  verifySignedReceipt(signed, { ...options, requireRequester: false })
  return countersignVerified(identity, signed)
}

/**
 * countersignReceipt without the check, for a receipt the caller has just
 * verified (verifyReceiptAgainst) or signed itself: the same bytes are not
 * validated and verified twice.
 */
export function countersignVerified (identity: Identity, signed: SignedReceipt): SignedReceipt {
  if (identity.id !== signed.receipt.requester) {
    throw new ReceiptSignerMismatchError(`only the requester ${signed.receipt.requester} can countersign this receipt (signer is ${identity.id})`, { expected: signed.receipt.requester, actual: identity.id })
  }
  return { receipt: signed.receipt, provider_sig: signed.provider_sig, requester_sig: toBase64url(identity.sign(receiptAcceptBytes(signed.receipt))) }
}

function verifyOne (signer: 'provider' | 'requester', peer: string, bytes: Uint8Array, sig: string): void {
  let ok = false
  try {
    const raw = fromBase64url(sig)
    // one byte string has one text form: reject non-canonical base64url (stray trailing bits)
    ok = toBase64url(raw) === sig && verifyByPeer(peer, bytes, raw)
  } catch {
    ok = false
  }
  if (!ok) throw new ReceiptSignatureError(`the ${signer} signature does not verify for ${peer}`, { signer, peer })
}

/**
 * Checks a SignedReceipt: both documents valid per schema, CIDs well formed,
 * the provider's signature and (when present, or required) the requester's.
 */
export function verifySignedReceipt (signed: unknown, options: VerifyReceiptOptions = {}): asserts signed is SignedReceipt {
  checkSigned(signed, registryOf(options))
  const { receipt } = signed
  verifyOne('provider', receipt.provider, receiptSigningBytes(receipt), signed.provider_sig)
  if (signed.requester_sig == null) {
    if (options.requireRequester === true) throw new ReceiptNotCountersignedError(`receipt is not countersigned by its requester ${receipt.requester}`, { requester: receipt.requester })
    return
  }
  verifyOne('requester', receipt.requester, receiptAcceptBytes(receipt), signed.requester_sig)
}
