/**
 * Late joiners learn revocations over /pl/revocations/1.0.0, on real nodes:
 * a requester C that was down while the auditor revoked an attestation asks
 * its peers when it rejoins, stores the revocation and then excludes the
 * provider that still presents it. A hostile peer's forged, misissued,
 * unasked-for or malformed answers are refused and counted; oversize
 * requests are refused with a typed error.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { waitFor } from '../helpers/mesh.js'
import { tempDir } from '../helpers/tmp.js'
import { PlNode } from '../../src/node.js'
import { createIdentity, type Identity } from '../../src/core/index.js'
import { defineProtocol } from '../../src/net/index.js'
import { negotiation, defaultBidStrategy, type Negotiation, type RemoteRunner, type BidStrategy } from '../../src/negotiation/index.js'
import { receipts } from '../../src/receipts/index.js'
import { trust, issueAttestation, issueRevocation, attestationCid, revocationSyncProtocol, REVOCATION_SYNC_PROTOCOL, MAX_SYNC_REQUEST, type TrustService, type Attestation } from '../../src/trust/index.js'
import { startOffersMesh, writeModule, step, dagOf, ctxOf, runId, type OffersMesh } from '../negotiation/helpers.js'

const HOUR = 3_600_000
let m: OffersMesh
let auditor: Identity
let rogue: Identity
let cDir = ''
let revokedAtt: Attestation
/** C after its restart */
let live: PlNode
let goodAtt: Attestation

/** node 1 keeps presenting its attestation after the revocation (an honest node would stop) */
function stubborn (credentials: Attestation[]): BidStrategy {
  const base = defaultBidStrategy()
  return {
    decide: async (ctx) => {
      const d = await base.decide(ctx)
      return 'bid' in d ? { bid: { ...d.bid, credentials } } : d
    }
  }
}

/** C: a requester trusting the auditor, without gossip (so only /pl/revocations can tell it) */
async function startC (): Promise<PlNode> {
  const node = await PlNode.create({
    dataDir: cDir,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: m.nodes[0].addrs(),
    localSwarm: true,
    controlApi: false,
    gossip: false,
    services: {
      receipts: receipts(),
      trust: trust({ issuers: [{ key: auditor.id, name: 'auditor' }], gossip: false }),
      negotiation: negotiation({ finder: m.offers.finder(), local: m.offers.localFor(99), replyWindowMs: 4000 })
    }
  })
  stopAtClose(node)
  await node.start()
  return node
}

const trustOf = (n: PlNode): TrustService => n.service<TrustService>('trust')

/** a node started beside the mesh: stopped at close, before the folders made before it are removed (a failed stop is ignored: C's first run stops in its test) */
function stopAtClose (node: PlNode): void {
  m.defer(async () => { await node.stop().catch(() => {}) })
}

/** a temp folder made by a test, removed at close */
async function tempDirAtClose (prefix: string): Promise<string> {
  const t = await tempDir(prefix)
  m.defer(t.cleanup)
  return t.dir
}

async function runOn (node: PlNode, policy: string): Promise<{ executor: string, id: string }> {
  const dag = dagOf([step('s', 'Audited')], { select: [{ attr: 'price', weight: 1 }], policies: [policy] })
  const id = runId()
  const res = await (node.service<Negotiation>('negotiation').runner as RemoteRunner).run(dag.steps.s, { text: 'x' }, ctxOf(dag, id, 's'))
  return { executor: String(res.executor), id }
}

before(async () => {
  auditor = await createIdentity()
  rogue = await createIdentity()
  const held: Attestation[] = []
  // 0 the auditor's node · 1 cheap provider whose attestation gets revoked · 2 dearer provider with a valid one
  m = await startOffersMesh({
    name: 'pl-trust-sync-',
    nodes: 3,
    requester: false,
    requesterServices: { trust: trust() },
    provider: (i) => i === 1 ? { strategy: stubborn(held) } : {},
    providerServices: () => ({ trust: trust() })
  })
  cDir = await tempDirAtClose('pl-trust-sync-c-')
  for (const i of [1, 2]) m.offers.add(i, m.nodes[i], { name: 'Audited', price: i }, await writeModule(m.dir, `audited-${i}`, `return { by: ${i} }`))
  const claims = { audit: 'pii-no-exfil' }
  revokedAtt = issueAttestation(auditor, { subject: m.nodes[1].peerId, claims, exp: Date.now() + HOUR })
  goodAtt = issueAttestation(auditor, { subject: m.nodes[2].peerId, claims, exp: Date.now() + HOUR })
  await trustOf(m.nodes[1]).addAttestation(revokedAtt)
  held.push(revokedAtt)
  await trustOf(m.nodes[2]).addAttestation(goodAtt)
})

