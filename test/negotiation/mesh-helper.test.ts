/**
 * The shared mesh setup of the negotiation tests (startPoolMesh in
 * helpers.ts) leaves nothing behind: a start that fails part way closes what
 * it opened, and close() runs every closer even when one of them throws.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { startPoolMesh } from './helpers.js'

/** a temp folder prefix no other test uses */
function uniquePrefix (): string {
  return `pl-neg-helper-${process.pid}-${Math.random().toString(36).slice(2)}-`
}

async function foldersWith (prefix: string): Promise<string[]> {
  return (await readdir(tmpdir())).filter(name => name.startsWith(prefix))
}

test('a start that fails part way rethrows the failure and leaves no temp folder behind', async () => {
  const name = uniquePrefix()
  await assert.rejects(startPoolMesh({
    name,
    nodes: 2,
    services: (i) => { if (i === 1) throw new Error('node 1 cannot be made'); return {} }
  }), /node 1 cannot be made/)
  assert.deepEqual(await foldersWith(name), [])
})

test('close() stops every node, runs every deferred closer (last first), closes the pool and removes the folder even when a closer throws', async (t) => {
  const m = await startPoolMesh({ name: uniquePrefix(), nodes: 2, services: () => ({}) })
  t.after(async () => { await m.close().catch(() => {}) })
  const ran: string[] = []
  m.defer(() => { ran.push('first') })
  m.defer(() => { ran.push('second'); throw new Error('a closer fails') })
  const closePool = m.pool.close.bind(m.pool)
  m.pool.close = async () => { ran.push('pool'); await closePool() }
  await assert.rejects(m.close(), /a closer fails/)
  assert.deepEqual(ran, ['second', 'first', 'pool'])
  assert.equal(m.nodes.some(n => n.isStarted), false, 'every node stopped')
  await assert.rejects(stat(m.dir), { code: 'ENOENT' })
  // closing again does not run anything twice
  await assert.rejects(m.close(), /a closer fails/)
  assert.deepEqual(ran, ['second', 'first', 'pool'])
})
