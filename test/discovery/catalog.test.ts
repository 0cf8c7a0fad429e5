import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Store } from '../../src/store/index.js'
import { Catalog } from '../../src/discovery/catalog.js'
import { PeerRateLimiter } from '../../src/discovery/rate-limit.js'
import type { CatalogEntry } from '../../src/discovery/types.js'
import { tempDir } from '../helpers/tmp.js'
import { FakeClock } from '../../src/core/clock.js'

const P1 = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
const P2 = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

function entry (over: Partial<CatalogEntry> = {}): CatalogEntry {
  const name = over.name ?? 'Summarize'
  return {
    cid: 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
    name,
    version: '1.0.0',
    provider: P1,
    descriptor: { name, version: '1.0.0', provider: over.provider ?? P1, io: { input: {}, output: {} }, limits: {} },
    addrs: [],
    ts: 1000,
    expires: Date.now() + 60_000,
    source: 'gossip',
    ...over
  }
}

async function withCatalog (fn: (c: Catalog, store: Store, reopen: () => Promise<Catalog>) => Promise<void>, init: { maxEntries: number, maxPerProvider: number, now?: () => number } = { maxEntries: 100, maxPerProvider: 10 }): Promise<void> {
  const { dir, cleanup } = await tempDir()
  let store = await Store.open(dir)
  try {
    await fn(new Catalog(store.json('catalog'), init), store, async () => {
      await store.close()
      store = await Store.open(dir)
      const c = new Catalog(store.json('catalog'), init)
      await c.load()
      return c
    })
  } finally {
    await store.close()
    await cleanup()
  }
}

test('keeps the newest ad per provider and capability, and finds by name', async () => {
  await withCatalog(async (c) => {
    assert.equal(await c.upsert(entry()), 'added')
    assert.equal(await c.upsert(entry({ provider: P2 })), 'added')
    assert.equal(await c.upsert(entry({ ts: 2000, addrs: ['/ip4/127.0.0.1/tcp/1'] })), 'updated')
    assert.equal(await c.upsert(entry({ ts: 1500 })), 'stale')
    assert.equal(c.find('Summarize').length, 2)
    assert.deepEqual(c.find('Summarize').find(e => e.provider === P1)?.addrs, ['/ip4/127.0.0.1/tcp/1'])
    assert.deepEqual(c.find('Translate'), [])
  })
})

test('a withdrawal removes the entry and an older ad cannot bring it back', async () => {
  await withCatalog(async (c) => {
    await c.upsert(entry({ ts: 1000 }))
    assert.equal(await c.withdraw(P1, entry().cid, 1500, Date.now() + 60_000), true)
    assert.deepEqual(c.find('Summarize'), [])
    assert.equal(await c.upsert(entry({ ts: 1200 })), 'withdrawn')
    assert.equal(await c.upsert(entry({ ts: 1600 })), 'added', 'a newer ad (re-published) is accepted')
  })
})

test('expired entries are not found, are swept, and are dropped when the catalog is loaded again (on the catalog\'s clock)', async () => {
  const clock = new FakeClock()
  await withCatalog(async (c, _store, reopen) => {
    await c.upsert(entry({ expires: clock.now() + 60_000 }))
    await c.upsert(entry({ provider: P2, expires: clock.now() + 20 }))
    assert.equal(c.find('Summarize').length, 2)
    clock.advance(20)
    assert.equal(c.find('Summarize').length, 1, 'the expired entry is not found even before the sweep')
    const again = await reopen()
    assert.equal(again.size, 1, 'reloaded from LevelDB without the expired entry')
    assert.equal(again.find('Summarize')[0].provider, P1)
    await again.upsert(entry({ provider: P2, cid: 'bafyreia5pddcx6nfdyy3ssoxc3rt7wwyhkzxipwwqt2yy7tqx5v6ajn6xu', expires: clock.now() + 10 }))
    assert.equal(await again.sweep(), 0, 'nothing has expired yet')
    clock.advance(10)
    assert.equal(await again.sweep(), 1)
    assert.equal(again.size, 1)
  }, { maxEntries: 100, maxPerProvider: 10, now: clock.now })
})

test('refuses new entries past the total and per-provider caps', async () => {
  await withCatalog(async (c) => {
    assert.equal(await c.upsert(entry()), 'added')
    assert.equal(await c.upsert(entry({ cid: 'bafyreia5pddcx6nfdyy3ssoxc3rt7wwyhkzxipwwqt2yy7tqx5v6ajn6xu' })), 'full', 'per provider')
    assert.equal(await c.upsert(entry({ provider: P2 })), 'added')
    assert.equal(await c.upsert(entry({ ts: 5000 })), 'updated', 'updates are not new entries')
  }, { maxEntries: 2, maxPerProvider: 1 })
})

test('the per-peer token bucket allows a burst, then the refill rate', () => {
  const rl = new PeerRateLimiter(2, 3)
  const t = 1_000_000
  assert.deepEqual([1, 2, 3, 4].map(() => rl.take('a', t)), [true, true, true, false])
  assert.equal(rl.take('b', t), true, 'buckets are per peer')
  assert.equal(rl.waitMs('a', t), 500)
  assert.equal(rl.take('a', t + 499), false)
  assert.equal(rl.take('a', t + 500), true)
  assert.throws(() => new PeerRateLimiter(0, 1), TypeError)
})

test('the rate limiter stays bounded in the number of peers it tracks', () => {
  const rl = new PeerRateLimiter(1, 2, 100)
  for (let i = 0; i < 1000; i++) rl.take(`peer-${i}`, 1000)
  assert.ok(rl.size <= 100, `tracks ${rl.size} peers`)
})
