/**
 * The runtimes copied into every generated package are real source files
 * (src/spec/runtime/): each passes its own language's checker on its own,
 * besides being checked inside generated packages (hostile/crosscheck tests).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runtimeDir } from '../../src/spec/compiler/emit/runtime-files.js'
import { tempDir } from '../helpers/tmp.js'
import { goAvailable, GO_SKIP, run, typecheckGeneratedTs } from './helpers.js'

let dir: string
let cleanup: () => Promise<void>
before(async () => { ({ dir, cleanup } = await tempDir('pl-spec-runtime-')) })
after(async () => { await cleanup() })

test('runtime.py compiles with warnings as errors', async () => {
  const res = await run('python3', ['-W', 'error', '-c', 'import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)', join(runtimeDir(), 'runtime.py'), join(dir, 'runtime.pyc')])
  assert.equal(res.code, 0, res.stderr)
})

test('runtime.go is a package of its own that go vet passes', async (t) => {
  if (!goAvailable()) { t.skip(GO_SKIP); return }
  await copyFile(join(runtimeDir(), 'runtime.go'), join(dir, 'runtime.go'))
  await writeFile(join(dir, 'go.mod'), 'module plspec\n\ngo 1.19\n')
  const res = await run('go', ['vet', '.'], { cwd: dir, env: { GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', GO111MODULE: 'on' } })
  assert.equal(res.code, 0, res.stderr + res.stdout)
})

test('runtime.ts type-checks under strict settings', () => {
  assert.equal(typecheckGeneratedTs(runtimeDir(), ['runtime.ts']), '')
})
