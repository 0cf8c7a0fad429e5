import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cidOfBytes, RAW } from '../../src/core/encoding.js'
import { packBundle, unpackBundle, loadWorkflow, listZip, dagCid, type TaskDag } from '../../src/workflow/index.js'
import { tempDir } from '../helpers/tmp.js'
import { assertFails, copyFixture, fixture } from './util.js'
import { buildZip } from './zip-builder.js'

const shape = (d: TaskDag): unknown => Object.values(d.steps).map(s => ({ id: s.id, after: s.after, module: s.module, capability: s.capability }))

async function withTemp<T> (fn: (dir: string) => Promise<T>): Promise<T> {
  const { dir, cleanup } = await tempDir('pl-bundle-test-')
  try { return await fn(dir) } finally { await cleanup() }
}

test('packing the same folder twice gives the same bytes and CID', async () => {
  const a = await packBundle(fixture('workflows', 'diamond-js'))
  const b = await packBundle(fixture('workflows', 'diamond-js'))
  assert.deepEqual(a, b)
  assert.equal(cidOfBytes(a, RAW).toString(), cidOfBytes(b, RAW).toString())
})

test('a copy of the folder elsewhere packs to the same bytes (no paths, times or modes leak in)', async () => {
  const { dir, cleanup } = await copyFixture('diamond-js')
  try {
    assert.deepEqual(await packBundle(dir), await packBundle(fixture('workflows', 'diamond-js')))
  } finally { await cleanup() }
})

test('entries are sorted, files only, stamped 1980-01-01, with a manifest', async () => {
  const zip = await packBundle(fixture('workflows', 'diamond-py'))
  const names = listZip(zip).map(e => e.name)
  assert.deepEqual(names, ['module_dbl/function.py', 'module_inc/function.py', 'module_start/function.py', 'module_sum/function.py', 'pl-manifest.json', 'workflow.json'])
  // DOS date of the first local header (offset 12): 1980-01-01 → (0 << 9) | (1 << 5) | 1
  assert.equal(zip[12] | (zip[13] << 8), 0x21)
  assert.equal(zip[10] | (zip[11] << 8), 0)
})

test('diamond-js from its folder and from its packed ZIP: same DAG shape and module CIDs', async () => {
  await withTemp(async (dir) => {
    const zipFile = join(dir, 'diamond.zip')
    await writeFile(zipFile, await packBundle(fixture('workflows', 'diamond-js')))
    const folder = await loadWorkflow(fixture('workflows', 'diamond-js'))
    const zipped = await loadWorkflow(zipFile)
    try {
      assert.deepEqual(shape(zipped.dag), shape(folder.dag))
      assert.deepEqual(zipped.dag.outputs, folder.dag.outputs)
      assert.equal(zipped.bundle!.manifestCid, folder.bundle!.manifestCid)
      assert.equal(dagCid(zipped.dag), dagCid(folder.dag))
      const unpacked = zipped.bundle!.root
      assert.equal((await readdir(unpacked)).includes('workflow.json'), true)
    } finally { await zipped.cleanup() }
    await assertFails(async () => await readdir(zipped.bundle!.root), 'Error', /ENOENT/)
  })
})

test('fixtures/bad/zip-slip.zip fails with UnsafeZipPathError and writes nothing', async () => {
  await withTemp(async (dir) => {
    await assertFails(async () => await loadWorkflow(fixture('bad', 'zip-slip.zip')), 'UnsafeZipPathError', /^bundle entry "\.\.\/\.\.\/evil\.txt" is refused: it escapes the target folder \(\.\.\)$/)
    const target = join(dir, 'a', 'b')
    await assertFails(async () => await unpackBundle(await readFile(fixture('bad', 'zip-slip.zip')), target), 'UnsafeZipPathError', /evil/)
    assert.deepEqual(await readdir(dir), [])
  })
})

test('hostile entry names are refused: absolute, backslash, drive letter, empty segments, control characters', async () => {
  const cases: Array<[string, RegExp]> = [
    ['/etc/passwd', /absolute path/],
    ['module_a\\..\\..\\evil', /backslash/],
    ['C:/evil.txt', /drive letter/],
    ['a//b', /empty or "\." path segment/],
    ['./a', /empty or "\." path segment/],
    ['a/\u0001b', /control characters/],
    ['ok/../../up', /escapes the target folder/]
  ]
  for (const [name, why] of cases) {
    await assertFails(() => listZip(buildZip([{ name: 'workflow.json', data: '{}' }, { name, data: 'x' }])), 'UnsafeZipPathError', why)
  }
})

test('symlink entries are refused', async () => {
  const zip = buildZip([{ name: 'workflow.json', data: '{}' }, { name: 'module_a', data: '/etc', stored: true, mode: 0o120777 }])
  await assertFails(() => listZip(zip), 'ZipSymlinkError', /^bundle entry "module_a" is a symlink/)
})

test('duplicate entries and file/folder clashes are refused', async () => {
  await assertFails(() => listZip(buildZip([{ name: 'a', data: '1' }, { name: 'a', data: '2' }])), 'ZipDuplicateEntryError', /two entries named "a"/)
  await assertFails(() => listZip(buildZip([{ name: 'a', data: '1' }, { name: 'a/b', data: '2' }])), 'ZipDuplicateEntryError', /"a" is a file and also the folder of "a\/b"/)
})

