import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, stat, writeFile } from 'node:fs/promises'
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

/** chmod as it fails on a read-only mount */
const readOnlyMount = async (path: string): Promise<void> => {
  throw Object.assign(new Error(`EROFS: read-only file system, chmod '${path}'`), { code: 'EROFS' })
}

async function keyWithMode (mode: number): Promise<{ dir: string, file: string, id: string, cleanup: () => Promise<void> }> {
  const { dir, cleanup } = await tempDir()
  const { id } = await loadOrCreateIdentity(dir)
  const file = join(dir, 'identity.key')
  await chmod(file, mode)
  return { dir, file, id, cleanup }
}

test('a loose key mode is tightened to 0600', async () => {
  const k = await keyWithMode(0o644)
  try {
    assert.equal((await loadOrCreateIdentity(k.dir)).id, k.id)
    assert.equal((await stat(k.file)).mode & 0o777, 0o600)
  } finally { await k.cleanup() }
})

test('a key readable by others that cannot be made private is refused with IdentityKeyExposedError naming the path', async () => {
  for (const mode of [0o644, 0o640, 0o604]) {
    const k = await keyWithMode(mode)
    try {
      await assert.rejects(loadOrCreateIdentity(k.dir, { chmod: readOnlyMount }), (err: any) => {
        assert.equal(err.name, 'IdentityKeyExposedError')
        assert.ok(err.message.includes(k.file), err.message)
        assert.match(err.message, /EROFS/)
        assert.deepEqual({ path: err.details.path, mode: err.details.mode, code: err.details.code }, { path: k.file, mode: `0${mode.toString(8)}`, code: 'EROFS' })
        return true
      })
    } finally { await k.cleanup() }
  }
})

test('a key that others can write but not read is used, with a warning naming the path and the chmod error', async () => {
  const k = await keyWithMode(0o620)
  try {
    const warnings: Array<{ details: any, message: string }> = []
    const logger = { warn: (details: any, message: string) => { warnings.push({ details, message }) } }
    const identity = await loadOrCreateIdentity(k.dir, { chmod: readOnlyMount, logger: logger as any })
    assert.equal(identity.id, k.id)
    assert.equal(warnings.length, 1)
    assert.ok(warnings[0].message.includes(k.file))
    assert.match(warnings[0].message, /mode 0620 and chmod 0600 failed: EROFS/)
    assert.equal(warnings[0].details.path, k.file)
  } finally { await k.cleanup() }
})

test('without a logger the warning goes to process warnings', async () => {
  const k = await keyWithMode(0o602)
  const seen: Error[] = []
  const onWarning = (w: Error): void => { seen.push(w) }
  process.on('warning', onWarning)
  try {
    await loadOrCreateIdentity(k.dir, { chmod: readOnlyMount })
    // 'warning' is emitted on the next tick after emitWarning
    await new Promise<void>(resolve => { process.nextTick(resolve) })
    const mine = seen.filter(w => (w as any).code === 'PL_IDENTITY_KEY_MODE')
    assert.equal(mine.length, 1)
    assert.ok(mine[0].message.includes(k.file))
  } finally {
    process.off('warning', onWarning)
    await k.cleanup()
  }
})

test('a private key file is not touched', async () => {
  const k = await keyWithMode(0o600)
  try {
    let called = false
    await loadOrCreateIdentity(k.dir, { chmod: async () => { called = true } })
    assert.equal(called, false)
  } finally { await k.cleanup() }
})
