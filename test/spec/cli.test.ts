import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SchemaRegistry } from '../../src/spec/registry.js'
import { runCli } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { SAMPLE_SPEC, SCHEMAS } from './helpers.js'

function env (): NodeJS.ProcessEnv {
  const e = { ...process.env }
  delete e.PL_DATA_DIR
  return e
}

test('pl spec id prints the registry CID; --check lists resolved refs', async () => {
  const registry = await SchemaRegistry.load()
  const res = await runCli(['spec', 'id', join(SCHEMAS, 'Bid.v1.json')], { env: env() })
  assert.equal(res.code, 0, res.stderr)
  assert.equal(res.stdout, `${registry.cidOf('Bid.v1')}\n`)
  const checked = await runCli(['spec', 'id', '--check', join(SCHEMAS, 'Result.v1.json')], { env: env() })
  assert.equal(checked.code, 0, checked.stderr)
  assert.match(checked.stdout, new RegExp(`\\$ref pl:SignedReceipt\\.v1 -> pl:SignedReceipt\\.v1 \\(${registry.cidOf('SignedReceipt.v1')}\\)`))
})

test('pl spec compile protocols/schemas --lang ts,py,go writes all three packages in one command', async () => {
  const t = await tempDir()
  try {
    const res = await runCli(['spec', 'compile', SCHEMAS, '--out', t.dir, '--lang', 'ts,py,go'], { env: env() })
    assert.equal(res.code, 0, res.stderr)
    const count = (await readdir(SCHEMAS)).filter(n => n.endsWith('.json')).length
    assert.match(res.stdout, new RegExp(`^compiled ${count} schemas \\(no capability specs\\) for ts, py, go into `))
    assert.deepEqual((await readdir(t.dir)).sort(), ['go', 'manifest.json', 'py', 'ts'])
    assert.deepEqual((await readdir(join(t.dir, 'py', 'plspec'))).sort(), ['__init__.py', 'codec.py', 'models.py', 'receipt.py', 'runtime.py', 'trust.py', 'validators.py'])
    assert.deepEqual((await readdir(join(t.dir, 'go'))).sort(), ['codec.go', 'go.mod', 'receipt.go', 'runtime.go', 'trust.go', 'types.go', 'validators.go'])
    const manifest = JSON.parse(await readFile(join(t.dir, 'manifest.json'), 'utf8'))
    const registry = await SchemaRegistry.load()
    for (const s of manifest.schemas) assert.equal(s.cid, registry.cidOf(s.name), s.name)
  } finally { await t.cleanup() }
})

test('pl spec compile --package names the Python and Go packages; an unknown language exits 1 with its error', async () => {
  const t = await tempDir()
  try {
    const ok = await runCli(['spec', 'compile', SAMPLE_SPEC, '-o', t.dir, '--lang', 'py,go', '--package', 'summarize_spec'], { env: env() })
    assert.equal(ok.code, 0, ok.stderr)
    assert.ok((await readdir(join(t.dir, 'py'))).includes('summarize_spec'))
    assert.match(await readFile(join(t.dir, 'go', 'codec.go'), 'utf8'), /^package summarize_spec$/m)
    const bad = await runCli(['spec', 'compile', SAMPLE_SPEC, '-o', t.dir, '--lang', 'ts,cobol'], { env: env() })
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /^error: UnknownLanguageError: unknown language "cobol"/)
  } finally { await t.cleanup() }
})

test('pl spec compile refuses an unsupported keyword with its name and pointer, and writes nothing', async () => {
  const t = await tempDir()
  try {
    await writeFile(join(t.dir, 'bad.json'), JSON.stringify({ type: 'object', properties: { when: { type: 'string', format: 'date-time' } } }))
    const res = await runCli(['spec', 'compile', join(t.dir, 'bad.json'), '--out', join(t.dir, 'out')], { env: env() })
    assert.equal(res.code, 1)
    assert.match(res.stderr, /^error: UnsupportedKeywordError: .*unsupported keyword "format" at #\/properties\/when/)
    assert.deepEqual(await readdir(t.dir), ['bad.json'])
  } finally { await t.cleanup() }
})

test('pl spec stub prints the typed DSL call of a capability spec; the backwards-named from-workflow alias is gone', async () => {
  const gone = await runCli(['spec', 'from-workflow', SAMPLE_SPEC], { env: env() })
  assert.notEqual(gone.code, 0)
  for (const cmd of ['stub']) {
    const res = await runCli(['spec', cmd, SAMPLE_SPEC], { env: env() })
    assert.equal(res.code, 0, res.stderr)
    assert.match(res.stdout, /^# {3}Summarize\(text: string, max_words\?: integer, style\?: "bullets" \| "paragraph", language\?: string\) -> \{summary: string, words: integer, bullets\?: string\[\], model\?: string\}$/m)
    assert.match(res.stdout, /^- step: Summarize\(text\)\n {2}as: summarize$/m)
  }
  const notCap = await runCli(['spec', 'stub', join(SCHEMAS, 'Bid.v1.json')], { env: env() })
  assert.equal(notCap.code, 1)
  assert.match(notCap.stderr, /NotACapabilitySpecError/)
})

test('pl spec scaffold writes a module folder', async () => {
  const t = await tempDir()
  try {
    const res = await runCli(['spec', 'scaffold', SAMPLE_SPEC, '--lang', 'py', '--out', join(t.dir, 'summarize')], { env: env() })
    assert.equal(res.code, 0, res.stderr)
    assert.deepEqual((await readdir(join(t.dir, 'summarize'))).sort(), ['capability.yaml', 'function.py', 'spec.json', 'summarize_spec'])
  } finally { await t.cleanup() }
})
