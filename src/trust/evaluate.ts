/**
 * Whether a provider meets a policy's attestation requirements. A
 * requirement is met only by an attestation that verifies (signature by its
 * issuer), is about this provider (and this capability or module when it
 * names one), is inside its validity window, is not revoked, comes from a
 * trusted issuer allowed to vouch for the claim, and whose claims match. A
 * bare string in the bid counts only when the policy that requires it says
 * `self_attest: true`, and is then reported as self-attested.
 *
 * Requirement syntax (Policy.v1 `require_attestations`):
 *   `key=value`         claim `key` equals `value` (compared as text)
 *   `key`               claim `key` is `true`
 *   `<CID>`/`cid:<CID>` claims `{policy: <CID>, satisfied: true}`
 * `residency: [r1, r2]` is the requirement "claim `region` is one of r1, r2".
 *
 * @example
 * const creds = checkCredentials(bid.credentials, { provider, capability: bid.capability, now, issuers, revoked })
 * const verdict = judgeRequirements(requirements, residency, creds, bid.attestations, issuers)
 */
import { parseCid } from '../core/encoding.js'
import { attestationCid, checkAttestation, type Attestation, type ClaimValue } from './attestation.js'
import { AttestationExpiredError, AttestationRevokedError, AttestationSubjectMismatchError, UntrustedIssuerError } from './errors.js'
import type { SchemaRegistry } from '../spec/index.js'
import type { VerifiedAttestations } from './verified-cache.js'

export interface TrustedIssuer {
  /** the issuer's PeerId */
  key: string
  name?: string
  /** claim keys this issuer may vouch for @default every claim */
  claims?: string[]
}

export interface Requirement {
  /** as the policy wrote it */
  text: string
  key: string
  value: ClaimValue
  /** the policy that requires it allows a bare string in the bid */
  selfAttest: boolean
  /** the policy reference that requires it */
  policy: string
}

export interface CheckedCredential {
  cid: string
  attestation: Attestation
}

export interface RejectedCredential {
  cid?: string
  error: { name: string, message: string }
}

export interface CredentialContext {
  /** the bidder */
  provider: string
  /** the descriptor CID the bid is for */
  capability?: string
  /** the module CID, when known */
  module?: string
  now: number
  issuers: TrustedIssuer[]
  /** whether `issuer` revoked attestation `cid` */
  isRevoked: (cid: string, issuer: string) => boolean
  registry?: SchemaRegistry
  /** attestations already verified (schema + signature), by content CID: their check is skipped */
  verified?: VerifiedAttestations
}

/** Parses one `require_attestations` entry. */
export function parseRequirement (text: string, policy: string, selfAttest: boolean): Requirement {
  const bare = text.startsWith('cid:') ? text.slice(4) : text
  try {
    const cid = parseCid(bare).toString()
    return { text, key: 'policy', value: cid, selfAttest, policy }
  } catch {}
  const eq = text.indexOf('=')
  if (eq > 0) return { text, key: text.slice(0, eq).trim(), value: text.slice(eq + 1).trim(), selfAttest, policy }
  return { text, key: text.trim(), value: true, selfAttest, policy }
}

function claimMatches (att: Attestation, req: Requirement): boolean {
  const v = att.claims[req.key]
  if (req.key === 'policy' && att.claims.satisfied !== true) return false
  if (v == null) return false
  if (req.value === true) return v === true
  return String(v) === String(req.value)
}

function issuerFor (issuers: TrustedIssuer[], key: string): TrustedIssuer | undefined {
  return issuers.find(i => i.key === key)
}

/** The CID of `c` when the cache says a document with that CID already verified, else undefined. */
function verifiedCid (c: unknown, verified: VerifiedAttestations): string | undefined {
  if (c == null || typeof c !== 'object') return undefined
  try {
    const cid = attestationCid(c as Attestation)
    return verified.has(cid) ? cid : undefined
  } catch {
    return undefined
  }
}

