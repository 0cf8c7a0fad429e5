import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { compileDsl, parseCall, loadWorkflow } from '../../src/workflow/index.js'
import { assertFails, fixture } from './util.js'

const plan = (body: string, head = 'goal: G\ninputs:\n  doc: cid:doc-1\n  n: 3\n'): string => `${head}plan:\n${body}`

test('fixtures/bad/unknown-step.yaml fails with UnknownStepKindError at 3:5', async () => {
  const file = fixture('bad', 'unknown-step.yaml')
  const err = await assertFails(async () => await loadWorkflow(file), 'UnknownStepKindError',
    /unknown-step\.yaml:3:5: unknown plan entry kind 'teleport' \(expected one of step, map, reduce, join, when, loop\)$/)
  assert.deepEqual([(err as any).details.line, (err as any).details.col], [3, 5])
})

test('an unknown reference is reported with its line and column', async () => {
  const text = plan('  - step: Fetch(doc)\n    as: page\n  - step: Render(page, missing)\n')
  const err = await assertFails(() => compileDsl(text, { file: 'p.yaml' }), 'UnknownReferenceError', /^p\.yaml:8:24: 'missing' is not an input or an earlier output$/)
  assert.equal((err as any).details.name, 'missing')
})

test('a YAML syntax error carries file:line:col', async () => {
  await assertFails(() => compileDsl('goal: G\nplan:\n  - step: [unclosed\n', { file: 'y.yaml' }), 'DslSyntaxError', /^y\.yaml:\d+:\d+: YAML error: /)
})

test('a call syntax error points inside the call', async () => {
  await assertFails(() => compileDsl(plan('  - step: Fetch(doc,, n)\n'), { file: 'c.yaml' }), 'CallSyntaxError', /^c\.yaml:6:21: expected an argument .* at column 11/)
  await assertFails(() => compileDsl(plan('  - step: "Fetch(doc"\n'), { file: 'c.yaml' }), 'CallSyntaxError', /^c\.yaml:6:\d+: expected , or \)/)
})

test('schema errors: missing goal, missing plan, unknown top-level key, empty plan', async () => {
  await assertFails(() => compileDsl('plan:\n  - step: A()\n'), 'DslSchemaError', /the plan has no goal/)
  await assertFails(() => compileDsl('goal: G\n'), 'DslSchemaError', /the plan has no plan list/)
  await assertFails(() => compileDsl('goal: G\nplna: []\nplan:\n  - step: A()\n', { file: 'k.yaml' }), 'DslSchemaError', /^k\.yaml:2:1: unknown top-level key 'plna'/)
  await assertFails(() => compileDsl('goal: G\nplan: []\n'), 'DslSchemaError', /plan must list at least one entry/)
  await assertFails(() => compileDsl('- just\n- a list\n'), 'DslSchemaError', /a plan document must be a mapping/)
  await assertFails(() => compileDsl(''), 'DslSchemaError', /the plan is empty/)
})

test('an entry with no kind at all is refused', async () => {
  await assertFails(() => compileDsl(plan('  - as: x\n'), { file: 'n.yaml' }), 'UnknownStepKindError', /^n\.yaml:6:5: a plan entry needs one of step, map, reduce, join, when, loop$/)
  await assertFails(() => compileDsl(plan('  - {}\n')), 'UnknownStepKindError', /a plan entry needs one of/)
  await assertFails(() => compileDsl(plan('  - just text\n')), 'DslSchemaError', /a plan entry must be a mapping/)
})

test('a step entry with two kinds, or a stray then, is refused', async () => {
  await assertFails(() => compileDsl(plan('  - step: A(doc)\n    map: B(doc)\n')), 'DslSchemaError', /has one kind, this one has step and map/)
  await assertFails(() => compileDsl(plan('  - step: A(doc)\n    then: []\n')), 'DslSchemaError', /unknown key 'then' in a step entry \(then\/else belong to when entries\)/)
})

test('arguments bind inputs, earlier outputs (with paths) and literals', () => {
  const dag = compileDsl(plan('  - step: Fetch(doc)\n    as: page\n  - step: Render(page.body, n, 2, "x", style=\'short\', flag=true)\n'))
  const render = dag.steps['1-render']
  assert.deepEqual(render.args, {
    body: { from: 'step', step: '0-fetch', path: ['body'] },
    n: { from: 'input', name: 'n' },
    arg2: { from: 'const', value: 2 },
    arg3: { from: 'const', value: 'x' },
    style: { from: 'const', value: 'short' },
    flag: { from: 'const', value: true }
  })
  assert.deepEqual(render.after, ['0-fetch'])
  assert.deepEqual(dag.outputs, ['1-render'])
})

