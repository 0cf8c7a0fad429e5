/**
 * The generated TS, Python and Go receipt checkers check attestations
 * against a trust file exactly as the node does (`pl receipts verify
 * --trust`, src/trust/receipt-check.ts): the same receipts (signed with real
 * ed25519 keys) and trust files go to the node's check and to all three
 * checkers, which must agree case by case — valid, tampered, revoked,
 * expired, untrusted issuer, unmet policies, broken trust files — and the
 * receipts export and trust file of a real two-node run with a trusted
 * issuer (what `pl receipts export` and `pl trust export` write).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { createIdentity, type Identity } from '../../src/core/index.js'
import { cidStringOf } from '../../src/core/encoding.js'
import { countersignReceipt, signReceipt, type Receipt, receipts as receiptsService, ReceiptStore, exportReceipts } from '../../src/receipts/index.js'
import { ATTESTATION_DOMAIN, attestationCid, checkReceiptsTrust, issueAttestation, issueRevocation, parseTrustFile, type Attestation, signDoc, trust as trustService, type TrustService, exportTrust } from '../../src/trust/index.js'
import { tempDir } from '../helpers/tmp.js'
import { compileTo, goAvailable, goReceiptChecker, GO_SKIP, importGeneratedTs, pyReceiptChecker, runGo, runPython, SAMPLE_SPEC } from './helpers.js'
import { startOffersMesh, writeModule, step, dagOf, ctxOf, runId } from '../negotiation/helpers.js'

interface Case { name: string, receipts: unknown, trust: unknown, expect: string }

let dir: string
let cleanup: () => Promise<void>
let ts: any
const cases: Case[] = []
const STARTED = 1_760_000_000_000
const DAY = 86_400_000

function clone<T> (v: T): T {
  return JSON.parse(JSON.stringify(v))
}

/** The node's verdict, named as the generated checkers name it. */
function nodeVerdict (c: Case): string {
  try {
    const signed = (c.receipts as { receipts: Array<{ receipt: Receipt }> }).receipts
    checkReceiptsTrust(signed.map(s => s.receipt), parseTrustFile(clone(c.trust), 'trust.json'))
    return 'ok'
  } catch (err: any) {
    if (err.name === 'RevocationInvalidError' || err.name === 'TrustFileError') return 'TrustFileError'
    if (err.name !== 'ReceiptTrustError') return err.name
    if (err.details.error != null) return err.details.error
    if (/does not hash to its CID/.test(err.message)) return 'TrustFileError'
    if (err.details.policy != null) return 'PolicyNotMetError'
    return 'AttestationMissingError'
  }
}