/** Verifies each carried attestation for this bid; returns the usable ones and why the others are not. */
export function checkCredentials (credentials: unknown[] | undefined, ctx: CredentialContext): { valid: CheckedCredential[], rejected: RejectedCredential[] } {
  const valid: CheckedCredential[] = []
  const rejected: RejectedCredential[] = []
  for (const c of credentials ?? []) {
    let cid: string | undefined
    try {
      cid = ctx.verified != null ? verifiedCid(c, ctx.verified) : undefined
      if (cid == null) {
        checkAttestation(c, ctx.registry)
        cid = attestationCid(c)
        ctx.verified?.add(cid)
      }
      const att = c as Attestation
      if (att.subject !== ctx.provider) throw new AttestationSubjectMismatchError(`attestation ${cid} is about ${att.subject}, not the bidder ${ctx.provider}`, { subject: att.subject, provider: ctx.provider })
      if (att.capability != null && ctx.capability != null && att.capability !== ctx.capability) throw new AttestationSubjectMismatchError(`attestation ${cid} is about capability ${att.capability}, the bid is for ${ctx.capability}`, { capability: att.capability })
      if (att.module != null && ctx.module != null && att.module !== ctx.module) throw new AttestationSubjectMismatchError(`attestation ${cid} is about module ${att.module}, not ${ctx.module}`, { module: att.module })
      if (ctx.now < att.nbf) throw new AttestationExpiredError(`attestation ${cid} is not valid before ${new Date(att.nbf).toISOString()}`, { nbf: att.nbf, now: ctx.now })
      if (ctx.now >= att.exp) throw new AttestationExpiredError(`attestation ${cid} expired at ${new Date(att.exp).toISOString()}`, { exp: att.exp, now: ctx.now })
      if (ctx.isRevoked(cid, att.issuer)) throw new AttestationRevokedError(`attestation ${cid} was revoked by its issuer ${att.issuer}`, { issuer: att.issuer })
      if (issuerFor(ctx.issuers, att.issuer) == null) throw new UntrustedIssuerError(`attestation ${cid} is issued by ${att.issuer}, who is not a trusted issuer`, { issuer: att.issuer })
      valid.push({ cid, attestation: att })
    } catch (err) {
      const e = err as Error
      rejected.push({ ...(cid != null ? { cid } : {}), error: { name: e.name, message: e.message } })
    }
  }
  return { valid, rejected }
}

export interface Verdict {
  /** why the provider does not meet the requirements, or undefined */
  reason?: string
  /** CIDs of the attestations that met a requirement */
  admitted: string[]
  /** requirements met by a bare string under `self_attest: true` */
  selfAttested: string[]
}

/** Matches requirements (and residency) against checked credentials. */
export function judgeRequirements (requirements: Requirement[], residency: string[] | undefined, creds: { valid: CheckedCredential[], rejected: RejectedCredential[] }, bare: string[] | undefined, issuers: TrustedIssuer[]): Verdict {
  const admitted = new Set<string>()
  const selfAttested: string[] = []
  const strings = new Set(bare ?? [])
  const allowed = (c: CheckedCredential, key: string): boolean => {
    const i = issuerFor(issuers, c.attestation.issuer)
    return i != null && (i.claims == null || i.claims.includes(key))
  }
  const why = (what: string): string => {
    const notes = creds.rejected.map(r => `${r.cid != null ? r.cid.slice(0, 16) + '…' : 'an attestation'} refused: ${r.error.name}`)
    return `${what}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`
  }
  for (const req of requirements) {
    const hit = creds.valid.find(c => allowed(c, req.key) && claimMatches(c.attestation, req))
    if (hit != null) {
      admitted.add(hit.cid)
      continue
    }
    if (req.selfAttest && strings.has(req.text)) {
      selfAttested.push(req.text)
      continue
    }
    const self = strings.has(req.text) ? ' (only self-attested, and the policy does not allow self_attest)' : ''
    return { reason: why(`requirement ${req.text} of policy ${req.policy} is not attested by a trusted issuer${self}`), admitted: [...admitted], selfAttested }
  }
  if (residency != null) {
    const hit = creds.valid.find(c => allowed(c, 'region') && typeof c.attestation.claims.region === 'string' && residency.includes(c.attestation.claims.region))
    if (hit == null) {
      const other = creds.valid.find(c => allowed(c, 'region') && c.attestation.claims.region != null)
      const what = other != null
        ? `residency: attested region ${String(other.attestation.claims.region)} is not one of ${residency.join(', ')}`
        : `residency: no region attested by a trusted issuer (allowed: ${residency.join(', ')})`
      return { reason: why(what), admitted: [...admitted], selfAttested }
    }
    admitted.add(hit.cid)
  }
  return { admitted: [...admitted].sort(), selfAttested }
}
