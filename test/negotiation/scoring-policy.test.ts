import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PolicyUnresolvedError } from '../../src/trust/errors.js'
import { scoreBids, resolvePolicies, bidViolation, peerExclusion, defaultBidStrategy, type Bid, type BidContext, type LocalOffer } from '../../src/negotiation/index.js'

const bid = (provider: string, price: number, eta: number, attrs: Record<string, number | boolean | string> = {}): { provider: string, price: number, eta_ms: number, attrs: Record<string, number | boolean | string> } => ({ provider, price, eta_ms: eta, attrs })

test('attributes are min-max normalized across the bids and cost-like ones count inversely', () => {
  const ranked = scoreBids([bid('a', 10, 100, { quality: 0.5 }), bid('b', 20, 300, { quality: 1 }), bid('c', 30, 200, { quality: 0 })], [{ attr: 'quality', weight: 1 }, { attr: 'price', weight: 1 }, { attr: 'eta_ms', weight: 1 }])
  const byName = Object.fromEntries(ranked.map(r => [r.item.provider, r]))
  assert.deepEqual(byName.a.breakdown.price, { value: 10, normalized: 1, weight: 1, contribution: 1, inverted: true })
  assert.equal(byName.c.breakdown.price.normalized, 0)
  assert.equal(byName.b.breakdown.eta_ms.normalized, 0)
  assert.equal(byName.a.score, 0.5 + 1 + 1)
  assert.equal(byName.b.score, 1 + 0.5 + 0)
  assert.deepEqual(ranked.map(r => r.item.provider), ['a', 'b', 'c'])
})

test('a missing or non-numeric attribute scores 0; booleans count as 1/0; equal values give everyone 1', () => {
  const ranked = scoreBids([bid('a', 1, 1, { gpu: true, tier: 'gold' }), bid('b', 1, 1, { gpu: false })], [{ attr: 'gpu', weight: 1 }, { attr: 'tier', weight: 1 }, { attr: 'missing', weight: 1 }, { attr: 'price', weight: 1 }])
  assert.equal(ranked[0].item.provider, 'a')
  assert.equal(ranked[0].breakdown.tier.value, null)
  assert.equal(ranked[0].breakdown.tier.normalized, 0)
  assert.equal(ranked[0].breakdown.price.normalized, 1)
  assert.equal(ranked[1].breakdown.price.normalized, 1)
})

test('ties go to the lower price, then the lower eta, then the smaller peer id', () => {
  assert.deepEqual(scoreBids([bid('z', 2, 1), bid('y', 1, 9)], []).map(r => r.item.provider), ['y', 'z'])
  assert.deepEqual(scoreBids([bid('z', 1, 5), bid('y', 1, 9)], []).map(r => r.item.provider), ['z', 'y'])
  assert.deepEqual(scoreBids([bid('z', 1, 5), bid('y', 1, 5)], []).map(r => r.item.provider), ['y', 'z'])
})

const base: Bid = { cfp: 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', run: 'r', step: 's', capability: 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', price: 5, eta_ms: 100, limits: {}, attestations: ['ref', 'att-1'], expires: 0 }

test('resolved Policy.v1 documents combine: requirements, residency, deny and allow lists, the lowest max price and eta', async () => {
  const docs: Record<string, any> = {
    p1: { name: 'p1', require_attestations: ['att-1'], deny_peers: ['bad'], max_price: 10, residency: ['eu-west', 'eu-north'] },
    p2: { name: 'p2', allow_peers: ['good', 'bad'], max_price: 4, max_deadline_ms: 50, self_attest: true, require_attestations: ['audit=pii'], residency: ['eu-west'] }
  }
  const policy = await resolvePolicies(['p1', 'p2'], async (r) => ({ cid: `cid-${r}`, doc: docs[r] }), { max_price: 20 })
  assert.deepEqual(policy.cids, ['cid-p1', 'cid-p2'])
  assert.deepEqual(policy.requirements.map(r => [r.text, r.key, r.value, r.selfAttest]), [['att-1', 'att-1', true, false], ['audit=pii', 'audit', 'pii', true]])
  assert.deepEqual(policy.residency, ['eu-west'])
  assert.equal(policy.maxPrice, 4)
  assert.equal(peerExclusion(policy, 'bad'), 'denied by policy (deny_peers)')
  assert.match(peerExclusion(policy, 'other') ?? '', /allow list/)
  assert.equal(peerExclusion(policy, 'good'), undefined)
  assert.match(bidViolation(policy, base, 'good') ?? '', /price 5 over the maximum 4/)
  assert.match(bidViolation(policy, { ...base, price: 4 }, 'good') ?? '', /eta 100 ms over the maximum 50 ms/)
  assert.equal(bidViolation(policy, { ...base, price: 4, eta_ms: 50 }, 'good'), undefined)
})

test('an unresolvable policy reference fails with PolicyUnresolvedError instead of being a label', async () => {
  await assert.rejects(resolvePolicies(['pol-unknown'], async (r) => { throw new PolicyUnresolvedError(`no ${r}`, { ref: r }) }), { name: 'PolicyUnresolvedError' })
})

test('the default bid strategy bids from the descriptor and declines for each reason', async () => {
  const offer: LocalOffer = {
    cid: base.capability,
    descriptor: { name: 'X', version: '1', provider: 'p', io: { input: {}, output: {} }, limits: { wall_ms: 1000, mem_mb: 64 }, price: 3, attrs: { eta_ms: 40, q: 1 }, policies: ['pol'], attestations: ['att'] },
    module: { key: 'x', dir: '/x', cid: base.capability, kind: 'js', entry: '/x/function.mjs' }
  }
  const ctx = (over: Partial<BidContext> = {}, cfp: Record<string, unknown> = {}): BidContext => ({
    cfp: { run: 'r', step: 's', capability: { name: 'X' }, input: base.cfp, input_size: 1, deadline: 1e13, reply_by: 1e13, limits: { wall_ms: 500 }, policies: ['pol'], ...cfp },
    cfpId: base.cfp, requester: 'q', offer, active: 0, maxActive: 1, now: 0, ...over
  })
  const s = defaultBidStrategy()
  assert.deepEqual(await s.decide(ctx()), { bid: { price: 3, eta_ms: 40, attrs: { eta_ms: 40, q: 1 }, limits: { wall_ms: 500, mem_mb: 64 }, attestations: ['att', 'pol'] } })
  // policies are the requester's to judge (against attestations from issuers it trusts): no decline for them
  assert.ok('bid' in await s.decide(ctx({}, { policies: ['pol', 'other'] })))
  assert.equal((await s.decide(ctx({ offer: undefined })) as any).decline, 'unsupported')
  assert.equal((await s.decide(ctx({}, { capability: { name: 'X', cid: 'bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku' } })) as any).decline, 'unsupported')
  assert.equal((await s.decide(ctx({ active: 1 })) as any).decline, 'busy')
  assert.equal((await s.decide(ctx({}, { limits: { mem_mb: 65 } })) as any).decline, 'over-limits')
})