test('a step can be named by its id, and steps with no references run in parallel', () => {
  const dag = compileDsl(plan('  - step: A(doc)\n  - step: B(n)\n'))
  assert.deepEqual(dag.steps['1-b'].after, [])
  assert.deepEqual(dag.outputs, ['0-a', '1-b'])
})

test('a map over a previous list names its item; the item cannot take a path', async () => {
  const dag = compileDsl(plan('  - step: List(doc)\n  - map: Each(x, n)\n'))
  assert.deepEqual(dag.steps['1-each'].over, { from: 'step', step: '0-list' })
  assert.deepEqual(dag.steps['1-each'].args, { x: { from: 'item', step: '1-each' }, n: { from: 'input', name: 'n' } })
  await assertFails(() => compileDsl(plan('  - step: List(doc)\n  - map: Each(x.y)\n')), 'DslSchemaError', /the map item 'x' is used whole/)
  await assertFails(() => compileDsl(plan('  - map: Each(x)\n')), 'UnknownReferenceError', /no previous entry for the map to fan out over/)
  await assertFails(() => compileDsl(plan('  - step: List(doc)\n  - map: Each(x, y)\n')), 'UnknownReferenceError', /'y' is not an input or an earlier output \(the map item is already 'x'\)/)
})

test('reduce without arguments takes the previous entry as items; join waits for everything before it', async () => {
  const dag = compileDsl(plan('  - step: A(doc)\n    as: a\n  - step: B(doc)\n  - reduce: R()\n  - join: J(extra=1)\n'))
  assert.deepEqual(dag.steps['2-r'].args, { items: { from: 'step', step: '1-b' } })
  assert.deepEqual(dag.steps['3-j'].after, ['0-a', '1-b', '2-r'])
  assert.deepEqual(dag.steps['3-j'].args, { extra: { from: 'const', value: 1 }, a: { from: 'step', step: '0-a' }, '1-b': { from: 'step', step: '1-b' }, '2-r': { from: 'step', step: '2-r' } })
  await assertFails(() => compileDsl(plan('  - reduce: R()\n')), 'DslSchemaError', /no previous entry to reduce/)
  await assertFails(() => compileDsl(plan('  - join: J()\n')), 'DslSchemaError', /no earlier entries to join/)
})

test('as names must be unique and must not shadow inputs', async () => {
  await assertFails(() => compileDsl(plan('  - step: A(doc)\n    as: x\n  - step: B(doc)\n    as: x\n'), { file: 'd.yaml' }), 'DuplicateNameError', /^d\.yaml:9:9: the name 'x' is already used/)
  await assertFails(() => compileDsl(plan('  - step: A(doc)\n    as: doc\n')), 'DuplicateNameError', /the name 'doc' is already used/)
  await assertFails(() => compileDsl(plan('  - step: A(doc, doc)\n')), 'DuplicateNameError', /argument 'doc' is given twice/)
})

test('select weights: bad ones are refused with their position', async () => {
  const head = (sel: string): string => `goal: G\nselect:\n  optimize: ${sel}\nplan:\n  - step: A()\n`
  assert.deepEqual(compileDsl(head('[speed: 1, price:0]')).select, [{ attr: 'speed', weight: 1 }, { attr: 'price', weight: 0 }])
  await assertFails(() => compileDsl(head('[readability:abc]'), { file: 's.yaml' }), 'InvalidSelectWeightError', /^s\.yaml:3:14: select weight for 'readability' must be a number from 0 up, got "abc"/)
  await assertFails(() => compileDsl(head('[readability:-1]')), 'InvalidSelectWeightError', /must be a number from 0 up/)
  await assertFails(() => compileDsl(head('[readability]')), 'InvalidSelectWeightError', /is not "name:weight"/)
  await assertFails(() => compileDsl(head('[a:1, a:2]')), 'InvalidSelectWeightError', /names 'a' twice/)
})

test('constraints: the deadline is an ISO-8601 duration, others pass through', async () => {
  const head = (c: string): string => `goal: G\nconstraints:\n${c}plan:\n  - step: A()\n`
  const dag = compileDsl(head('  deadline: PT1M30S\n  region: eu\n  max_cost: 3\n'))
  assert.deepEqual(dag.constraints, { deadline_ms: 90_000, region: 'eu', max_cost: 3 })
  await assertFails(() => compileDsl(head('  deadline: 30 seconds\n'), { file: 'c.yaml' }), 'InvalidDurationError', /^c\.yaml:3:13: not an ISO-8601 duration: "30 seconds"/)
  await assertFails(() => compileDsl(head('  deadline: PT0S\n')), 'InvalidDurationError', /must be longer than zero/)
})