before(async () => {
  ({ dir, cleanup } = await tempDir('pl-spec-trust-'))
  await compileTo(join(dir, 'out'), [SAMPLE_SPEC])
  ts = await importGeneratedTs(join(dir, 'out', 'ts'), join(dir, 'ts-run'))
  const auditor: Identity = await createIdentity()
  const rogue: Identity = await createIdentity()
  const provider: Identity = await createIdentity()
  const requester: Identity = await createIdentity()
  const other: Identity = await createIdentity()
  const att = (by: Identity, claims: Record<string, string | number | boolean>, over: { subject?: string, nbf?: number, exp?: number } = {}): Attestation =>
    issueAttestation(by, { subject: over.subject ?? provider.id, claims, nbf: over.nbf ?? STARTED - DAY, exp: over.exp ?? STARTED + DAY })
  const good = att(auditor, { audit: 'pii-no-exfil', region: 'eu-west', level: 3, gpu: true })
  const usEast = att(auditor, { region: 'us-east' })
  const expired = att(auditor, { audit: 'pii-no-exfil' }, { nbf: STARTED - 2 * DAY, exp: STARTED - DAY })
  const notYet = att(auditor, { audit: 'pii-no-exfil' }, { nbf: STARTED + 1, exp: STARTED + DAY })
  const untrusted = att(rogue, { audit: 'pii-no-exfil' })
  const aboutOther = att(auditor, { audit: 'pii-no-exfil' }, { subject: other.id })
  const revokedEarly = att(auditor, { audit: 'pii-no-exfil', n: 1 })
  const revokedLate = att(auditor, { audit: 'pii-no-exfil', n: 2 })
  const forged = { ...good, claims: { ...good.claims, audit: 'everything' } }
  const malformed = signDoc(auditor, ATTESTATION_DOMAIN, { v: 1, issuer: auditor.id, subject: provider.id, claims: { 'Bad Key': true }, nbf: STARTED - DAY, exp: STARTED + DAY }) as unknown as Attestation
  const policy = (doc: Record<string, unknown>): [string, Record<string, unknown>] => [cidStringOf(doc), doc]
  const [audit, auditDoc] = policy({ name: 'audited', require_attestations: ['audit=pii-no-exfil'] })
  const [levels, levelsDoc] = policy({ name: 'levels', require_attestations: ['level=3', 'gpu'] })
  const [eu, euDoc] = policy({ name: 'eu', residency: ['eu-west', 'eu-north'] })
  const [gold, goldDoc] = policy({ name: 'gold', require_attestations: ['tier=gold'] })
  const [self, selfDoc] = policy({ name: 'self', require_attestations: ['tier=gold'], self_attest: true })
  const policies = { [audit]: auditDoc, [levels]: levelsDoc, [eu]: euDoc, [gold]: goldDoc, [self]: selfDoc }
  const exportOf = (listed: Attestation[], pols: string[], step = 'a'): unknown => {
    const receipt: Receipt = {
      run: 'run-trust', step, capability: 'Summarize', provider: provider.id, requester: requester.id,
      award: cidStringOf({ award: step }), input: cidStringOf({ in: step }), output: cidStringOf({ out: step }),
      status: 'ok', started: STARTED, ended: STARTED + 1234, usage: { cpu_ms: 1.5, wall_ms: 1234, mem_peak_mb: 12 },
      limits: { wall_ms: 5000 }, policies: pols, prev: [],
      ...(listed.length > 0 ? { attestations: listed.map(a => attestationCid(a)) } : {})
    }
    const signed = countersignReceipt(requester, signReceipt(provider, receipt))
    return clone({ v: 1, run: 'run-trust', root: cidStringOf(signed), receipts: [signed] })
  }
  const all = [good, usEast, expired, notYet, untrusted, aboutOther, revokedEarly, revokedLate, forged, malformed]
  const trust = (over: Record<string, unknown> = {}): unknown => clone({
    issuers: [{ key: auditor.id, name: 'auditor' }],
    attestations: all,
    revocations: [issueRevocation(auditor, attestationCid(revokedEarly), 'withdrawn', STARTED - 1), issueRevocation(auditor, attestationCid(revokedLate), 'later', STARTED + 1)],
    policies,
    ...over
  })
  const add = (name: string, receipts: unknown, trustFile: unknown, expect: string): void => { cases.push({ name, receipts, trust: trustFile, expect }) }
  add('a valid attestation meets its policies (claims, numbers and booleans, residency)', exportOf([good], [audit, levels, eu]), trust(), 'ok')
  add('two receipts, one a self-attested policy with no attestation', clone({ receipts: [...(exportOf([good], [audit]) as any).receipts, ...(exportOf([], [self], 'b') as any).receipts] }), trust(), 'ok')
  add('a policy the trust file does not hold is not judged', exportOf([good], ['eu-only']), trust(), 'ok')
  add('a revocation made after the step started does not undo it', exportOf([revokedLate], [audit]), trust(), 'ok')
  add('the attestation is not in the trust file', exportOf([good], [audit]), trust({ attestations: [usEast] }), 'AttestationMissingError')
  add('an attestation tampered with after signing', exportOf([forged], [audit]), trust(), 'AttestationSignatureError')
  add('an attestation with a malformed claim key', exportOf([malformed], []), trust(), 'AttestationMalformedError')
  add('an attestation about another peer', exportOf([aboutOther], [audit]), trust(), 'AttestationSubjectMismatchError')
  add('an attestation expired when the step started', exportOf([expired], [audit]), trust(), 'AttestationExpiredError')
  add('an attestation not yet valid when the step started', exportOf([notYet], [audit]), trust(), 'AttestationExpiredError')
  add('an attestation revoked by its issuer before the step', exportOf([revokedEarly], [audit]), trust(), 'AttestationRevokedError')
  add('an attestation from an untrusted issuer', exportOf([untrusted], [audit]), trust(), 'UntrustedIssuerError')
  add('a verifier that trusts nobody', exportOf([good], [audit]), trust({ issuers: [] }), 'UntrustedIssuerError')
  add('a requirement no attestation meets', exportOf([good], [gold]), trust(), 'PolicyNotMetError')
  add('residency outside the policy', exportOf([usEast], [eu]), trust(), 'PolicyNotMetError')
  add('an issuer trusted only for audit claims cannot vouch for a region', exportOf([good], [eu]), trust({ issuers: [{ key: auditor.id, claims: ['audit'] }] }), 'PolicyNotMetError')
  add('a forged revocation in the trust file', exportOf([good], [audit]), trust({ revocations: [{ ...issueRevocation(auditor, attestationCid(good), 'x', STARTED - 1), reason: 'changed' }] }), 'TrustFileError')
  add('a trust file policy that does not hash to its CID', exportOf([good], [audit]), trust({ policies: { [audit]: goldDoc } }), 'TrustFileError')
  add('an issuer key that is not a PeerId', exportOf([good], [audit]), trust({ issuers: [{ key: 'not-a-peer' }] }), 'TrustFileError')
  await realRun(auditor)
})

