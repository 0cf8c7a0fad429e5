import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { validateDag, dagFromJson, dagToJson, compileDsl, type Step, type TaskDag } from '../../src/workflow/index.js'
import { PlError } from '../../src/core/errors.js'
import { assertFails } from './util.js'

function step (id: string, extra: Partial<Step> = {}): Step {
  return { id, kind: 'call', capability: { name: `Cap${id}` }, parameters: {}, settings: {}, after: [], args: {}, limits: {}, ...extra }
}

function dag (steps: Step[], extra: Partial<TaskDag> = {}): TaskDag {
  return {
    v: 1,
    name: 't',
    source: { format: 'dsl' },
    mode: 'dag',
    inputs: { doc: 'cid:x' },
    constraints: {},
    policies: [],
    select: [],
    globalSettings: {},
    globalParameters: {},
    steps: Object.fromEntries(steps.map(s => [s.id, s])),
    outputs: [steps[steps.length - 1].id],
    ...extra
  }
}

/** Builds a DAG where edge [a, b] means step b depends on step a, alternately through `after` and through an arg binding. */
function fromEdges (n: number, edges: Array<[number, number]>): TaskDag {
  const steps = Array.from({ length: n }, (_, i) => step(`s${i}`))
  edges.forEach(([a, b], k) => {
    if (k % 2 === 0) steps[b].after.push(`s${a}`)
    else steps[b].args[`in${k}`] = { from: 'step', step: `s${a}` }
  })
  return dag(steps, { outputs: [] })
}

/** Reference answer: Kahn's algorithm. */
function isAcyclic (n: number, edges: Array<[number, number]>): boolean {
  const indeg = new Array(n).fill(0)
  for (const [, b] of edges) indeg[b]++
  const ready = indeg.flatMap((d, i) => d === 0 ? [i] : [])
  let seen = 0
  while (ready.length > 0) {
    const x = ready.pop()!
    seen++
    for (const [a, b] of edges) if (a === x && --indeg[b] === 0) ready.push(b)
  }
  return seen === n
}

const forwardEdges = fc.integer({ min: 2, max: 30 }).chain(n => fc.tuple(
  fc.constant(n),
  fc.array(fc.tuple(fc.nat(), fc.nat()).map(([x, y]): [number, number] => {
    const a = x % (n - 1)
    return [a, a + 1 + (y % (n - 1 - a))]
  }), { minLength: 1, maxLength: n * 3 })
))

test('property: every acyclic DAG shape is accepted', () => {
  fc.assert(fc.property(forwardEdges, ([n, edges]) => {
    validateDag(fromEdges(n, edges))
  }), { numRuns: 200 })
})

test('property: adding a back edge to an acyclic DAG is rejected with DagCycleError', () => {
  fc.assert(fc.property(forwardEdges, fc.nat(), ([n, edges], pick) => {
    const [a, b] = edges[pick % edges.length]
    // b depends on a; now make a depend on b as well
    const withBack: Array<[number, number]> = [...edges, [b, a]]
    assert.throws(() => { validateDag(fromEdges(n, withBack)) }, (err: Error) => err.name === 'DagCycleError' && / → /.test(err.message))
  }), { numRuns: 200 })
})

test('property: on random directed graphs validation agrees with Kahn\'s algorithm', () => {
  const anyEdges = fc.integer({ min: 1, max: 12 }).chain(n => fc.tuple(fc.constant(n), fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: n * 2 })))
  fc.assert(fc.property(anyEdges, ([n, edges]) => {
    const d = fromEdges(n, edges)
    const selfRef = edges.some(([a, b], k) => a === b && k % 2 === 1)
    let accepted = true
    try { validateDag(d) } catch (err) {
      accepted = false
      if (!['DagCycleError', 'InvalidDagError'].includes((err as Error).name)) throw err
    }
    assert.equal(accepted, isAcyclic(n, edges) && !selfRef)
  }), { numRuns: 300 })
})

test('the cycle message names the cycle in flow order', async () => {
  const d = dag([step('a', { after: ['c'] }), step('b', { after: ['a'] }), step('c', { after: ['b'] })])
  await assertFails(() => validateDag(d), 'DagCycleError', /^the steps form a cycle: (a → b → c → a|b → c → a → b|c → a → b → c)$/)
})

