/**
 * Selection with attestations, on real nodes: a requester that trusts one
 * auditor, and providers of the same capability that carry a valid
 * attestation, only a self-written string, a revoked one, an expired one,
 * one from an untrusted issuer, and forged / misdirected / malformed ones.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { waitFor } from '../helpers/mesh.js'
import { createIdentity, type Identity } from '../../src/core/index.js'
import { defaultBidStrategy, type BidStrategy } from '../../src/negotiation/index.js'
import { receipts, verifySignedReceipt } from '../../src/receipts/index.js'
import { trust, issueAttestation, issueRevocation, attestationCid, type TrustService, type Attestation } from '../../src/trust/index.js'
import { startOffersMesh, writeModule, step, dagOf, ctxOf, runId, type OffersMesh } from '../negotiation/helpers.js'

let m: OffersMesh
let auditor: Identity
let rogue: Identity
const HOUR = 3_600_000
/** injected into node 6's bids: forged, about another peer, malformed */
const hostile: Attestation[] = []
let validCid = ''

// 0 requester · 1 valid · 2 self-written string only (+ a us-east region) · 3 revoked · 4 expired · 5 untrusted issuer · 6 hostile credentials
const N = 7

/** nodes 3 and 4 keep sending their revoked / expired attestation (an honest node stops carrying them) */
const stale: Attestation[] = []
const expired: Attestation[] = []

function injecting (credentials: Attestation[]): BidStrategy {
  const base = defaultBidStrategy()
  return {
    decide: async (ctx) => {
      const d = await base.decide(ctx)
      return 'bid' in d ? { bid: { ...d.bid, credentials } } : d
    }
  }
}

before(async () => {
  auditor = await createIdentity()
  rogue = await createIdentity()
  m = await startOffersMesh({
    name: 'pl-trust-select-',
    nodes: N,
    requester: { replyWindowMs: 4000 },
    requesterServices: { receipts: receipts(), trust: trust({ issuers: [{ key: auditor.id, name: 'auditor' }] }) },
    provider: (i) => i === 6 ? { strategy: injecting(hostile) } : i === 3 ? { strategy: injecting(stale) } : i === 4 ? { strategy: injecting(expired) } : {},
    providerServices: () => ({ trust: trust() })
  })
  for (let i = 1; i < N; i++) {
    const mod = await writeModule(m.dir, `audited-${i}`, `return { by: ${i}, text: inputData.text }`)
    // the worse providers are cheaper: without trust they would win
    m.offers.add(i, m.nodes[i], { name: 'Audited', price: 10 - i, ...(i === 2 ? { attestations: ['audit=pii-no-exfil'] } : {}) }, mod)
  }
  const now = Date.now()
  const t = (i: number): TrustService => m.nodes[i].service<TrustService>('trust')
  const claim = { audit: 'pii-no-exfil' }
  validCid = await t(1).addAttestation(issueAttestation(auditor, { subject: m.nodes[1].peerId, claims: claim, exp: now + HOUR }))
  await t(1).addAttestation(issueAttestation(auditor, { subject: m.nodes[1].peerId, claims: { region: 'eu-west' }, exp: now + HOUR }))
  await t(2).addAttestation(issueAttestation(auditor, { subject: m.nodes[2].peerId, claims: { region: 'us-east' }, exp: now + HOUR }))
  const revoked = issueAttestation(auditor, { subject: m.nodes[3].peerId, claims: claim, exp: now + HOUR })
  await t(3).addAttestation(revoked)
  stale.push(revoked)
  // the auditor revokes it; the revocation reaches the requester (here: handed to its trust service, as `pl attest revoke` does)
  await t(0).revoke(issueRevocation(auditor, attestationCid(revoked), 'audit withdrawn'))
  expired.push(issueAttestation(auditor, { subject: m.nodes[4].peerId, claims: claim, nbf: now - 2 * HOUR, exp: now - HOUR }))
  await t(4).addAttestation(expired[0])
  await t(5).addAttestation(issueAttestation(rogue, { subject: m.nodes[5].peerId, claims: claim, exp: now + HOUR }))
  const good = issueAttestation(auditor, { subject: m.nodes[6].peerId, claims: claim, exp: now + HOUR })
  hostile.push({ ...good, claims: { audit: 'pii-no-exfil', extra: 'x' } })  // forged: claims changed after signing
  hostile.push(issueAttestation(auditor, { subject: m.nodes[1].peerId, claims: claim, exp: now + HOUR })) // about another peer
  hostile.push({ ...good, claims: { 'Bad Key!': true } }) // malformed claims
})