test('an entry over maxEntryBytes is refused before inflating', async () => {
  const zip = buildZip([{ name: 'big.bin', data: new Uint8Array(5000) }])
  await assertFails(() => listZip(zip, { maxEntryBytes: 4096 }), 'ZipEntryTooLargeError', /^bundle entry "big.bin" unpacks to 5000 bytes, over the limit of 4096$/)
})

test('a bundle whose declared total is over maxUnpackedBytes is refused before inflating', async () => {
  const zip = buildZip([{ name: 'a', data: new Uint8Array(3000) }, { name: 'b', data: new Uint8Array(3000) }])
  await assertFails(() => listZip(zip, { maxUnpackedBytes: 5000 }), 'ZipTooLargeError', /more than 5000 bytes/)
})

test('a zip bomb that lies about its size is stopped while inflating', async () => {
  await withTemp(async (dir) => {
    // 8 MiB of zeros deflate to ~8 KiB; the entry claims 100 bytes
    const zip = buildZip([{ name: 'workflow.json', data: '{}' }, { name: 'bomb.bin', data: new Uint8Array(8 * 2 ** 20), declaredSize: 100 }])
    assert.ok(zip.length < 64 * 1024)
    await assertFails(async () => await unpackBundle(zip, join(dir, 'out')), 'ZipSizeMismatchError', /^entry "bomb.bin" inflates past its declared 100 bytes/)
    assert.deepEqual(await readdir(dir), [], 'the half-written target is removed')
    // and one that claims more than it holds
    const short = buildZip([{ name: 'x', data: 'abc', declaredSize: 10 }])
    await assertFails(async () => await unpackBundle(short, join(dir, 'out2')), 'ZipSizeMismatchError', /inflates to 3 bytes but declares 10/)
  })
})

test('damaged archives fail with ZipFormatError', async () => {
  await assertFails(() => listZip(new Uint8Array([1, 2, 3])), 'ZipFormatError', /too short/)
  await assertFails(() => listZip(new Uint8Array(100)), 'ZipFormatError', /no end-of-central-directory record/)
  const good = buildZip([{ name: 'a', data: 'hello hello hello' }])
  const flipped = Uint8Array.from(good)
  flipped[32] ^= 0xff // inside the deflated data
  await withTemp(async (dir) => {
    await assertFails(async () => await unpackBundle(flipped, join(dir, 'o')), 'ZipFormatError', /does not inflate|CRC/)
  })
})

test('unpack refuses a target folder that is not empty', async () => {
  await withTemp(async (dir) => {
    await writeFile(join(dir, 'keep.txt'), 'mine')
    const zip = await packBundle(fixture('workflows', 'diamond-js'))
    await assertFails(async () => await unpackBundle(zip, dir), 'UnpackTargetError', /the folder is not empty/)
    assert.deepEqual(await readdir(dir), ['keep.txt'])
  })
})

test('packing a folder with a symlink fails with BundleSymlinkError', async () => {
  const { dir, cleanup } = await copyFixture('diamond-js')
  try {
    await symlink('/etc/hostname', join(dir, 'notes.txt'))
    await assertFails(async () => await packBundle(dir), 'BundleSymlinkError', /notes.txt is a symlink/)
  } finally { await cleanup() }
})

test('a manifest that does not match the modules fails with ManifestMismatchError', async () => {
  const { dir, cleanup } = await copyFixture('diamond-js')
  try {
    await withTemp(async (tmp) => {
      const zip = await packBundle(dir)
      await unpackBundle(zip, join(tmp, 'u'))
      // the unpacked bundle loads, manifest verified
      await (await loadWorkflow(join(tmp, 'u'))).cleanup()
      await writeFile(join(tmp, 'u', 'module_dbl', 'function.mjs'), 'export default class X { eval () { return 0 } }\n')
      await assertFails(async () => await loadWorkflow(join(tmp, 'u')), 'ManifestMismatchError', /^module 'dbl' does not match pl-manifest.json: its folder hashes to \S+, the manifest pins \S+$/)
      await writeFile(join(tmp, 'u', 'pl-manifest.json'), 'not json')
      await assertFails(async () => await loadWorkflow(join(tmp, 'u')), 'ManifestMismatchError', /is not valid JSON/)
    })
  } finally { await cleanup() }
})

test('a hand-made ZIP with one top folder loads', async () => {
  await withTemp(async (dir) => {
    const wf = await readFile(fixture('workflows', 'diamond-js', 'workflow.json'))
    const entries = [{ name: 'top/', data: '' }, { name: 'top/workflow.json', data: wf }]
    for (const k of ['start', 'inc', 'dbl', 'sum']) entries.push({ name: `top/module_${k}/function.mjs`, data: await readFile(fixture('workflows', 'diamond-js', `module_${k}`, 'function.mjs')) })
    await writeFile(join(dir, 'h.zip'), buildZip(entries))
    const loaded = await loadWorkflow(join(dir, 'h.zip'))
    try {
      const folder = await loadWorkflow(fixture('workflows', 'diamond-js'))
      assert.deepEqual(shape(loaded.dag), shape(folder.dag))
    } finally { await loaded.cleanup() }
  })
})

test('a bundle with an escaping codePath is refused after unpacking', async () => {
  await withTemp(async (dir) => {
    const doc = { modules: { a: { codePath: '../a' } }, graph: { a: [] } }
    await writeFile(join(dir, 'b.zip'), buildZip([{ name: 'workflow.json', data: JSON.stringify(doc) }, { name: 'a/function.mjs', data: 'export default class A {}' }]))
    await assertFails(async () => await loadWorkflow(join(dir, 'b.zip')), 'CodePathEscapeError', /codePath "..\/a" leaves the bundle/)
  })
})