after(async () => {
  await m?.close()
})

test('a revocation issued while a requester was down reaches it when it rejoins, and it then excludes the revoked provider', async () => {
  const policy = `cid:${await trustOf(m.nodes[0]).createPolicy({ name: 'audited', require_attestations: ['audit=pii-no-exfil'] })}`
  let c = await startC()
  await trustOf(c).createPolicy({ name: 'audited', require_attestations: ['audit=pii-no-exfil'] })
  await waitFor(() => c.libp2p.getPeers().length >= 1, 20_000, 'C to connect')
  const first = await runOn(c, policy)
  assert.equal(first.executor, m.nodes[1].peerId, 'before the revocation the cheaper attested provider wins')
  const cid = attestationCid(revokedAtt)
  assert.equal(trustOf(c).watchedAttestations().get(cid), auditor.id, 'C remembers the attestation it admitted')
  await c.stop()
  // C is down: the auditor revokes; node 0 stores the revocation (and gossips it, which C would not hear anyway)
  await trustOf(m.nodes[0]).revoke(issueRevocation(auditor, cid, 'audit withdrawn'))
  c = await startC()
  live = c
  assert.equal(trustOf(c).isRevoked(cid, auditor.id), false, 'C did not hear of it while down')
  await waitFor(() => trustOf(c).isRevoked(cid, auditor.id), 30_000, 'C to learn the revocation from a peer')
  const counted = await c.components.metrics.rejections()
  assert.equal(counted['trust/RevocationInvalidError'] ?? 0, 0)
  const second = await runOn(c, policy)
  assert.equal(second.executor, m.nodes[2].peerId, 'the revoked provider is excluded')
  const exp = await c.service<Negotiation>('negotiation').explanation(second.id, 's')
  const p1 = exp.bids.find(b => b.provider === m.nodes[1].peerId)
  assert.equal(p1?.status, 'filtered')
  assert.match(p1?.reason ?? '', /AttestationRevokedError/)
})

test('forged, misissued, unasked-for and malformed answers from a hostile peer are refused and counted', async () => {
  const c = live
  const goodCid = attestationCid(goodAtt)
  await waitFor(() => trustOf(c).watchedAttestations().has(goodCid), 10_000, 'C to watch the valid attestation')
  let mode: 'forged' | 'malformed' = 'forged'
  const answers = [
    { ...issueRevocation(auditor, goodCid), reason: 'changed after signing' },
    issueRevocation(rogue, goodCid, 'not the issuer'),
    issueRevocation(auditor, attestationCid(issueAttestation(auditor, { subject: m.nodes[2].peerId, claims: { x: true }, exp: Date.now() + HOUR })), 'never asked')
  ]
  const dir = await tempDirAtClose('pl-trust-sync-h-')
  const h = await PlNode.create({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: c.addrs(), localSwarm: true, controlApi: false, gossip: false })
  stopAtClose(h)
  await h.start()
  await h.components.rpc.handle(defineProtocol({ id: REVOCATION_SYNC_PROTOCOL, handler: async () => ({ status: 'OK', body: mode === 'forged' ? { revocations: answers } : { revocations: 'all of them' } }) }))
  await waitFor(() => c.libp2p.getPeers().some(p => p.toString() === h.peerId), 20_000, 'H to connect to C')
  const res = await trustOf(c).syncRevocations(h.peerId)
  assert.deepEqual(res, { asked: trustOf(c).watchedAttestations().size, stored: 0, rejected: 3 })
  assert.equal(trustOf(c).isRevoked(goodCid, auditor.id), false)
  assert.equal(trustOf(c).isRevoked(goodCid, rogue.id), false)
  const counted = await c.components.metrics.rejections()
  assert.ok((counted['trust/RevocationInvalidError'] ?? 0) >= 2, JSON.stringify(counted))
  assert.ok((counted['trust/RevocationSyncAnswerError'] ?? 0) >= 1, JSON.stringify(counted))
  mode = 'malformed'
  await assert.rejects(trustOf(c).syncRevocations(h.peerId), { name: 'RevocationSyncAnswerError' })
  assert.ok(((await c.components.metrics.rejections())['trust/RevocationSyncAnswerError'] ?? 0) >= 2)
})

