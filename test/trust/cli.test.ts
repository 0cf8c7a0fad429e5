/**
 * The trust commands as a user runs them (real `pl` processes on a data dir
 * without a running node), and the offline receipt check against trust files.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runCli } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { createIdentity } from '../../src/core/index.js'
import { cidStringOf, encodeJson } from '../../src/core/encoding.js'
import { exportReceipts } from '../../src/receipts/index.js'
import { checkReceiptsTrust, issueAttestation, issueRevocation, attestationCid, type Attestation } from '../../src/trust/index.js'
import { accepted, parties } from '../receipts/helpers.js'

const CLI_MS = 120_000
const dirs: Array<() => Promise<void>> = []
after(async () => { for (const c of dirs) await c() })

async function tmp (): Promise<string> {
  const t = await tempDir('pl-trust-cli-')
  dirs.push(t.cleanup)
  return t.dir
}

test('pl attest keygen/issue/add/list/revoke, pl trust add/list/remove, pl policy create work on a data dir', async () => {
  const dir = await tmp()
  const data = join(dir, 'node')
  const subject = (await createIdentity()).id
  const key = join(dir, 'auditor.key')
  const gen = await runCli(['attest', 'keygen', key], { timeoutMs: CLI_MS })
  assert.equal(gen.code, 0, gen.stderr)
  const auditor = gen.stdout.trim()
  assert.match(auditor, /^12D3KooW/)
  assert.equal((await runCli(['attest', 'keygen', key], { timeoutMs: CLI_MS })).code, 1, 'an existing key is never overwritten')

  const issued = await runCli(['attest', 'issue', '--key', key, '--subject', subject, '--claim', 'audit=pii-no-exfil', '--claim', 'level=3', '--claim', 'gpu', '--exp', '30d', '-o', join(dir, 'att.json')], { timeoutMs: CLI_MS })
  assert.equal(issued.code, 0, issued.stderr)
  const att = JSON.parse(await readFile(join(dir, 'att.json'), 'utf8')) as Attestation
  assert.deepEqual(att.claims, { audit: 'pii-no-exfil', level: 3, gpu: true })
  assert.equal(att.issuer, auditor)
  assert.match(issued.stderr, new RegExp(`attestation ${attestationCid(att)}`))

  const bad = await runCli(['attest', 'issue', '--key', key, '--subject', subject, '--claim', 'Bad Key=1'], { timeoutMs: CLI_MS })
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /AttestationMalformedError/)

  const added = await runCli(['attest', 'add', join(dir, 'att.json'), '--data-dir', data], { timeoutMs: CLI_MS })
  assert.equal(added.code, 0, added.stderr)
  assert.equal(added.stdout.trim(), attestationCid(att))
  await writeFile(join(dir, 'forged.json'), JSON.stringify({ ...att, claims: { audit: 'everything' } }))
  const forged = await runCli(['attest', 'add', join(dir, 'forged.json'), '--data-dir', data], { timeoutMs: CLI_MS })
  assert.equal(forged.code, 1)
  assert.match(forged.stderr, /AttestationSignatureError/)

  const revoked = await runCli(['attest', 'revoke', join(dir, 'att.json'), '--key', key, '--reason', 'withdrawn', '--data-dir', data, '-o', join(dir, 'rev.json')], { timeoutMs: CLI_MS })
  assert.equal(revoked.code, 0, revoked.stderr)
  const other = join(dir, 'other.key')
  await runCli(['attest', 'keygen', other], { timeoutMs: CLI_MS })
  const notIssuer = await runCli(['attest', 'revoke', join(dir, 'att.json'), '--key', other, '--data-dir', data], { timeoutMs: CLI_MS })
  assert.equal(notIssuer.code, 1)
  assert.match(notIssuer.stderr, /only its issuer can revoke it/)
  const list = await runCli(['attest', 'list', '--data-dir', data], { timeoutMs: CLI_MS })
  assert.match(list.stdout, new RegExp(`^${attestationCid(att)}  audit=pii-no-exfil level=3 gpu=true  by ${auditor}  until .*  REVOKED\n$`))

  assert.equal((await runCli(['trust', 'add', auditor, '--name', 'auditor', '--claims', 'audit,region', '--data-dir', data], { timeoutMs: CLI_MS })).code, 0)
  assert.equal((await runCli(['trust', 'list', '--data-dir', data], { timeoutMs: CLI_MS })).stdout, `${auditor}  auditor  claims: audit,region\n`)
  const notPeer = await runCli(['trust', 'add', 'not-a-peer', '--data-dir', data], { timeoutMs: CLI_MS })
  assert.equal(notPeer.code, 1)
  assert.match(notPeer.stderr, /TrustFileError/)
  assert.equal((await runCli(['trust', 'remove', 'auditor', '--data-dir', data], { timeoutMs: CLI_MS })).code, 0)
  assert.equal((await runCli(['trust', 'list', '--data-dir', data], { timeoutMs: CLI_MS })).stdout, '')

  const policy = { name: 'audited', require_attestations: ['audit=pii-no-exfil'], residency: ['eu-west'] }
  await writeFile(join(dir, 'policy.json'), JSON.stringify(policy))
  const created = await runCli(['policy', 'create', join(dir, 'policy.json'), '--data-dir', data], { timeoutMs: CLI_MS })
  assert.equal(created.code, 0, created.stderr)
  assert.equal(created.stdout.trim(), cidStringOf(policy))
  await writeFile(join(dir, 'bad-policy.json'), JSON.stringify({ name: 'x', max_price: -1 }))
  const invalid = await runCli(['policy', 'create', join(dir, 'bad-policy.json'), '--data-dir', data], { timeoutMs: CLI_MS })
  assert.equal(invalid.code, 1)
  assert.match(invalid.stderr, /InvalidBodyError/)
})

async function runWith (attestations: string[], policies: string[]): Promise<{ p: Awaited<ReturnType<typeof parties>>, file: string, receipt: ReturnType<typeof accepted> }> {
  const p = await parties()
  const receipt = accepted(p, { attestations, policies })
  const file = join(await tmp(), 'run.json')
  await writeFile(file, encodeJson(exportReceipts([receipt])))
  return { p, file, receipt }
}

test('pl receipts verify --trust checks the recorded attestations and policies against a trust file, offline', async () => {
  const auditor = await createIdentity()
  const p = await parties()
  const started = 1_700_000_000_000
  const att = issueAttestation(auditor, { subject: p.provider.id, claims: { audit: 'pii-no-exfil' }, nbf: started - 1000, exp: started + 1000 })
  const policy = { name: 'audited', require_attestations: ['audit=pii-no-exfil'] }
  const receipt = accepted(p, { attestations: [attestationCid(att)], policies: [cidStringOf(policy)] })
  const dir = await tmp()
  await writeFile(join(dir, 'run.json'), encodeJson(exportReceipts([receipt])))
  const trust = { issuers: [{ key: auditor.id, name: 'auditor' }], attestations: [att], policies: { [cidStringOf(policy)]: policy } }
  await writeFile(join(dir, 'trust.json'), JSON.stringify(trust))
  const ok = await runCli(['receipts', 'verify', join(dir, 'run.json'), '--trust', join(dir, 'trust.json')], { timeoutMs: CLI_MS })
  assert.equal(ok.code, 0, ok.stderr)
  assert.match(ok.stdout, /ok: trust holds: 1 attestation from trusted issuers, 1 policy met\n$/)
  await writeFile(join(dir, 'untrusting.json'), JSON.stringify({ ...trust, issuers: [] }))
  const untrusted = await runCli(['receipts', 'verify', join(dir, 'run.json'), '--trust', join(dir, 'untrusting.json')], { timeoutMs: CLI_MS })
  assert.equal(untrusted.code, 1)
  assert.match(untrusted.stderr, /ReceiptTrustError: .*UntrustedIssuerError/)
  const missing = await runCli(['receipts', 'verify', join(dir, 'run.json'), '--trust', join(dir, 'nope.json')], { timeoutMs: CLI_MS })
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /TrustFileError/)
})

test('the offline check refuses attestations it cannot hold to: missing, about another provider, revoked before the step, unmet policy', async () => {
  const auditor = await createIdentity()
  const { p, receipt } = await runWith([], [])
  const started = receipt.receipt.started
  const att = issueAttestation(auditor, { subject: p.provider.id, claims: { audit: 'pii-no-exfil' }, nbf: started - 1000, exp: started + 1000 })
  const cid = attestationCid(att)
  const issuers = [{ key: auditor.id }]
  const r = { ...receipt.receipt, attestations: [cid] }
  assert.deepEqual(checkReceiptsTrust([r], { issuers, attestations: [att] }), { receipts: 1, attestations: 1, policies: 0 })
  assert.throws(() => checkReceiptsTrust([r], { issuers, attestations: [] }), /does not hold/)
  const stranger = issueAttestation(auditor, { subject: p.requester.id, claims: { audit: 'pii-no-exfil' }, nbf: started - 1000, exp: started + 1000 })
  assert.throws(() => checkReceiptsTrust([{ ...r, attestations: [attestationCid(stranger)] }], { issuers, attestations: [stranger] }), /AttestationSubjectMismatchError/)
  assert.throws(() => checkReceiptsTrust([r], { issuers, attestations: [att], revocations: [issueRevocation(auditor, cid, 'x', started - 1)] }), /AttestationRevokedError/)
  // a revocation after the step does not undo it; one by someone else never counts
  assert.equal(checkReceiptsTrust([r], { issuers, attestations: [att], revocations: [issueRevocation(auditor, cid, 'x', started + 1)] }).receipts, 1)
  assert.equal(checkReceiptsTrust([r], { issuers, attestations: [att], revocations: [issueRevocation(await createIdentity(), cid, 'x', started - 1)] }).receipts, 1)
  const policy = { name: 'eu', residency: ['eu-west'] }
  const withPolicy = { ...r, policies: [cidStringOf(policy)] }
  assert.throws(() => checkReceiptsTrust([withPolicy], { issuers, attestations: [att], policies: { [cidStringOf(policy)]: policy } }), /residency: no region attested/)
  assert.throws(() => checkReceiptsTrust([withPolicy], { issuers, attestations: [att], policies: { [cidStringOf(policy)]: { ...policy, name: 'other' } } }), /does not hash to its CID/)
})
