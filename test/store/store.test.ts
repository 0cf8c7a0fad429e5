import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Store, STORE_VERSION, BLOCK_CACHE_BYTES } from '../../src/store/index.js'
import { cidStringOf } from '../../src/core/encoding.js'
import { tempDir } from '../helpers/tmp.js'

test('a second open of the same data dir fails with DataDirLockedError', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    const a = await Store.open(dir)
    await assert.rejects(Store.open(dir), (err: Error) => err.name === 'DataDirLockedError' && /another pl-node/.test(err.message))
    await a.close()
  } finally { await cleanup() }
})

test('a store written by a newer version refuses to open', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    const a = await Store.open(dir)
    await a.json('meta').put('version', STORE_VERSION + 1)
    await a.close()
    await assert.rejects(Store.open(dir), { name: 'StoreVersionError' })
    // and the store is not left locked by the failed open
    await assert.rejects(Store.open(dir), { name: 'StoreVersionError' })
  } finally { await cleanup() }
})

test('blocks are stored by CID and verified on putBytes', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    const s = await Store.open(dir)
    const cid = await s.blocks.put({ hello: 'world' })
    assert.equal(cid, cidStringOf({ hello: 'world' }))
    assert.deepEqual(await s.blocks.get(cid), { hello: 'world' })
    await assert.rejects(s.blocks.get(cidStringOf({ x: 1 })), { name: 'BlockNotFoundError' })
    await assert.rejects(s.blocks.putBytes(cidStringOf({ x: 1 }), new Uint8Array([1])), { name: 'CidMismatchError' })
    await s.close()
  } finally { await cleanup() }
})

test('the LevelDB block cache stays within BLOCK_CACHE_BYTES however much is read', async (t) => {
  const { dir, cleanup } = await tempDir()
  let store = await Store.open(dir)
  t.after(async () => { await store.close(); await cleanup() })
  const sub = store.json<{ i: number, pad: string }>('cache-test')
  const pad = 'x'.repeat(400)
  // ~12 MB of values: more than LevelDB's default 8 MiB cache could hold
  for (let b = 0; b < 30; b++) await store.write(Array.from({ length: 1000 }, (_, j) => ({ type: 'put' as const, sublevel: sub, key: String(b * 1000 + j).padStart(6, '0'), value: { i: b * 1000 + j, pad } })))
  await store.close()
  store = await Store.open(dir)
  const reopened = store.json<{ i: number, pad: string }>('cache-test')
  for (let i = 0; i < 30000; i += 3) assert.equal(((await reopened.get(String(i).padStart(6, '0'))) as { i: number } | undefined)?.i, i)
  // block cache plus the (empty after reopen) memtable
  // classic-level's getProperty (the Level type of `level` leaves it out)
  const used = Number((store.db as unknown as { getProperty: (p: string) => string }).getProperty('leveldb.approximate-memory-usage'))
  assert.ok(used <= BLOCK_CACHE_BYTES * 1.25, `LevelDB holds ${used} bytes, cache limit ${BLOCK_CACHE_BYTES}`)
  assert.ok(used > BLOCK_CACHE_BYTES / 2, `the reads went through the cache: ${used} bytes`)
})

test('a second close() while the first runs its beforeClose hooks waits for them: what a hook writes lands before the database closes', async (t) => {
  const { dir, cleanup } = await tempDir()
  t.after(cleanup)
  const store = await Store.open(dir)
  const kv = store.json<number>('hook')
  const hookStarted = Promise.withResolvers<void>()
  const release = Promise.withResolvers<void>()
  store.beforeClose(async () => {
    hookStarted.resolve()
    await release.promise
    await store.write([{ type: 'put', key: 'k', value: 1, sublevel: kv }])
  })
  const first = store.close()
  await hookStarted.promise
  let secondDone = false
  const second = store.close().then(() => { secondDone = true })
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(secondDone, false, 'the second close returned while the first was still in its hooks')
  release.resolve()
  await Promise.all([first, second])
  const again = await Store.open(dir)
  try {
    assert.equal(await again.json<number>('hook').get('k'), 1)
  } finally { await again.close() }
})