test('oversize and malformed /pl/revocations requests are refused with RevocationSyncRequestError', async () => {
  const c = live
  const def = revocationSyncProtocol()
  const cid = attestationCid(goodAtt)
  const over = await c.components.rpc.request(m.nodes[0].peerId, def, { attestations: Array.from({ length: MAX_SYNC_REQUEST + 1 }, () => cid) })
  assert.equal(over.status, 'REJECTED')
  assert.equal(over.error?.name, 'RevocationSyncRequestError')
  const notCid = await c.components.rpc.request(m.nodes[0].peerId, def, { attestations: ['not-a-cid'] })
  assert.deepEqual([notCid.status, notCid.error?.name], ['REJECTED', 'RevocationSyncRequestError'])
  const notList = await c.components.rpc.request(m.nodes[0].peerId, def, { attestations: 'x' } as any)
  assert.deepEqual([notList.status, notList.error?.name], ['REJECTED', 'RevocationSyncRequestError'])
  // the asker's own limit would stop the frame before it leaves: a careless client with a bigger one
  const huge = await c.components.rpc.request(m.nodes[0].peerId, { ...def, maxRequestBytes: 1024 * 1024 }, { attestations: [cid], pad: 'x'.repeat(64 * 1024) } as any)
  assert.equal(huge.status, 'REJECTED')
  assert.equal(huge.error?.name, 'FrameTooLargeError')
  const counted = await m.nodes[0].components.metrics.rejections()
  assert.ok((counted[`${REVOCATION_SYNC_PROTOCOL}/RevocationSyncRequestError`] ?? 0) >= 3, JSON.stringify(counted))
  // a well-formed request is answered with what node 0 knows
  const ok = await c.components.rpc.request(m.nodes[0].peerId, def, { attestations: [attestationCid(revokedAtt), cid] })
  assert.equal(ok.status, 'OK')
  assert.equal((ok.body as { revocations: unknown[] }).revocations.length, 1)
})

test('a connected node that missed a revocation\'s gossip learns it at the next periodic sync, without reconnecting', async () => {
  const dirs = [await tempDirAtClose('pl-trust-sync-d-'), await tempDirAtClose('pl-trust-sync-e-')]
  // a pair outside the mesh (so no newly connecting peer tells D): E knows revocations, D carries an attestation
  // about itself and hears no gossip, so only /pl/revocations can tell it
  const e = await PlNode.create({ dataDir: dirs[1], listen: ['/ip4/127.0.0.1/tcp/0'], localSwarm: true, controlApi: false, gossip: false, services: { trust: trust({ gossip: false }) } })
  stopAtClose(e)
  await e.start()
  const d = await PlNode.create({ dataDir: dirs[0], listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: e.addrs(), localSwarm: true, controlApi: false, gossip: false, services: { trust: trust({ gossip: false, syncIntervalMs: 300 }) } })
  stopAtClose(d)
  await d.start()
  const att = issueAttestation(auditor, { subject: d.peerId, claims: { audit: 'self-carried' }, exp: Date.now() + HOUR })
  const cid = attestationCid(att)
  await trustOf(d).addAttestation(att)
  await waitFor(() => d.libp2p.getPeers().some(p => p.toString() === e.peerId), 20_000, 'D to connect to E')
  // D has asked E already (before the revocation exists)
  assert.equal((await trustOf(d).syncRevocations(e.peerId)).stored, 0)
  await trustOf(e).revoke(issueRevocation(auditor, cid, 'withdrawn while D was connected'))
  await waitFor(() => trustOf(d).isRevoked(cid, auditor.id), 30_000, 'D to learn the revocation at a periodic sync')
  assert.deepEqual(d.libp2p.getPeers().map(String), [e.peerId], 'over the same connection, from the only peer')
})
