/**
 * Estimates judge bids as a run does: on a real three-node mesh the gateway
 * node trusts one auditor; the cheaper provider's audit attestation comes
 * from an untrusted issuer and its region is outside the policy. The
 * estimate shows it excluded with the reason and chooses the provider a run
 * would choose.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type TestMesh, waitFor } from '../helpers/mesh.js'
import { tempDir } from '../helpers/tmp.js'
import type { Discovery } from '../../src/discovery/index.js'
import type { PlNode } from '../../src/node.js'
import { createIdentity, type Identity } from '../../src/core/index.js'
import { issueAttestation, type TrustService } from '../../src/trust/index.js'
import { gw, http, startMesh } from './helpers.js'

let mesh: TestMesh
let base: string
let key: string
let tmp: { dir: string, cleanup: () => Promise<void> }
let auditor: Identity
let rogue: Identity
let trustedAudit = ''
const HOUR = 3_600_000

const disc = (n: PlNode): Discovery => n.service<Discovery>('discovery')
const trustOf = (n: PlNode): TrustService => n.service<TrustService>('trust')

before(async () => {
  tmp = await tempDir('pl-gw-estimate-trust-')
  auditor = await createIdentity()
  rogue = await createIdentity()
  // 0 gateway, trusts the auditor · 1 audited in eu-west, price 3 · 2 audited by an untrusted issuer, region us-east, price 1
  mesh = await startMesh(3, (i) => i === 0 ? {} : undefined, () => [], () => ({}), (i) => i === 0 ? { trust: { issuers: [{ key: auditor.id, name: 'auditor' }] } } : {})
  await mesh.connected(1)
  base = gw(mesh.nodes[0]).address as string
  key = (await gw(mesh.nodes[0]).keys.create({ name: 'agent', scopes: ['read', 'submit'] })).key
  const dir = join(tmp.dir, 'audited')
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'function.mjs'), 'export default class M {\n  eval (parameters, inputData) { return { text: String(inputData.text) } }\n}\n')
  const io = { input: { type: 'object' }, output: { type: 'object' } }
  for (const [i, price] of [[1, 3], [2, 1]]) {
    await disc(mesh.nodes[i]).publish({ name: 'Audited', version: '1.0.0', io, price, limits: { wall_ms: 20_000, mem_mb: 128 } }, { dir })
  }
  const exp = Date.now() + HOUR
  const p1 = mesh.nodes[1].peerId
  const p2 = mesh.nodes[2].peerId
  trustedAudit = await trustOf(mesh.nodes[1]).addAttestation(issueAttestation(auditor, { subject: p1, claims: { audit: 'pii-no-exfil', region: 'eu-west' }, exp }))
  await trustOf(mesh.nodes[2]).addAttestation(issueAttestation(rogue, { subject: p2, claims: { audit: 'pii-no-exfil' }, exp }))
  await trustOf(mesh.nodes[2]).addAttestation(issueAttestation(auditor, { subject: p2, claims: { region: 'us-east' }, exp }))
  await waitFor(async () => (await disc(mesh.nodes[0]).find({ name: 'Audited' }, { localOnly: true })).length === 2, 30_000, 'node 0 to hear both Audited ads')
})

after(async () => {
  await mesh?.stop()
  await tmp?.cleanup()
})

async function estimate (policy: string): Promise<any> {
  const dsl = `goal: Audit\ninputs:\n  text: Hi\npolicy:\n  require: [${policy}]\nplan:\n  - step: Audited(text)\n`
  const res = await http(base, 'POST', '/dsl-graph/audit/estimate', { key, body: { dsl } })
  return res
}

test('an attestation from an untrusted issuer: the estimate excludes the cheaper provider with UntrustedIssuerError and chooses the one a run would', async () => {
  const pol = await trustOf(mesh.nodes[0]).createPolicy({ name: 'audited', require_attestations: ['audit=pii-no-exfil'] })
  const res = await estimate(`cid:${pol}`)
  assert.equal(res.status, 200, JSON.stringify(res.body))
  const [s] = res.body.steps
  assert.equal(s.chosen.provider, mesh.nodes[1].peerId, JSON.stringify(s))
  assert.deepEqual(s.chosen.admitted, [trustedAudit])
  const cheap = s.candidates.find((c: any) => c.provider === mesh.nodes[2].peerId)
  assert.match(cheap.filtered, /not attested by a trusted issuer.*UntrustedIssuerError/)
  assert.deepEqual(s.excluded.map((e: any) => e.provider), [mesh.nodes[2].peerId])
  assert.match(s.excluded[0].reason, /UntrustedIssuerError/)
  assert.equal(res.body.total_price, 3)
  assert.equal(res.body.feasible, true)
  const counted = await mesh.nodes[0].components.metrics.rejections()
  assert.ok((counted['trust/UntrustedIssuerError'] ?? 0) >= 1, 'the refused attestation is counted as in a run')
})

test('residency: a provider whose trusted region is outside the policy is excluded with the reason', async () => {
  const pol = await trustOf(mesh.nodes[0]).createPolicy({ name: 'eu-only', residency: ['eu-west'] })
  const res = await estimate(`cid:${pol}`)
  assert.equal(res.status, 200, JSON.stringify(res.body))
  const [s] = res.body.steps
  assert.equal(s.chosen.provider, mesh.nodes[1].peerId)
  assert.deepEqual(s.excluded.map((e: any) => e.provider), [mesh.nodes[2].peerId])
  assert.match(s.excluded[0].reason, /^residency: attested region us-east is not one of eu-west/)
})

test('a policy that no provider meets makes the estimate infeasible; an unresolvable policy reference is a typed error', async () => {
  const pol = await trustOf(mesh.nodes[0]).createPolicy({ name: 'gold', require_attestations: ['tier=gold'] })
  const res = await estimate(`cid:${pol}`)
  assert.equal(res.status, 200, JSON.stringify(res.body))
  assert.equal(res.body.feasible, false)
  assert.equal(res.body.steps[0].unavailable, 'no usable bid')
  assert.equal(res.body.steps[0].excluded.length, 2)
  const bad = await estimate('no-such-policy-name')
  assert.notEqual(bad.status, 200)
  assert.equal(bad.body.error.name, 'PolicyUnresolvedError')
})