test('references that do not resolve fail with DanglingReferenceError', async () => {
  await assertFails(() => validateDag(dag([step('a', { after: ['ghost'] })])), 'DanglingReferenceError', /^step 'a': after names step 'ghost' does not exist$/)
  await assertFails(() => validateDag(dag([step('a', { args: { x: { from: 'input', name: 'nope' } } })])), 'DanglingReferenceError', /step 'a' arg 'x': input 'nope' does not exist/)
  await assertFails(() => validateDag(dag([step('a', { args: { x: { from: 'step', step: 'zz' } } })])), 'DanglingReferenceError', /step 'zz' does not exist/)
  await assertFails(() => validateDag(dag([step('a', { kind: 'map', over: { from: 'step', step: 'q' } })])), 'DanglingReferenceError', /step 'a' over: step 'q' does not exist/)
  await assertFails(() => validateDag(dag([step('a')], { outputs: ['b'] })), 'DanglingReferenceError', /^outputs: step 'b' does not exist$/)
  await assertFails(() => validateDag(dag([step('a', { kind: 'branch', capability: undefined, condition: { op: 'ref', path: ['who'] }, then: [] })])), 'DanglingReferenceError', /expression names 'who' does not exist/)
  await assertFails(() => validateDag(dag([step('a', { kind: 'branch', capability: undefined, condition: { op: 'lit', value: true }, then: ['x'] })])), 'DanglingReferenceError', /then\/else\/body names step 'x' does not exist/)
  await assertFails(() => validateDag(dag([step('a', { parent: 'p' })])), 'DanglingReferenceError', /parent 'p' does not exist/)
})

test('ids must be unique and match their keys', async () => {
  const d = dag([step('a'), step('b')])
  d.steps.b = { ...d.steps.b, id: 'a' }
  await assertFails(() => validateDag(d), 'DuplicateStepError', /two steps have the id 'a'/)
  const e = dag([step('a')])
  e.steps.a = { ...e.steps.a, id: 'z' }
  await assertFails(() => validateDag(e), 'InvalidDagError', /step 'a' has the id 'z': ids must match their keys/)
  await assertFails(() => validateDag(dag([step('a', { as: 'doc' })])), 'DuplicateStepError', /names its output 'doc', already an input/)
})

test('limits must be positive integers; loop max and router bounds are checked', async () => {
  await assertFails(() => validateDag(dag([step('a', { limits: { wall_ms: 0 } })])), 'InvalidLimitError', /^step 'a': limits.wall_ms must be a positive integer, got 0$/)
  await assertFails(() => validateDag(dag([step('a', { limits: { mem_mb: 1.5 } })])), 'InvalidLimitError', /limits.mem_mb/)
  await assertFails(() => validateDag(dag([step('a')], { constraints: { deadline_ms: -1 } })), 'InvalidLimitError', /deadline_ms/)
  const loop = (max: number): TaskDag => dag([step('l', { kind: 'loop', capability: undefined, body: ['b'], max }), step('b', { parent: 'l' })])
  validateDag(loop(100))
  await assertFails(() => validateDag(loop(0)), 'LoopBoundError', /loop max must be an integer from 1 to 100, got 0/)
  await assertFails(() => validateDag(loop(101)), 'LoopBoundError', /got 101/)
  await assertFails(() => validateDag(dag([step('r')], { mode: 'router', router: { step: 'r', max_iterations: 0 } })), 'LoopBoundError', /router max_iterations/)
  await assertFails(() => validateDag(dag([step('r')], { mode: 'router' })), 'InvalidDagError', /needs router/)
})

