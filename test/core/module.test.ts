import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cp, mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { folderCid, moduleSpecOf } from '../../src/core/module.js'
import { tempDir } from '../helpers/tmp.js'
import { fixture } from '../workflow/util.js'

const FIXTURES = fixture('workflows')

test('a module folder CID is stable across copies and changes with any file', async () => {
  const t = await tempDir()
  try {
    const a = join(t.dir, 'a')
    const b = join(t.dir, 'b')
    await cp(join(FIXTURES, 'diamond-js', 'module_inc'), a, { recursive: true })
    await cp(join(FIXTURES, 'diamond-js', 'module_inc'), b, { recursive: true })
    assert.equal(await folderCid(a), await folderCid(b))
    await writeFile(join(b, 'extra.txt'), 'x')
    assert.notEqual(await folderCid(a), await folderCid(b))
    await mkdir(join(a, '__pycache__'))
    await writeFile(join(a, '__pycache__', 'x.pyc'), 'cache')
    assert.equal(await folderCid(a), await folderCid(join(FIXTURES, 'diamond-js', 'module_inc')), 'caches are not part of the identity')
  } finally { await t.cleanup() }
})

test('moduleSpecOf finds the entry, the language and the Python class', async () => {
  const js = await moduleSpecOf('inc', join(FIXTURES, 'diamond-js', 'module_inc'))
  assert.equal(js.kind, 'js')
  assert.ok(js.entry.endsWith('function.mjs'))
  const py = await moduleSpecOf('inc', join(FIXTURES, 'diamond-py', 'module_inc'))
  assert.equal(py.kind, 'py')
  assert.equal(typeof py.className, 'string')
})

test('moduleSpecOf refuses missing folders, empty folders, ambiguous classes and symlinks', async () => {
  const t = await tempDir()
  try {
    await assert.rejects(moduleSpecOf('x', join(t.dir, 'nope')), { name: 'ModuleFolderError', message: /does not exist/ })
    await mkdir(join(t.dir, 'empty'))
    await assert.rejects(moduleSpecOf('x', join(t.dir, 'empty')), { name: 'ModuleFolderError', message: /has none of function.mjs/ })
    await mkdir(join(t.dir, 'two'))
    await writeFile(join(t.dir, 'two', 'function.py'), 'class A:\n  pass\nclass B(A):\n  pass\n')
    await assert.rejects(moduleSpecOf('x', join(t.dir, 'two')), { name: 'ModuleFolderError', message: /several classes \(A, B\)/ })
    assert.equal((await moduleSpecOf('x', join(t.dir, 'two'), { className: 'B' })).className, 'B')
    await assert.rejects(moduleSpecOf('x', join(t.dir, 'two'), { className: 'C' }), { name: 'ModuleFolderError', message: /no class C/ })
    await mkdir(join(t.dir, 'link'))
    await writeFile(join(t.dir, 'link', 'function.mjs'), 'export default class X { eval () { return 1 } }')
    await symlink('/etc/passwd', join(t.dir, 'link', 'secret'))
    await assert.rejects(moduleSpecOf('x', join(t.dir, 'link')), { name: 'ModuleFolderError', message: /symlink: secret/ })
  } finally { await t.cleanup() }
})