/** A real run: a requester trusting the auditor, a provider it attested; the receipts export and trust file as the node writes them. */
async function realRun (auditor: Identity): Promise<void> {
  const m = await startOffersMesh({
    name: 'pl-spec-trust-run-',
    nodes: 2,
    requester: { replyWindowMs: 4000 },
    requesterServices: { receipts: receiptsService(), trust: trustService({ issuers: [{ key: auditor.id, name: 'auditor' }] }) },
    providerServices: () => ({ trust: trustService() })
  })
  try {
    m.offers.add(1, m.nodes[1], { name: 'Audited', price: 1 }, await writeModule(m.dir, 'audited', 'return { text: inputData.text }'))
    const now = Date.now()
    await m.nodes[1].service<TrustService>('trust').addAttestation(issueAttestation(auditor, { subject: m.nodes[1].peerId, claims: { audit: 'pii-no-exfil', region: 'eu-west' }, nbf: now - DAY, exp: now + DAY }))
    const pol = await m.nodes[0].service<TrustService>('trust').createPolicy({ name: 'audited-eu', require_attestations: ['audit=pii-no-exfil'], residency: ['eu-west'] })
    const dag = dagOf([step('s', 'Audited')], { policies: [`cid:${pol}`] })
    const id = runId()
    await m.runner().run(dag.steps.s, { text: 'hello' }, ctxOf(dag, id, 's'))
    const store = m.nodes[0].components.store
    const exported = clone(exportReceipts(await new ReceiptStore(store).forRun(id)))
    const file = clone(await exportTrust(store, m.nodes[0].components.dataDir, id, [{ key: auditor.id, name: 'auditor' }]))
    assert.equal((exported.receipts[0].receipt.attestations ?? []).length, 1, 'the real receipt names the admitting attestation')
    cases.push({ name: 'a real run\'s receipts export and trust file', receipts: exported, trust: file, expect: 'ok' })
    cases.push({ name: 'a real run checked by a verifier that trusts nobody', receipts: exported, trust: { ...file, issuers: [] }, expect: 'UntrustedIssuerError' })
    cases.push({ name: 'a real run whose attestation was revoked before the step', receipts: exported, trust: { ...file, revocations: [issueRevocation(auditor, (exported.receipts[0].receipt.attestations as string[])[0], 'r', exported.receipts[0].receipt.started - 1)] }, expect: 'AttestationRevokedError' })
  } finally {
    await m.close()
  }
}

after(async () => { await cleanup() })

test('the node\'s own offline check gives the expected verdicts (the reference)', () => {
  assert.deepEqual(cases.map(c => [c.name, nodeVerdict(c)]), cases.map(c => [c.name, c.expect]))
})

test('the generated TypeScript checker agrees with the node on every case', () => {
  const got = cases.map(c => {
    try {
      ts.checkReceiptsTrust(c.receipts, c.trust)
      return 'ok'
    } catch (err) {
      return (err as Error).name
    }
  })
  assert.deepEqual(cases.map((c, i) => [c.name, got[i]]), cases.map(c => [c.name, nodeVerdict(c)]))
  const summary = ts.checkReceiptsTrust(cases[0].receipts, cases[0].trust)
  assert.deepEqual(summary, { receipts: 1, attestations: 1, policies: 3 })
})

const PY_HARNESS = pyReceiptChecker({ check: 'plspec.check_receipts_trust(c["receipts"], c["trust"])' })

test('the generated Python checker (standard library, pure-Python ed25519) agrees with the node', async () => {
  const got = await runPython(join(dir, 'out', 'py'), PY_HARNESS, { cases })
  assert.deepEqual(cases.map((c, i) => [c.name, got[i]]), cases.map(c => [c.name, nodeVerdict(c)]))
})

const GO_HARNESS = goReceiptChecker({ check: 'plspec.CheckReceiptsTrust(c["receipts"], c["trust"])' })

test('the generated Go checker (crypto/ed25519) agrees with the node', async (t) => {
  if (!goAvailable()) { t.skip(GO_SKIP); return }
  const got = await runGo(join(dir, 'go-run'), join(dir, 'out', 'go'), 'plspec', GO_HARNESS, { cases })
  assert.deepEqual(cases.map((c, i) => [c.name, got[i]]), cases.map(c => [c.name, nodeVerdict(c)]))
})
