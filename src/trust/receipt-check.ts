/**
 * Offline check of what receipts say about trust, against a trust file
 * (`pl receipts verify <export> --trust trust.json`). For every receipt:
 * each attestation CID it lists must be in the file, verify (issuer
 * signature), be about the receipt's provider, be valid when the step
 * started, be unrevoked by its issuer (per the file's revocations) and come
 * from an issuer the file trusts (a revocation counts from its `ts` on); each policy CID it lists that the file
 * holds must be met by those attestations (or allow self-attestation).
 *
 * @example
 * checkReceiptsTrust(doc.receipts.map(s => s.receipt), await readTrustFile('trust.json'))
 */
import { cidStringOf } from '../core/encoding.js'
import type { SchemaRegistry } from '../spec/index.js'
import type { Receipt } from '../receipts/index.js'
import { attestationCid, checkRevocation, type Attestation, type Revocation } from './attestation.js'
import { checkCredentials, judgeRequirements, parseRequirement, type Requirement } from './evaluate.js'
import { ReceiptTrustError } from './errors.js'
import type { TrustFile } from './issuers.js'

export interface ReceiptTrustSummary {
  receipts: number
  attestations: number
  policies: number
}

export function checkReceiptsTrust (receipts: Receipt[], file: TrustFile, registry?: SchemaRegistry): ReceiptTrustSummary {
  const byCid = new Map<string, unknown>()
  for (const a of file.attestations ?? []) {
    try {
      byCid.set(attestationCid(a as Attestation), a)
    } catch {}
  }
  const revocations: Revocation[] = []
  for (const r of file.revocations ?? []) {
    checkRevocation(r, registry)
    revocations.push(r)
  }
  const policies = new Map<string, Record<string, unknown>>()
  for (const [cid, doc] of Object.entries(file.policies ?? {})) {
    if (cidStringOf(doc) !== cid) throw new ReceiptTrustError(`trust file policy ${cid} does not hash to its CID`, { policy: cid })
    policies.set(cid, doc as Record<string, unknown>)
  }
  const summary: ReceiptTrustSummary = { receipts: 0, attestations: 0, policies: 0 }
  for (const r of receipts) {
    const where = `receipt of step ${r.step} (provider ${r.provider})`
    const listed = r.attestations ?? []
    const missing = listed.filter(c => !byCid.has(c))
    if (missing.length > 0) throw new ReceiptTrustError(`${where} lists attestation ${missing[0]}, which the trust file does not hold`, { step: r.step, attestation: missing[0] })
    const creds = checkCredentials(listed.map(c => byCid.get(c)), {
      provider: r.provider,
      now: r.started,
      issuers: file.issuers,
      // a revocation made after the step started does not undo what was attested when it ran
      isRevoked: (cid, issuer) => revocations.some(v => v.attestation === cid && v.issuer === issuer && v.ts <= r.started),
      registry
    })
    if (creds.rejected.length > 0) {
      const bad = creds.rejected[0]
      throw new ReceiptTrustError(`${where}: attestation ${bad.cid ?? ''} does not hold: ${bad.error.name}: ${bad.error.message}`, { step: r.step, attestation: bad.cid, error: bad.error.name })
    }
    for (const cid of r.policies) {
      const doc = policies.get(cid)
      if (doc == null) continue
      const requirements: Requirement[] = ((doc.require_attestations as string[] | undefined) ?? []).map(t => parseRequirement(t, cid, doc.self_attest === true))
      // a self-attested requirement leaves no attestation behind: under self_attest it is taken as the receipt says
      const strings = requirements.filter(q => q.selfAttest).map(q => q.text)
      const verdict = judgeRequirements(requirements, doc.residency as string[] | undefined, creds, strings, file.issuers)
      if (verdict.reason != null) throw new ReceiptTrustError(`${where}: policy ${cid}: ${verdict.reason}`, { step: r.step, policy: cid })
      summary.policies++
    }
    summary.attestations += listed.length
    summary.receipts++
  }
  return summary
}
