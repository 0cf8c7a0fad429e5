/**
 * DSL → Spec (`pl spec from-plan`): a plan becomes a capability spec that
 * compiles like any other; plans whose io cannot be derived are refused.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { compileDsl } from '../../src/workflow/index.js'
import { compileSchemas, ioOfDescriptor, specFromPlan, type CapabilityIo } from '../../src/spec/compiler/index.js'
import { runCli } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { SAMPLE_SPEC } from './helpers.js'

const CAPS = ['fetch-sections', 'summarize', 'merge-summaries', 'attach-references'].map(n => resolve('examples/capabilities', n, 'capability.yaml'))
const PLAN = resolve('examples/plans/summarize.yaml')

async function capIos (): Promise<CapabilityIo[]> {
  return await Promise.all(CAPS.map(async f => ioOfDescriptor(parseYaml(await readFile(f, 'utf8')), f)))
}

test('the summarize plan becomes a capability spec: inputs typed by their first consumer, output by the sink, plan kept as x-pl-composite; it compiles to TS, Python and Go', async () => {
  const dag = compileDsl(await readFile(PLAN, 'utf8'), { file: PLAN })
  const spec = specFromPlan(dag, await capIos(), { name: 'DocSummary', version: '1.2.0' }) as any
  assert.deepEqual(spec['x-pl-capability'], { name: 'DocSummary', version: '1.2.0' })
  assert.equal(spec.$id, 'pl:cap:DocSummary.v1')
  const input = spec.$defs.DocSummaryInput
  assert.deepEqual(input.properties.doc, { type: 'array', items: { type: 'string' } }, 'map FetchSections(doc) fans out over doc: a list of FetchSections docs')
  assert.deepEqual(input.required, [], 'doc has a value in the plan: optional')
  assert.deepEqual(spec.$defs.DocSummaryOutput.required, ['document', 'references'], 'AttachReferences is the sink')
  assert.equal(spec['x-pl-composite'].plan, dag.source.cid)
  assert.deepEqual(spec['x-pl-composite'].constraints, { length: '<400w', deadline_ms: 30000 })
  assert.deepEqual(spec['x-pl-composite'].policies, dag.policies)
  assert.equal(dag.policies.length, 1)
  assert.deepEqual(spec['x-pl-composite'].steps.map((s: any) => s.capability), ['FetchSections', 'Summarize', 'MergeSummaries', 'AttachReferences'])

  const t = await tempDir('pl-from-plan-')
  try {
    await writeFile(join(t.dir, 'DocSummary.json'), JSON.stringify(spec))
    const { ctx } = await compileSchemas([join(t.dir, 'DocSummary.json')], { langs: ['ts', 'py', 'go'] })
    assert.deepEqual(ctx.capabilities.map(c => c.info.name), ['DocSummary'])
  } finally {
    await t.cleanup()
  }
})

test('schemas from a capability spec file carry their $defs, renamed so two specs cannot collide', async () => {
  const dag = compileDsl('goal: Brief\ninputs:\n  text: null\nplan:\n  - step: Summarize(text)\n', { file: 'brief.yaml' })
  const io = ioOfDescriptor(JSON.parse(await readFile(SAMPLE_SPEC, 'utf8')), SAMPLE_SPEC)
  const spec = specFromPlan(dag, [io], { name: 'Brief', version: '0.1.0' }) as any
  assert.deepEqual(spec.$defs.BriefInput.required, ['text'], 'an input without a value is required')
  assert.equal(spec.$defs.BriefInput.properties.text.type, 'string', 'typed through SummarizeInput.properties.text')
  assert.equal(spec.$defs.BriefOutput.$ref, '#/$defs/Summarize_SummarizeOutput')
  assert.deepEqual(spec.$defs.Summarize_SummarizeOutput.required, ['summary', 'words'])
  const t = await tempDir('pl-from-plan-')
  try {
    await writeFile(join(t.dir, 'Brief.json'), JSON.stringify(spec))
    await compileSchemas([join(t.dir, 'Brief.json')], { langs: ['ts'] })
  } finally {
    await t.cleanup()
  }
})

test('plans whose io cannot be derived are refused with FromPlanError naming the step and what to do', async () => {
  const ios = await capIos()
  const dag = compileDsl(await readFile(PLAN, 'utf8'), { file: PLAN })
  assert.throws(() => specFromPlan(dag, ios.filter(i => i.name !== 'MergeSummaries'), { name: 'X', version: '1' }), { name: 'FromPlanError', message: /step 2-mergesummaries: no io schema for capability MergeSummaries: give its descriptor or spec file with --cap/ })
  assert.throws(() => specFromPlan(dag, ios, { name: '9bad name', version: '1' }), { name: 'FromPlanError', message: /not a capability name/ })
  assert.throws(() => ioOfDescriptor({ name: 'C', io: { input: 'bafyreibexwdt3msjoqjejj3xlg6iidcjyvsm4frbhhlhge4cj3wldzxmuu', output: {} } }, 'c.yaml'), { name: 'FromPlanError', message: /by CID/ })
  assert.throws(() => ioOfDescriptor({ name: 'C' }, 'c.yaml'), { name: 'FromPlanError', message: /no io schemas/ })
  assert.throws(() => ioOfDescriptor('text', 'c.yaml'), { name: 'FromPlanError' })
  const closed: CapabilityIo = { name: 'Strict', input: { type: 'object', additionalProperties: false, properties: { a: { type: 'string' } } }, output: {}, origin: 'strict.yaml' }
  const wrongArg = compileDsl('goal: G\ninputs:\n  b: null\nplan:\n  - step: Strict(b)\n', { file: 'g.yaml' })
  assert.throws(() => specFromPlan(wrongArg, [closed], { name: 'G', version: '1' }), { name: 'FromPlanError', message: /binds input b to argument b, which capability Strict does not take/ })
  const dangling: CapabilityIo = { name: 'Strict', input: { $ref: '#/$defs/Missing' }, output: {}, origin: 'strict.json', defs: {} }
  const ok = compileDsl('goal: G\ninputs:\n  x: null\nplan:\n  - step: Strict(x)\n', { file: 'g.yaml' })
  assert.doesNotThrow(() => specFromPlan(ok, [{ ...dangling, input: {} }], { name: 'G', version: '1' }))
  assert.throws(() => specFromPlan(ok, [{ ...dangling, output: { $ref: '#/$defs/Missing' } }], { name: 'G', version: '1' }), { name: 'FromPlanError', message: /does not define/ })
})

test('pl spec from-plan writes a checked spec and prints its CID; a missing capability file fails with the fix named', async () => {
  const t = await tempDir('pl-from-plan-cli-')
  try {
    const out = join(t.dir, 'DocSummary.json')
    const res = await runCli(['spec', 'from-plan', PLAN, '--name', 'DocSummary', '--version', '1.0.0', '--cap', ...CAPS, '--out', out])
    assert.equal(res.code, 0, res.stderr)
    assert.match(res.stderr, /DocSummary 1\.0\.0: spec b[a-z2-7]{20,} written to/)
    const id = await runCli(['spec', 'id', out])
    assert.equal(id.code, 0, id.stderr)
    assert.ok(res.stderr.includes(id.stdout.trim()), 'the printed CID is the spec\'s')
    const bad = await runCli(['spec', 'from-plan', PLAN, '--name', 'DocSummary', '--version', '1.0.0', '--cap', CAPS[0]])
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /FromPlanError.*no io schema for capability Summarize/s)
  } finally {
    await t.cleanup()
  }
})