test('loops: max is required and bounded', async () => {
  const loop = (max: string): string => plan(`  - loop:\n      max: ${max}\n      do:\n        - step: A(doc)\n`)
  await assertFails(() => compileDsl(loop('0'), { file: 'l.yaml' }), 'LoopBoundError', /^l\.yaml:7:12: loop max must be an integer from 1 to 100, got 0/)
  await assertFails(() => compileDsl(loop('101')), 'LoopBoundError', /got 101/)
  await assertFails(() => compileDsl(loop('2.5')), 'LoopBoundError', /got 2.5/)
  await assertFails(() => compileDsl(plan('  - loop:\n      do:\n        - step: A(doc)\n')), 'LoopBoundError', /a loop needs max/)
  await assertFails(() => compileDsl(plan('  - loop:\n      max: 2\n      do: []\n')), 'DslSchemaError', /needs at least one entry/)
})

test('when: the condition must parse and name known outputs', async () => {
  await assertFails(() => compileDsl(plan('  - when: label.score >\n    then:\n      - step: A(doc)\n'), { file: 'w.yaml' }), 'ExprSyntaxError', /^w\.yaml:6:\d+: when: expected a value/)
  await assertFails(() => compileDsl(plan('  - when: label.score > 1\n    then:\n      - step: A(doc)\n')), 'UnknownReferenceError', /when names 'label'/)
  await assertFails(() => compileDsl(plan('  - step: A(doc)\n    as: a\n  - when: a\n')), 'DslSchemaError', /a when entry needs then/)
})

test('names inside a branch arm or loop body stay inside it', async () => {
  const text = plan('  - loop:\n      max: 2\n      do:\n        - step: A(doc)\n          as: inner\n  - step: B(inner)\n')
  await assertFails(() => compileDsl(text), 'UnknownReferenceError', /'inner' is not an input or an earlier output/)
})

test('a nested body that needs an outside step makes its owner wait for it', () => {
  const dag = compileDsl(plan('  - step: A(doc)\n    as: a\n  - loop:\n      max: 2\n      until: b.done == true\n      do:\n        - step: B(a)\n          as: b\n'))
  assert.deepEqual(dag.steps['1-loop'].after, ['0-a'])
  assert.deepEqual(dag.steps['1-loop.do.0-b'].after, ['0-a'])
})

test('per-step limits accept numbers and human units', async () => {
  const dag = compileDsl(plan('  - step: A(doc)\n    limits: { timeout: 30s, memory: 512MiB, cpu_ms: 100 }\n'))
  assert.deepEqual(dag.steps['0-a'].limits, { wall_ms: 30_000, mem_mb: 512, cpu_ms: 100 })
  await assertFails(() => compileDsl(plan('  - step: A(doc)\n    limits: { timeout: soon }\n'), { file: 'x.yaml' }), 'ResourceRequirementError', /^x\.yaml:7:13: module '0-a': resource_requirements.timeout = "soon" is not a positive duration/)
})

test('parseCall handles versions, dotted names, escapes and rejects trailing text', async () => {
  assert.deepEqual(parseCall('pl.Summarize@1.2( a.b , "q\\"x", k = -1.5 )'), {
    name: 'pl.Summarize', version: '1.2', args: [{ kind: 'ref', path: ['a', 'b'], at: 18 }, { kind: 'lit', value: 'q"x', at: 24 }, { kind: 'lit', value: -1.5, name: 'k', at: 32 }]
  })
  await assertFails(() => parseCall('A() extra'), 'CallSyntaxError', /unexpected text after the call/)
  await assertFails(() => parseCall('A(\'open'), 'CallSyntaxError', /unterminated string/)
  await assertFails(() => parseCall('(x)'), 'CallSyntaxError', /expected a capability name/)
})

test('YAML alias bombs are refused, not expanded', async () => {
  const bomb = 'goal: G\ninputs:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n  d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\nplan:\n  - step: A()\n'
  await assertFails(() => compileDsl(bomb), 'DslSchemaError', /cannot be read/)
})

test('the summarize fixture compiles the same from text and from its file', async () => {
  const text = await readFile(fixture('dsl', 'summarize.yaml'), 'utf8')
  const wf = await loadWorkflow(fixture('dsl', 'summarize.yaml'))
  assert.deepStrictEqual(wf.dag, compileDsl(text))
  assert.equal(wf.bundle, undefined)
})
