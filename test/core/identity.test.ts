import { test } from 'node:test'
import assert from 'node:assert/strict'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadOrCreateIdentity, verifyByPeer, publicKeyOfPeer, peerIdFromPublicKey } from '../../src/core/identity.js'
import { tempDir } from '../helpers/tmp.js'

test('the identity key is created once with mode 0600 and reloaded as the same peer', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    const a = await loadOrCreateIdentity(dir)
    const st = await stat(join(dir, 'identity.key'))
    assert.equal(st.mode & 0o777, 0o600)
    const b = await loadOrCreateIdentity(dir)
    assert.equal(a.id, b.id)
    assert.equal(peerIdFromPublicKey(a.publicKey), a.id)
    assert.deepEqual(publicKeyOfPeer(a.id), a.publicKey)
    const sig = a.sign(new Uint8Array([1, 2, 3]))
    assert.ok(verifyByPeer(b.id, new Uint8Array([1, 2, 3]), sig))
    assert.ok(!verifyByPeer(b.id, new Uint8Array([1, 2, 4]), sig))
  } finally { await cleanup() }
})

test('a corrupt identity key gives IdentityError', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    await writeFile(join(dir, 'identity.key'), 'not a key', { mode: 0o600 })
    await assert.rejects(loadOrCreateIdentity(dir), { name: 'IdentityError' })
  } finally { await cleanup() }
})

test('a malformed peer id is refused', () => {
  assert.throws(() => publicKeyOfPeer('not-a-peer'), { name: 'IdentityError' })
})