after(async () => {
  await m?.close()
})

async function policyCid (doc: Record<string, unknown>): Promise<string> {
  return await m.nodes[0].service<TrustService>('trust').createPolicy(doc)
}

test('only the provider with a valid attestation from a trusted issuer is admitted; every other one is excluded with its reason', async () => {
  const pol = await policyCid({ name: 'pii-no-exfil', require_attestations: ['audit=pii-no-exfil'] })
  const dag = dagOf([step('s', 'Audited')], { select: [{ attr: 'price', weight: 1 }], policies: [`cid:${pol}`] })
  const id = runId()
  const res = await m.runner().run(dag.steps.s, { text: 'hello' }, ctxOf(dag, id, 's'))
  assert.equal(res.executor, m.nodes[1].peerId)
  assert.deepEqual(res.output, { by: 1, text: 'hello' })
  // the receipt records the policy CID and the attestation that admitted the provider, under both signatures
  verifySignedReceipt(res.receipt, { requireRequester: true })
  assert.deepEqual(res.receipt.receipt.policies, [pol])
  assert.deepEqual(res.receipt.receipt.attestations, [validCid])
  const exp = await m.requester().explanation(id, 's')
  const bid = (i: number): any => exp.bids.find(b => b.provider === m.nodes[i].peerId)
  assert.deepEqual(bid(1).admitted, [validCid])
  assert.equal(bid(1).status, 'won')
  const filtered: Array<[number, RegExp]> = [
    [2, /only self-attested, and the policy does not allow self_attest/],
    [3, /AttestationRevokedError/],
    [4, /AttestationExpiredError/],
    [5, /UntrustedIssuerError/],
    [6, /AttestationSignatureError.*AttestationSubjectMismatchError.*AttestationMalformedError/]
  ]
  for (const [i, reason] of filtered) {
    assert.equal(bid(i)?.status, 'filtered', `provider ${i} is filtered`)
    assert.match(bid(i).reason, reason, `provider ${i}: ${String(bid(i).reason)}`)
  }
  const counted = await m.nodes[0].components.metrics.rejections()
  for (const name of ['AttestationRevokedError', 'AttestationExpiredError', 'UntrustedIssuerError', 'AttestationSignatureError', 'AttestationSubjectMismatchError', 'AttestationMalformedError']) {
    assert.ok((counted[`trust/${name}`] ?? 0) >= 1, `trust/${name} is counted`)
  }
})

test('a policy with self_attest: true accepts the bare string, and the explanation says it was self-attested', async () => {
  const pol = await policyCid({ name: 'pii-self', require_attestations: ['audit=pii-no-exfil'], self_attest: true, allow_peers: [m.nodes[2].peerId] })
  const dag = dagOf([step('s', 'Audited')], { select: [{ attr: 'price', weight: 1 }], policies: [pol] })
  const id = runId()
  const res = await m.runner().run(dag.steps.s, { text: 'x' }, ctxOf(dag, id, 's'))
  assert.equal(res.executor, m.nodes[2].peerId)
  const exp = await m.requester().explanation(id, 's')
  assert.deepEqual(exp.bids.find(b => b.provider === m.nodes[2].peerId)?.self_attested, ['audit=pii-no-exfil'])
  assert.equal((res.receipt as any).receipt.attestations, undefined)
})

