import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Store, STORE_VERSION } from '../../src/store/index.js'
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
