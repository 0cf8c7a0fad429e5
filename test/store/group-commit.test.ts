import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Store } from '../../src/store/index.js'
import { ReceiptStore } from '../../src/receipts/index.js'
import { tempDir } from '../helpers/tmp.js'

test('concurrent block puts share batches, and each is readable once its put resolves', async (t) => {
  const { dir, cleanup } = await tempDir()
  const store = await Store.open(dir)
  t.after(async () => { await store.close(); await cleanup() })
  const before = { ...store.commits.stats }
  const cids = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
    const cid = await store.blocks.put({ i })
    // durability: resolved means written
    assert.deepEqual(await store.blocks.get(cid), { i })
    return cid
  }))
  assert.equal(new Set(cids).size, 200)
  const writes = store.commits.stats.writes - before.writes
  const batches = store.commits.stats.batches - before.batches
  assert.equal(writes, 200)
  assert.ok(batches < 200 / 4, `200 concurrent puts took ${batches} batches`)
})

test('concurrent receipt puts coalesce and index every step', async (t) => {
  const { dir, cleanup } = await tempDir()
  const store = await Store.open(dir)
  t.after(async () => { await store.close(); await cleanup() })
  const receipts = new ReceiptStore(store)
  const signed = (i: number): any => ({ receipt: { run: 'run-1', step: `s${i}`, capability: 'C', provider: 'p', requester: 'r', award: 'a', input: 'i', output: 'o', status: 'ok', started: i, ended: i + 1, usage: { cpu_ms: 1, wall_ms: 1, mem_peak_mb: 1 }, limits: {}, policies: [], prev: [] }, sig: 'x' })
  const batches = store.commits.stats.batches
  await Promise.all(Array.from({ length: 50 }, async (_, i) => await receipts.put(signed(i))))
  assert.ok(store.commits.stats.batches - batches < 50)
  assert.equal((await receipts.stepsOf('run-1')).length, 50)
})

test('a bad value fails only its own write; the writers sharing its batch still land', async (t) => {
  const { dir, cleanup } = await tempDir()
  const store = await Store.open(dir)
  t.after(async () => { await store.close(); await cleanup() })
  const kv = store.json('gc-test')
  const results = await Promise.allSettled([
    store.write([{ type: 'put', key: 'a', value: 1, sublevel: kv }]),
    store.write([{ type: 'put', key: 'bad', value: 10n, sublevel: kv }]), // BigInt: not JSON
    store.write([{ type: 'put', key: 'b', value: 2, sublevel: kv }])
  ])
  assert.deepEqual(results.map(r => r.status), ['fulfilled', 'rejected', 'fulfilled'])
  assert.equal(await kv.get('a'), 1)
  assert.equal(await kv.get('b'), 2)
  assert.equal(await kv.get('bad'), undefined)
})

test('when the database fails, every waiter of the batch gets the error', async (t) => {
  const { dir, cleanup } = await tempDir()
  const store = await Store.open(dir)
  t.after(async () => { await store.close(); await cleanup() })
  const kv = store.json('gc-test')
  await store.db.close() // the database goes away under the writers
  const results = await Promise.allSettled(Array.from({ length: 5 }, async (_, i) => { await store.write([{ type: 'put', key: `k${i}`, value: i, sublevel: kv }]) }))
  assert.deepEqual(results.map(r => r.status), Array(5).fill('rejected'))
})

test('writes submitted before close land before the database closes', async (t) => {
  const { dir, cleanup } = await tempDir()
  t.after(cleanup)
  const store = await Store.open(dir)
  const puts = Array.from({ length: 20 }, async (_, i) => await store.blocks.put({ i }))
  await store.close()
  const cids = await Promise.all(puts)
  const again = await Store.open(dir)
  try {
    for (let i = 0; i < cids.length; i++) assert.deepEqual(await again.blocks.get(cids[i]), { i })
  } finally { await again.close() }
})