test('nested steps: parent and arms must agree, and a nested step cannot wait for its owner', async () => {
  const branch = step('br', { kind: 'branch', capability: undefined, condition: { op: 'lit', value: true }, then: ['t'] })
  validateDag(dag([branch, step('t', { parent: 'br' })], { outputs: ['br'] }))
  await assertFails(() => validateDag(dag([branch, step('t')], { outputs: ['br'] })), 'InvalidDagError', /lists 't', whose parent is null, not 'br'/)
  await assertFails(() => validateDag(dag([branch, step('t', { parent: 'br', after: ['br'] })], { outputs: ['br'] })), 'InvalidDagError', /waits for its owner 'br'/)
  await assertFails(() => validateDag(dag([step('x', { then: ['y'] }), step('y', { parent: 'x' })])), 'InvalidDagError', /only branch and loop steps own then\/else\/body/)
})

test('malformed shapes fail with InvalidDagError, never a TypeError', async () => {
  const bads: unknown[] = [null, 3, [], { v: 2 }, { ...dag([step('a')]), steps: [] }, { ...dag([step('a')]), mode: 'x' },
    dag([{ ...step('a'), kind: 'teleport' } as unknown as Step]), dag([{ ...step('a'), after: 'b' } as unknown as Step]),
    dag([step('a', { args: { x: { from: 'moon' } as never } })]), dag([step('a', { kind: 'map' })]),
    dag([step('a', { kind: 'branch', capability: undefined, condition: { op: 'xor' } as never, then: [] })]),
    { ...dag([step('a')]), steps: {} }, { ...dag([step('a')]), select: [{ attr: 'x', weight: 'heavy' }] }]
  for (const b of bads) await assertFails(() => validateDag(b as TaskDag), 'InvalidDagError', /./)
})

test('dagFromJson: bad text and bad DAGs fail typed', async () => {
  await assertFails(() => dagFromJson('{nope'), 'InvalidEncodingError', /not valid dag-json/)
  await assertFails(() => dagFromJson('{"v":1}'), 'InvalidDagError', /needs a name/)
  const d = compileDsl('goal: G\nplan:\n  - step: A()\n')
  assert.deepStrictEqual(dagFromJson(dagToJson(d)), d)
})

/** Sets `value` at a random path inside `doc` (chosen by `picks`), returning a mutated deep copy. */
function mutateAt (doc: unknown, picks: number[], value: unknown): unknown {
  const root = structuredClone(doc) as Record<string, unknown>
  let cur: any = root
  for (const p of picks) {
    const keys = cur != null && typeof cur === 'object' ? Object.keys(cur) : []
    if (keys.length === 0) break
    const k = keys[p % keys.length]
    if (cur[k] == null || typeof cur[k] !== 'object' || p % 3 === 0) { cur[k] = value; return root }
    cur = cur[k]
  }
  return root
}

test('property: any corruption of a valid DAG is accepted or refused with a typed error, never a crash', () => {
  const base = compileDsl('goal: G\ninputs:\n  doc: d\nplan:\n  - map: F(doc)\n    as: f\n  - when: f.x > 1\n    then:\n      - step: T(f)\n  - loop:\n      max: 2\n      until: r.ok\n      do:\n        - step: R(doc)\n          as: r\n  - join: J()\n')
  fc.assert(fc.property(fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), (picks, value) => {
    const text = JSON.stringify(mutateAt(base, picks, value))
    try {
      dagFromJson(text)
    } catch (err) {
      assert.ok(err instanceof PlError, `not a PlError: ${String(err)}`)
    }
  }), { numRuns: Number(process.env.PL_PROPERTY_RUNS ?? 1000) })
})

test('rejects a loop whose body waits for a step that waits for the loop (the owner inherits its body\'s outside edges)', async () => {
  const d = dag([
    step('L', { kind: 'loop', body: ['B'], max: 1 }),
    step('B', { parent: 'L', after: ['X'] }),
    step('X', { after: ['L'] })
  ], { outputs: ['X'] })
  await assertFails(() => validateDag(d), 'DagCycleError', /^the steps form a cycle: .*(L.*X|X.*L)/)
})

test('accepts a loop body step waiting for a step outside the loop that does not wait for the loop', () => {
  const d = dag([
    step('X'),
    step('L', { kind: 'loop', body: ['B'], max: 1 }),
    step('B', { parent: 'L', after: ['X'] }),
    step('Y', { after: ['L'] })
  ], { outputs: ['Y'] })
  validateDag(d)
})
