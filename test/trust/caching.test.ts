/**
 * Judging bids does not redo work whose answer cannot have changed:
 * attestations whose schema and signature verified are remembered by
 * content CID (bounded, LRU), and the trusted-issuer file is re-read only
 * when a watch says it changed. Verdicts stay identical.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { stat, utimes } from 'node:fs/promises'
import { createIdentity } from '../../src/core/index.js'
import { SchemaRegistry } from '../../src/spec/index.js'
import { checkCredentials, issueAttestation, attestationCid, IssuerList, writeTrustFile, type Attestation } from '../../src/trust/index.js'
import { VerifiedAttestations } from '../../src/trust/verified-cache.js'
import { waitFor } from '../helpers/mesh.js'
import { tempDir } from '../helpers/tmp.js'

const HOUR = 3_600_000

/** the real registry, counting Attestation.v1 schema checks (each verification starts with one) */
function countingRegistry (real: SchemaRegistry): { registry: SchemaRegistry, checks: () => number } {
  let n = 0
  const registry = { get: (name: string) => { if (name === 'Attestation.v1') n++; return real.get(name) } } as unknown as SchemaRegistry
  return { registry, checks: () => n }
}

test('a verified attestation is not re-verified; verdicts with and without the cache are identical, and a changed document is checked again', async () => {
  const real = await SchemaRegistry.load()
  const auditor = await createIdentity()
  const rogue = await createIdentity()
  const provider = await createIdentity()
  const now = Date.now()
  const good = issueAttestation(auditor, { subject: provider.id, claims: { audit: 'pii-no-exfil' }, nbf: now - HOUR, exp: now + HOUR })
  const expired = issueAttestation(auditor, { subject: provider.id, claims: { audit: 'x' }, nbf: now - 2 * HOUR, exp: now - HOUR })
  const revoked = issueAttestation(auditor, { subject: provider.id, claims: { audit: 'y' }, nbf: now - HOUR, exp: now + HOUR })
  const untrusted = issueAttestation(rogue, { subject: provider.id, claims: { audit: 'pii-no-exfil' }, nbf: now - HOUR, exp: now + HOUR })
  // same signature bytes, other content: must never ride on the cached verdict of `good`
  const forged: Attestation = { ...good, claims: { audit: 'everything' } }
  const creds = [good, expired, revoked, untrusted, forged, 'not an attestation']
  const ctx = { provider: provider.id, now, issuers: [{ key: auditor.id }], isRevoked: (cid: string) => cid === attestationCid(revoked) }
  const plain = checkCredentials(creds, { ...ctx, registry: real })
  const counting = countingRegistry(real)
  const cache = new VerifiedAttestations(16)
  const first = checkCredentials(creds, { ...ctx, registry: counting.registry, verified: cache })
  const afterFirst = counting.checks()
  const second = checkCredentials(creds, { ...ctx, registry: counting.registry, verified: cache })
  assert.deepEqual(first, plain)
  assert.deepEqual(second, plain)
  assert.deepEqual(plain.valid.map(v => v.cid), [attestationCid(good)])
  assert.deepEqual(plain.rejected.map(r => r.error.name), ['AttestationExpiredError', 'AttestationRevokedError', 'UntrustedIssuerError', 'AttestationSignatureError', 'AttestationMalformedError'])
  // good, expired, revoked and untrusted verified once; the forged and the malformed ones are checked every time
  assert.equal(cache.size, 4)
  assert.equal(counting.checks() - afterFirst, 2)
})

test('the verified cache is bounded and drops the least recently used first', () => {
  const cache = new VerifiedAttestations(2)
  cache.add('a')
  cache.add('b')
  assert.equal(cache.has('a'), true) // a is now the most recent
  cache.add('c')
  assert.deepEqual([cache.has('a'), cache.has('b'), cache.has('c')], [true, false, true])
  cache.delete('a')
  assert.equal(cache.has('a'), false)
})

test('the issuer list is served from memory until the trust file changes, then re-read', async (t) => {
  const { dir, cleanup } = await tempDir('pl-trust-issuers-')
  t.after(cleanup)
  const a = await createIdentity()
  const b = await createIdentity()
  const file = join(dir, 'trust.json')
  const list = new IssuerList([{ key: a.id, name: 'configured' }], file)
  list.start()
  t.after(() => { list.stop() })
  const one = list.list()
  assert.deepEqual(one.map(i => i.key), [a.id])
  assert.equal(list.list(), one, 'unchanged: the same answer, no re-read')
  await writeTrustFile(file, { issuers: [{ key: b.id, name: 'added' }] })
  await waitFor(() => list.list().some(i => i.key === b.id), 10_000, 'the new issuer to be seen')
  assert.deepEqual(list.list().map(i => i.key), [a.id, b.id])
  await writeTrustFile(file, { issuers: [] })
  await waitFor(() => list.list().length === 1, 10_000, 'the removed issuer to go')
  // without a watch every call reads the file's state
  const unwatched = new IssuerList([], file)
  await writeTrustFile(file, { issuers: [{ key: b.id }] })
  // a rewrite inside the same clock tick keeps the mtime (file times are coarse): still seen
  const tick = 1_800_000_000
  await utimes(file, tick, tick)
  assert.deepEqual(unwatched.list().map(i => i.key), [b.id])
  await writeTrustFile(file, { issuers: [{ key: a.id }] })
  await utimes(file, tick, tick)
  assert.equal((await stat(file)).mtimeMs, tick * 1000)
  assert.deepEqual(unwatched.list().map(i => i.key), [a.id])
})
