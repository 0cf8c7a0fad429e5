/**
 * The executor's cache of validated, encoded DAGs (src/exec/dag-cache.ts):
 * the same plain DAG is served from it; anything it cannot key safely is
 * validated and encoded every time.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Store } from '../../src/store/index.js'
import { DagCache } from '../../src/exec/dag-cache.js'
import { encodeCanonical, cidStringOfBytes } from '../../src/core/encoding.js'
import type { TaskDag } from '../../src/workflow/index.js'

function dag (extra: Record<string, unknown> = {}): TaskDag {
  return {
    v: 1, name: 'cached', source: { format: 'workflow.json' }, mode: 'dag', inputs: {}, constraints: {}, policies: [], select: [],
    globalSettings: {}, globalParameters: {},
    steps: { a: { id: 'a', kind: 'call', capability: { name: 'inc' }, parameters: {}, settings: {}, after: [], args: {}, limits: {}, ...extra } },
    outputs: ['a']
  } as unknown as TaskDag
}

async function withCache (fn: (c: DagCache, store: Store) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pl-dag-cache-'))
  const store = await Store.open(dir)
  try {
    await fn(new DagCache(store.blocks), store)
  } finally {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  }
}

test('the same DAG, submitted again (a new object with the same content), gets the block of the first: its CID and canonical bytes', async () => {
  await withCache(async (c) => {
    const first = c.blockOf(dag())
    const again = c.blockOf(dag())
    assert.equal(again.cid, first.cid)
    const bytes = encodeCanonical(dag())
    assert.equal(again.cid, cidStringOfBytes(bytes))
    assert.deepEqual((again.op as { value: Uint8Array }).value, bytes)
    // a copy of the operation each time: a batch may keep it
    assert.notEqual(again.op, first.op)
  })
})

test('an invalid DAG is refused every time, also after a valid one', async () => {
  await withCache(async (c) => {
    c.blockOf(dag())
    const bad = dag()
    bad.steps.a.after = ['nope']
    assert.throws(() => c.blockOf(bad), { name: 'DanglingReferenceError' })
    assert.throws(() => c.blockOf(bad), { name: 'DanglingReferenceError' })
  })
})

test('a DAG with the JSON text of a cached one but other values (NaN, an undefined value, a Date) is not served from the cache', async () => {
  await withCache(async (c) => {
    const plain = c.blockOf(dag({ note: null }))
    // JSON.stringify writes NaN as null: the cache must not take this DAG for the one above
    assert.throws(() => c.blockOf(dag({ note: Number.NaN })))
    const withUndefined = dag({ note: null, more: undefined })
    assert.equal(c.blockOf(withUndefined).cid, plain.cid) // dag-cbor leaves undefined values out, like JSON: same block
    const date = new Date(0)
    const cached = c.blockOf(dag({ note: date.toJSON() }))
    // dag-cbor encodes a Date as an empty map: not the block of its JSON text
    const dated = c.blockOf(dag({ note: date }))
    assert.equal(dated.cid, cidStringOfBytes(encodeCanonical(dag({ note: date }))))
    assert.notEqual(dated.cid, cached.cid)
  })
})
