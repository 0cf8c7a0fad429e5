import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { compileSchemas, createContext, dslStub, loadBundle, type GeneratedFiles } from '../../src/spec/compiler/index.js'
import { goRuntime, goTrust, runtimeSource } from '../../src/spec/compiler/emit/runtime-files.js'
import { ROOT, SAMPLE_SPEC, SCHEMAS } from './helpers.js'

/**
 * Golden outputs of the compiler, committed under test/golden/spec/<case>/.
 * TypeScript outputs are stored as `*.ts.golden` so the project's own tsc
 * build does not compile them. Regenerate with UPDATE_GOLDEN=1 (and read the
 * diff: a change here is a change in every generated package).
 */
const GOLDEN = join(ROOT, 'test', 'golden', 'spec')
const UPDATE = process.env.UPDATE_GOLDEN === '1'
/**
 * The per-language runtimes are source files (src/spec/runtime/), copied
 * verbatim into every package: no golden copies, the generated file must be
 * the source file (Go with its package clause).
 */
const RUNTIME_FILES: Record<string, () => string> = {
  'ts/runtime.ts.golden': () => runtimeSource('runtime.ts'),
  'py/plspec/runtime.py': () => runtimeSource('runtime.py'),
  'py/plspec/attach.py': () => runtimeSource('attach.py'),
  'go/runtime.go': () => goRuntime('plspec'),
  'ts/trust.ts.golden': () => runtimeSource('trust.ts'),
  'py/plspec/trust.py': () => runtimeSource('trust.py'),
  'go/trust.go': () => goTrust('plspec'),
  'go/provider.go': () => goRuntime('plspec', 'provider.go')
}

function goldenName (rel: string): string {
  return rel.endsWith('.ts') ? `${rel}.golden` : rel
}

async function walk (dir: string): Promise<string[]> {
  let names: string[]
  try { names = await readdir(dir, { withFileTypes: true }).then(es => es.map(e => e.isDirectory() ? `${e.name}/` : e.name)) } catch { return [] }
  const out: string[] = []
  for (const n of names) {
    if (n.endsWith('/')) out.push(...(await walk(join(dir, n))).map(x => `${n}${x}`))
    else out.push(n)
  }
  return out.sort()
}

async function compareOrUpdate (name: string, files: GeneratedFiles): Promise<void> {
  const dir = join(GOLDEN, name)
  const expected = new Map([...files].map(([rel, text]) => [goldenName(rel), text]))
  for (const [rel, source] of Object.entries(RUNTIME_FILES)) {
    const text = expected.get(rel)
    expected.delete(rel)
    if (text != null) assert.equal(text, source(), `${rel} is not the runtime source file (src/spec/runtime)`)
  }
  if (UPDATE) {
    await rm(dir, { recursive: true, force: true })
    for (const [rel, text] of expected) {
      await mkdir(dirname(join(dir, rel)), { recursive: true })
      await writeFile(join(dir, rel), text)
    }
    return
  }
  const hint = `(regenerate with UPDATE_GOLDEN=1 after checking the change; golden dir ${relative(ROOT, dir)})`
  assert.deepEqual(await walk(dir), [...expected.keys()].sort(), `golden file list differs ${hint}`)
  for (const [rel, text] of expected) {
    assert.equal(text, await readFile(join(dir, rel), 'utf8'), `${rel} differs from its golden copy ${hint}`)
  }
}

test('compiling protocols/schemas gives the committed golden TS, Python and Go outputs', async () => {
  const { files } = await compileSchemas([SCHEMAS], { langs: ['ts', 'py', 'go'] })
  await compareOrUpdate('protocols', files)
})

test('compiling the sample capability spec gives the committed golden outputs and DSL stub', async () => {
  const { files, ctx } = await compileSchemas([SAMPLE_SPEC], { langs: ['ts', 'py', 'go'] })
  files.set('stub.txt', dslStub(ctx))
  await compareOrUpdate('summarize', files)
})

test('compilation is deterministic', async () => {
  const a = await compileSchemas([SAMPLE_SPEC, SCHEMAS])
  const b = await compileSchemas([SAMPLE_SPEC, SCHEMAS])
  assert.deepEqual([...a.files.keys()], [...b.files.keys()])
  for (const [rel, text] of a.files) assert.equal(text, b.files.get(rel), rel)
  assert.equal(dslStub(createContext(await loadBundle([SAMPLE_SPEC]))), dslStub(a.ctx))
})
