import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Store, GroupCommit, MAX_GROUP_OPS, type BatchOp } from '../../src/store/index.js'
import { cidStringOf } from '../../src/core/index.js'
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
  // the layout of the keyspace is the sublevel's, whichever kind of batch wrote them
  const keys = await store.db.keys({ gte: '!blocks!', lt: '!blocks"' }).all()
  assert.deepEqual(keys.sort(), cids.map(c => `!blocks!${c}`).sort())
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

/**
 * A GroupCommit over a fake database that records each batch it is given,
 * array or chained (and can be told to fail some, or refuse an operation as
 * it is added to a chained batch, as an encoding would).
 */
function recordingCommit (fail: (ops: any[]) => boolean = () => false, refuse: (op: any) => boolean = () => false): { commits: GroupCommit, batches: any[][], closed: any[][] } {
  const batches: any[][] = []
  const closed: any[][] = []
  const write = async (ops: any[]): Promise<void> => {
    await new Promise<void>((resolve) => { setImmediate(resolve) }) // written later, as LevelDB's worker thread does
    if (fail(ops)) throw new Error('batch refused')
    batches.push(ops)
  }
  const chained = (): any => {
    const ops: any[] = []
    const add = (op: any): void => { if (refuse(op)) throw new TypeError(`cannot encode ${String(op.key)}`); ops.push(op) }
    return {
      put (key: string, value: unknown, options?: any) { add({ type: 'put', key, value, ...options }); return this },
      del (key: string, options?: any) { add({ type: 'del', key, ...options }); return this },
      write: async () => { await write(ops) },
      close: async () => { closed.push(ops) }
    }
  }
  const array = async (ops: any[]): Promise<void> => {
    const bad = ops.find(refuse)
    if (bad != null) throw new TypeError(`cannot encode ${String(bad.key)}`)
    await write(ops)
  }
  const commits = new GroupCommit({ batch: ((ops?: any[]) => ops == null ? chained() : array(ops)) as any })
  return { commits, batches, closed }
}

test('a batch takes at most MAX_GROUP_OPS operations, writers whole and in order; a larger write goes alone', async () => {
  const { commits, batches } = recordingCommit()
  const op = (k: string): BatchOp => ({ type: 'put', key: k, value: 1 })
  const results = await Promise.all([
    ...Array.from({ length: MAX_GROUP_OPS - 1 }, async (_, i) => await commits.write([op(`a${i}`)], i)),
    commits.write([op('b0'), op('b1')], 'pair'), // one op short of room: starts the next batch
    commits.write(Array.from({ length: MAX_GROUP_OPS + 1 }, (_, i) => op(`big${i}`)), 'big'),
    commits.write([op('c')], 'c')
  ])
  assert.deepEqual(results.slice(0, 3), [0, 1, 2])
  assert.deepEqual(results.slice(-3), ['pair', 'big', 'c'])
  assert.deepEqual(batches.map(b => b.length), [MAX_GROUP_OPS - 1, 2, MAX_GROUP_OPS + 1, 1])
  assert.deepEqual(batches.flat().map(o => o.key), [...Array.from({ length: MAX_GROUP_OPS - 1 }, (_, i) => `a${i}`), 'b0', 'b1', ...Array.from({ length: MAX_GROUP_OPS + 1 }, (_, i) => `big${i}`), 'c'])
  assert.deepEqual(commits.stats, { batches: 4, writes: MAX_GROUP_OPS + 2 })
  assert.equal(commits.pending, 0)
})

test('writes made while a batch is being written go together in the next one', async () => {
  const { commits, batches } = recordingCommit()
  const first = commits.write([{ type: 'put', key: 'x', value: 1 }])
  await Promise.resolve() // the first batch is taken
  await new Promise<void>((resolve) => { queueMicrotask(resolve) })
  const later = Array.from({ length: 10 }, async (_, i) => await commits.write([{ type: 'put', key: `y${i}`, value: i }, { type: 'del', key: `z${i}` }], i))
  assert.equal(commits.pending, 20)
  await first
  assert.deepEqual(await Promise.all(later), Array.from({ length: 10 }, (_, i) => i))
  assert.deepEqual(batches.map(b => b.length), [1, 20])
})

test('a failed batch of several writers: each writer is retried alone with its own operations; one writer alone gets the error', async () => {
  const { commits, batches } = recordingCommit((ops) => ops.some(o => o.key === 'bad'))
  const results = await Promise.allSettled([
    commits.write([{ type: 'put', key: 'a1', value: 1 }, { type: 'put', key: 'a2', value: 2 }], 'a'),
    commits.write([{ type: 'put', key: 'bad', value: 0 }, { type: 'put', key: 'b2', value: 0 }], 'b'),
    commits.write([{ type: 'put', key: 'c1', value: 3 }], 'c')
  ])
  assert.deepEqual(results.map(r => r.status === 'fulfilled' ? r.value : (r.reason as Error).message), ['a', 'batch refused', 'c'])
  assert.deepEqual(batches.map(b => b.map(o => o.key)), [['a1', 'a2'], ['c1']])
  await assert.rejects(commits.write([{ type: 'put', key: 'bad', value: 0 }]), /batch refused/)
})

test('an operation refused while the batch is built: nothing of that batch is written, then each writer alone', async () => {
  const { commits, batches, closed } = recordingCommit(() => false, (op) => op.key === 'bad')
  const sub = { name: 'a sublevel' }
  const results = await Promise.allSettled([
    commits.write([{ type: 'put', key: 'a', value: 1, sublevel: sub }]),
    commits.write([{ type: 'put', key: 'b1', value: 1 }, { type: 'put', key: 'bad', value: 2 }]),
    commits.write([{ type: 'del', key: 'c', sublevel: sub }])
  ])
  assert.deepEqual(results.map(r => r.status), ['fulfilled', 'rejected', 'fulfilled'])
  assert.equal(closed.length, 1) // the chained batch was discarded, not written
  // the retries go as array batches, each writer's operations as given (b1 never written without its partner)
  assert.deepEqual(batches, [[{ type: 'put', key: 'a', value: 1, sublevel: sub }], [{ type: 'del', key: 'c', sublevel: sub }]])
})

test('BlockStore.put and Store.write reject (never throw) on bad input or a closed store', async (t) => {
  const { dir, cleanup } = await tempDir()
  const store = await Store.open(dir)
  t.after(cleanup)
  let put: Promise<string> | undefined
  assert.doesNotThrow(() => { put = store.blocks.put({ big: 'x'.repeat(100) }, { maxBytes: 10 }) })
  await assert.rejects(put as Promise<string>, { name: 'DocumentTooLargeError' })
  assert.doesNotThrow(() => { put = store.blocks.put({ x: NaN }) })
  await assert.rejects(put as Promise<string>, { name: 'InvalidEncodingError' })
  const cid = await store.blocks.put({ ok: 1 })
  assert.equal(cid, cidStringOf({ ok: 1 }))
  await store.close()
  let write: Promise<void> | undefined
  assert.doesNotThrow(() => { write = store.write([{ type: 'put', key: 'k', value: 1 }]) })
  await assert.rejects(write as Promise<void>, { name: 'StoreClosedError' })
})
