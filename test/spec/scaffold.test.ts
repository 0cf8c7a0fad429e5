import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { moduleSpecOf } from '../../src/core/index.js'
import { scaffold } from '../../src/spec/compiler/index.js'
import { tempDir } from '../helpers/tmp.js'
import { ROOT, run, SAMPLE_SPEC, typecheckGeneratedTs } from './helpers.js'

test('a scaffolded JS module is a valid module folder whose eval checks input and output against the spec', async () => {
  const t = await tempDir()
  try {
    const out = join(t.dir, 'summarize')
    const res = await scaffold(SAMPLE_SPEC, { lang: 'ts', out })
    assert.deepEqual(res.files, ['capability.yaml', 'function.mjs', 'spec.json', 'types.d.ts', 'validators.d.ts', 'validators.js'])
    const spec = await moduleSpecOf('Summarize', out)
    assert.equal(spec.kind, 'js')
    assert.equal(JSON.parse(await readFile(join(out, 'spec.json'), 'utf8'))['x-pl-capability'].name, 'Summarize')
    const mod = await import(pathToFileURL(join(out, 'function.mjs')).href)
    const Summarize = mod.default
    const inst = new Summarize('summarize', {}, {}, {}, {}, {})
    await assert.rejects(inst.eval({}, { text: 'a b c' }, {}), /Summarize\.run\(\) is not written yet/)
    // the developer writes run(); eval maps input_data/parameters onto the spec input
    Summarize.prototype.run = async (input: { text: string, max_words?: number }) => {
      const words = input.text.split(' ').slice(0, input.max_words ?? 100)
      return { summary: words.join(' '), words: words.length }
    }
    assert.deepEqual(await inst.eval({ max_words: 2 }, { text: 'one two three', previous_outputs: {} }, {}), { summary: 'one two', words: 2 })
    await assert.rejects(inst.eval({}, { text: '' }, {}), { name: 'SpecValidationError', message: /input \/text must NOT have fewer than 1 characters/ })
    Summarize.prototype.run = async () => ({ summary: 'x' })
    await assert.rejects(inst.eval({}, { text: 'x' }, {}), { name: 'SpecValidationError', message: /output \(root\) must have required property 'words'/ })
  } finally { await t.cleanup() }
})

test('the scaffolded module\'s types.d.ts carries the spec\'s input and output types', async () => {
  const t = await tempDir()
  try {
    const out = join(t.dir, 'summarize')
    await scaffold(SAMPLE_SPEC, { lang: 'ts', out })
    // one program: the valid uses compile, the one bad member value is the only error
    await writeFile(join(out, 'types-check.ts'), [
      "import type { SummarizeInput, SummarizeOutput } from './types.js'",
      "const ok: SummarizeInput = { text: 'a', style: 'bullets', max_words: 3 }",
      "const out: SummarizeOutput = { summary: 's', words: 1, bullets: ['s'] }",
      "const bad: SummarizeInput = { text: 'a', style: 'loud' }",
      'void ok; void out; void bad',
      ''
    ].join('\n'))
    const diagnostics = typecheckGeneratedTs(out, ['types-check.ts'])
    assert.equal(diagnostics.match(/error TS/g)?.length, 1, diagnostics)
    assert.match(diagnostics, /types-check\.ts\(4,.*'"loud"' is not assignable/)
  } finally { await t.cleanup() }
})

const PY_RUN = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("function", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
from summarize_spec import models
from summarize_spec.runtime import SpecValidationError
out = []
inst = mod.Summarize("summarize", {}, {}, {}, {}, {})
try:
    inst.eval({}, {"text": "a b"}, {})
except NotImplementedError as e:
    out.append(str(e))
def run(self, input, context):
    words = input.text.split()[: input.max_words or 100]
    return models.SummarizeOutput(summary=" ".join(words), words=len(words))
mod.Summarize.run = run
out.append(inst.eval({"max_words": 2}, {"text": "one two three", "previous_outputs": {}}, {}))
try:
    inst.eval({}, {"text": "x", "style": "loud"}, {})
except SpecValidationError as e:
    out.append(str(e))
print(json.dumps(out))
`

test('a scaffolded Python module loads, maps its arguments onto the typed spec input, and validates both ends', async () => {
  const t = await tempDir()
  try {
    const out = join(t.dir, 'summarize')
    const res = await scaffold(SAMPLE_SPEC, { lang: 'py', out })
    assert.ok(res.files.includes('function.py') && res.files.includes('summarize_spec/validators.py'))
    const spec = await moduleSpecOf('Summarize', out)
    assert.equal(spec.kind, 'py')
    assert.equal(spec.className, 'Summarize')
    const r = await run('python3', ['-c', PY_RUN, join(out, 'function.py')], { cwd: ROOT, env: { PYTHONDONTWRITEBYTECODE: '1' } })
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout), [
      'Summarize.run() is not written yet: implement it in function.py',
      { summary: 'one two', words: 2 },
      'Summarize.v1#input: /style must be one of the allowed values'
    ])
  } finally { await t.cleanup() }
})

test('scaffold --provider --lang go writes a Go module: handler stub, main, README and the generated package without its own go.mod', async () => {
  const t = await tempDir()
  try {
    const out = join(t.dir, 'summarize')
    const res = await scaffold(SAMPLE_SPEC, { lang: 'go', provider: true, out })
    assert.deepEqual(res.files, ['README.md', 'go.mod', 'handler.go', 'main.go', 'spec.json', 'summarizespec/codec.go', 'summarizespec/handlers.go', 'summarizespec/provider.go', 'summarizespec/receipt.go', 'summarizespec/runtime.go', 'summarizespec/trust.go', 'summarizespec/types.go', 'summarizespec/validators.go'])
    assert.equal(await readFile(join(out, 'go.mod'), 'utf8'), 'module summarize-provider\n\ngo 1.19\n')
    const handler = await readFile(join(out, 'handler.go'), 'utf8')
    assert.match(handler, /func handleSummarize\(ctx \*summarizespec\.CallContext, input \*summarizespec\.SummarizeInput\) \(\*summarizespec\.SummarizeOutput, error\)/)
    assert.match(handler, /return summarizespec\.DefaultBidSummarize\(cfp, ctx\)/)
    assert.match(await readFile(join(out, 'summarizespec', 'handlers.go'), 'utf8'), /^package summarizespec$/m)
    assert.match(await readFile(join(out, 'main.go'), 'utf8'), /summarizespec\.SummarizeRoute\(summarizespec\.SummarizeHandlerFunc\(handleSummarize\), bid\)/)
  } finally { await t.cleanup() }
})

test('scaffold refuses Go without --provider, and a TypeScript provider', async () => {
  await assert.rejects(scaffold(SAMPLE_SPEC, { lang: 'go', out: join(ROOT, 'never-written') }), { name: 'UnknownLanguageError', message: /go only as an attached provider/ })
  await assert.rejects(scaffold(SAMPLE_SPEC, { lang: 'ts', provider: true, out: join(ROOT, 'never-written') }), { name: 'UnknownLanguageError', message: /py or go providers, not "ts"/ })
})