test('residency: only a provider whose region a trusted issuer attests inside the policy is admitted', async () => {
  const pol = await policyCid({ name: 'eu-only', residency: ['eu-west', 'eu-north'] })
  const dag = dagOf([step('s', 'Audited')], { select: [{ attr: 'price', weight: 1 }], policies: [pol] })
  const id = runId()
  const res = await m.runner().run(dag.steps.s, { text: 'x' }, ctxOf(dag, id, 's'))
  assert.equal(res.executor, m.nodes[1].peerId)
  const exp = await m.requester().explanation(id, 's')
  assert.match(exp.bids.find(b => b.provider === m.nodes[2].peerId)?.reason ?? '', /attested region us-east is not one of eu-west, eu-north/)
  assert.match(exp.bids.find(b => b.provider === m.nodes[4].peerId)?.reason ?? '', /no region attested by a trusted issuer/)
})

test('a policy reference that resolves nowhere fails the step with PolicyUnresolvedError', async () => {
  const dag = dagOf([step('s', 'Audited')], { policies: ['pol-PII-no-exfil'] })
  await assert.rejects(m.runner().run(dag.steps.s, { text: 'x' }, ctxOf(dag, runId(), 's')), { name: 'PolicyUnresolvedError' })
  const unknownCid = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
  const dag2 = dagOf([step('s', 'Audited')], { policies: [`cid:${unknownCid}`] })
  await assert.rejects(m.runner().run(dag2.steps.s, { text: 'x' }, ctxOf(dag2, runId(), 's')), (err: any) => {
    assert.equal(err.name, 'PolicyUnresolvedError')
    assert.match(err.message, /no peer in the mesh served it/)
    return true
  })
})

test('a policy stored only on another node is fetched from the mesh by CID (DHT + /pl/fetch) and enforced', async () => {
  const pol = await m.nodes[3].service<TrustService>('trust').createPolicy({ name: 'remote-pii', require_attestations: ['audit=pii-no-exfil'] })
  assert.equal(await m.nodes[0].components.store.blocks.has(pol), false)
  const dag = dagOf([step('s', 'Audited')], { select: [{ attr: 'price', weight: 1 }], policies: [pol] })
  // the provider record may need a moment to land in the DHT on a loaded machine
  let res: any
  await waitFor(async () => {
    try {
      res = await m.runner().run(dag.steps.s, { text: 'x' }, ctxOf(dag, runId(), 's'))
      return true
    } catch (err) {
      if ((err as Error).name !== 'PolicyUnresolvedError') throw err
      return false
    }
  }, 60_000, 'the policy to be found in the mesh')
  assert.equal(res.executor, m.nodes[1].peerId)
  assert.deepEqual(res.receipt.receipt.policies, [pol])
  assert.equal(await m.nodes[0].components.store.blocks.has(pol), true)
})

test('revocations: a forged one and one signed by someone other than the issuer are refused, typed and counted', async () => {
  const t1 = m.nodes[1].service<TrustService>('trust')
  await assert.rejects(t1.revoke(issueRevocation(rogue, validCid)), { name: 'RevocationInvalidError' })
  const forged = { ...issueRevocation(auditor, validCid), reason: 'changed after signing' }
  await assert.rejects(t1.revoke(forged), { name: 'RevocationInvalidError' })
  const counted = await m.nodes[1].components.metrics.rejections()
  assert.ok((counted['trust/RevocationInvalidError'] ?? 0) >= 2)
  // the holder still carries its attestation
  assert.equal((await t1.credentialsFor()).some(a => attestationCid(a) === validCid), true)
})

test('a revocation gossiped by the issuer reaches the provider, which stops carrying the attestation', async () => {
  const t5 = m.nodes[5].service<TrustService>('trust')
  const att = issueAttestation(auditor, { subject: m.nodes[5].peerId, claims: { tier: 'gold' }, exp: Date.now() + HOUR })
  const cid = await t5.addAttestation(att)
  await m.mesh.connected(2)
  const rev = issueRevocation(auditor, cid)
  await waitFor(async () => {
    await m.nodes[0].service<TrustService>('trust').revoke({ ...rev })
    return t5.isRevoked(cid, auditor.id)
  }, 30_000, 'the revocation to arrive over gossip')
  assert.equal((await t5.credentialsFor()).some(a => attestationCid(a) === cid), false)
})
