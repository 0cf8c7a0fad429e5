/**
 * API keys in LevelDB (hashed, shown once, kept across restarts) and the
 * per-caller token bucket on a fake clock.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FakeClock } from '../../src/core/clock.js'
import { Store } from '../../src/store/index.js'
import { KeyStore, RateLimiter } from '../../src/gateway/index.js'
import { createIdentity } from '../../src/core/index.js'
import { tempDir } from '../helpers/tmp.js'

async function assertFails (fn: () => Promise<unknown>, name: string): Promise<void> {
  await assert.rejects(fn, (err: Error) => { assert.equal(err.name, name, err.message); return true })
}

test('a key is returned once, stored only as a hash, and survives a restart of the store', async () => {
  const { dir, cleanup } = await tempDir('pl-gw-keys-')
  try {
    let store = await Store.open(dir)
    const created = await new KeyStore(store).create({ name: 'alice', scopes: 'read,submit' })
    assert.match(created.key, /^plk_[0-9a-f]{16}_[A-Za-z0-9_-]{32}$/)
    assert.deepEqual(created.scopes, ['read', 'submit'])
    for await (const [, v] of store.json('gateway-keys').iterator()) {
      assert.ok(!JSON.stringify(v).includes(created.key.slice(21)), 'the secret is not stored')
      assert.match((v as { hash: string }).hash, /^[0-9a-f]{64}$/)
    }
    await store.close()
    store = await Store.open(dir)
    const keys = new KeyStore(store)
    assert.deepEqual(await keys.authenticate(created.key), { name: 'alice', kind: 'api-key', scopes: ['read', 'submit'] })
    assert.equal(await keys.authenticate(created.key.slice(0, -1) + (created.key.endsWith('A') ? 'B' : 'A')), undefined)
    assert.equal(await keys.authenticate('plk_0000000000000000_' + 'A'.repeat(32)), undefined)
    assert.equal(await keys.authenticate(''), undefined)
    const list = await keys.list()
    assert.deepEqual(list.map(k => [k.name, k.kind]), [['alice', 'api-key']])
    assert.equal((list[0] as Record<string, unknown>).hash, undefined)
    await keys.revoke('alice')
    assert.equal(await keys.authenticate(created.key), undefined)
    await store.close()
  } finally {
    await cleanup()
  }
})

test('key creation refuses bad names, unknown or empty scopes, duplicates and non-ed25519 agents', async () => {
  const { dir, cleanup } = await tempDir('pl-gw-keys-')
  const store = await Store.open(dir)
  try {
    const keys = new KeyStore(store)
    await assertFails(async () => await keys.create({ name: '', scopes: 'read' }), 'InvalidApiKeyError')
    await assertFails(async () => await keys.create({ name: 'x y', scopes: 'read' }), 'InvalidApiKeyError')
    await assertFails(async () => await keys.create({ name: 'a', scopes: 'read,root' }), 'InvalidApiKeyError')
    await assertFails(async () => await keys.create({ name: 'a', scopes: '' }), 'InvalidApiKeyError')
    await assertFails(async () => await keys.create({ name: 'a', scopes: 7 }), 'InvalidApiKeyError')
    await keys.create({ name: 'a', scopes: ['admin'] })
    await assertFails(async () => await keys.create({ name: 'a', scopes: 'read' }), 'ApiKeyExistsError')
    await assertFails(async () => await keys.registerAgent({ name: 'b', agent: 'QmNotAPeer', scopes: 'read' }), 'InvalidApiKeyError')
    const agent = await createIdentity()
    await keys.registerAgent({ name: 'b', agent: agent.id, scopes: 'submit' })
    assert.deepEqual(await keys.agent(agent.id), { name: 'b', kind: 'agent', scopes: ['submit'], agent: agent.id })
    await assertFails(async () => await keys.registerAgent({ name: 'c', agent: agent.id, scopes: 'read' }), 'ApiKeyExistsError')
    await assertFails(async () => await keys.revoke('nobody'), 'ApiKeyNotFoundError')
  } finally {
    await store.close()
    await cleanup()
  }
})

test('the token bucket gives `burst` requests, then one per 1/perSecond of (fake) time, per caller', () => {
  const clock = new FakeClock(0)
  const limiter = new RateLimiter({ burst: 2, perSecond: 0.5, clock })
  assert.equal(limiter.take('a'), 0)
  assert.equal(limiter.take('a'), 0)
  assert.equal(limiter.take('a'), 2)
  assert.equal(limiter.take('b'), 0)
  clock.advance(1_000)
  assert.equal(limiter.take('a'), 1)
  clock.advance(1_000)
  assert.equal(limiter.take('a'), 0)
  clock.advance(60_000)
  assert.equal(limiter.take('a'), 0)
  assert.equal(limiter.take('a'), 0)
  assert.equal(limiter.take('a'), 2)
  assert.throws(() => new RateLimiter({ burst: 0, perSecond: 1 }), TypeError)
})

test('the bucket map stays bounded: the least recently used caller is forgotten', () => {
  const limiter = new RateLimiter({ burst: 1, perSecond: 1, clock: new FakeClock(0), maxBuckets: 3 })
  for (const k of ['a', 'b', 'c', 'd']) limiter.take(k)
  assert.equal(limiter.size, 3)
  assert.equal(limiter.take('a'), 0, 'a was forgotten, so it starts with a full bucket')
})
