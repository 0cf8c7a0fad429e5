/**
 * Attestation.v1: an issuer's signed claims about a subject peer, valid from
 * `nbf` to `exp`; Revocation.v1: its issuer withdrawing it. Both carry their
 * signature (`sig`, see signed.ts) and are addressed by the CID of the whole
 * document, so a bid, an award or a receipt can name one by CID.
 *
 * @example
 * const att = issueAttestation(issuer, { subject: provider.id, claims: { region: 'eu-west' }, exp: Date.now() + 86_400_000 })
 * checkAttestation(att, { registry }) // throws AttestationSignatureError, AttestationMalformedError
 * attestationCid(att) // 'bafyrei...'
 */
import { parseCid } from '../core/encoding.js'
import { publicKeyOfPeer, type Identity } from '../core/index.js'
import { formatAjvErrors, SchemaRegistry } from '../spec/index.js'
import { AttestationMalformedError, AttestationSignatureError, RevocationInvalidError } from './errors.js'
import { docCid, signatureValid, signDoc } from './signed.js'
import { CLAIM_KEY, MAX_CLAIM_STRING } from './constants.js'
import { systemClock } from '../core/clock.js'
import type { AttestationV1, RevocationV1 } from '../wire/index.js'

export const ATTESTATION_DOMAIN = 'pl/attestation/v1'
export const REVOCATION_DOMAIN = 'pl/revocation/v1'

export type ClaimValue = string | number | boolean

/** Attestation.v1 (`capability` or `module`: the only descriptor or module CID it holds for; `nbf`, `exp`: ms since epoch) */
export type Attestation = AttestationV1

/** Revocation.v1 (`attestation`: CID of the attestation withdrawn) */
export type Revocation = RevocationV1

export interface IssueInit {
  subject: string
  claims: Record<string, ClaimValue>
  capability?: string
  module?: string
  /** @default now */
  nbf?: number
  exp: number
}

let defaultRegistry: SchemaRegistry | undefined
function registryOf (registry?: SchemaRegistry): SchemaRegistry {
  if (registry != null) return registry
  defaultRegistry ??= SchemaRegistry.loadSync()
  return defaultRegistry
}

/** Checks what the schema cannot say: claim keys and string lengths, PeerIds that decode, CIDs that parse. */
function checkFields (doc: Record<string, unknown>, peers: string[], cids: string[]): void {
  for (const field of peers) {
    try {
      publicKeyOfPeer(String(doc[field]))
    } catch (err) {
      throw new AttestationMalformedError(`${field} is not an ed25519 PeerId: ${(err as Error).message}`, { field })
    }
  }
  for (const field of cids) {
    if (doc[field] == null) continue
    try {
      parseCid(String(doc[field]))
    } catch {
      throw new AttestationMalformedError(`${field} is not a CID: ${JSON.stringify(doc[field]).slice(0, 80)}`, { field })
    }
  }
}

export function issueAttestation (issuer: Identity, init: IssueInit): Attestation {
  const body: Omit<Attestation, 'sig'> = {
    v: 1,
    issuer: issuer.id,
    subject: init.subject,
    ...(init.capability != null ? { capability: init.capability } : {}),
    ...(init.module != null ? { module: init.module } : {}),
    claims: init.claims,
    nbf: init.nbf ?? systemClock.now(),
    exp: init.exp
  }
  const att = signDoc(issuer, ATTESTATION_DOMAIN, body as Record<string, unknown>) as unknown as Attestation
  checkAttestation(att)
  return att
}

/**
 * Throws unless `value` is a well-formed Attestation.v1 whose signature
 * verifies for its issuer. Validity window, subject, trust and revocation
 * are the evaluator's business (evaluate.ts).
 */
export function checkAttestation (value: unknown, registry?: SchemaRegistry): asserts value is Attestation {
  const entry = registryOf(registry).get('Attestation.v1')
  if (entry.validate(value) !== true) throw new AttestationMalformedError(`not an Attestation.v1: ${formatAjvErrors(entry.validate.errors)}`, { errors: entry.validate.errors?.slice(0, 5) ?? [] })
  const att = value as Attestation
  for (const [k, v] of Object.entries(att.claims)) {
    if (!CLAIM_KEY.test(k)) throw new AttestationMalformedError(`claim key ${JSON.stringify(k).slice(0, 80)} is not ${String(CLAIM_KEY)}`, { claim: k.slice(0, 80) })
    if (typeof v === 'string' && v.length > MAX_CLAIM_STRING) throw new AttestationMalformedError(`claim ${k} is ${v.length} characters, at most ${MAX_CLAIM_STRING}`, { claim: k })
    if (typeof v === 'number' && !Number.isFinite(v)) throw new AttestationMalformedError(`claim ${k} is not a finite number`, { claim: k })
  }
  if (att.exp <= att.nbf) throw new AttestationMalformedError(`exp (${att.exp}) is not after nbf (${att.nbf})`, { nbf: att.nbf, exp: att.exp })
  checkFields(att as unknown as Record<string, unknown>, ['issuer', 'subject'], ['capability', 'module'])
  if (!signatureValid(ATTESTATION_DOMAIN, att as unknown as Record<string, unknown>, att.issuer)) {
    throw new AttestationSignatureError(`the issuer signature does not verify for ${att.issuer}`, { issuer: att.issuer })
  }
}

export function attestationCid (att: Attestation): string {
  return docCid(att)
}

export function issueRevocation (issuer: Identity, attestation: string, reason?: string, ts = systemClock.now()): Revocation {
  const body = { v: 1 as const, issuer: issuer.id, attestation, ts, ...(reason != null ? { reason } : {}) }
  return signDoc(issuer, REVOCATION_DOMAIN, body)
}

/** Throws RevocationInvalidError unless `value` is a Revocation.v1 signed by its issuer. Whether that issuer issued the attestation is checked where the attestation is known. */
export function checkRevocation (value: unknown, registry?: SchemaRegistry): asserts value is Revocation {
  const entry = registryOf(registry).get('Revocation.v1')
  if (entry.validate(value) !== true) throw new RevocationInvalidError(`not a Revocation.v1: ${formatAjvErrors(entry.validate.errors)}`, { errors: entry.validate.errors?.slice(0, 5) ?? [] })
  const rev = value as Revocation
  try {
    checkFields(rev as unknown as Record<string, unknown>, ['issuer'], ['attestation'])
  } catch (err) {
    throw new RevocationInvalidError((err as Error).message, { field: (err as AttestationMalformedError).details.field })
  }
  if (!signatureValid(REVOCATION_DOMAIN, rev as unknown as Record<string, unknown>, rev.issuer)) {
    throw new RevocationInvalidError(`the revocation signature does not verify for ${rev.issuer}`, { issuer: rev.issuer })
  }
}
