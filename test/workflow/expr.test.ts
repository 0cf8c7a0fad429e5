import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { parseExpr, evalExpr, exprToText, parseDuration, toDot, compileDsl, loadWorkflow, dagToJson } from '../../src/workflow/index.js'
import { assertFails, fixture } from './util.js'
import type { Expr } from '../../src/workflow/index.js'

const exprArb: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>(tie => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.boolean(), fc.constant(null), fc.stringMatching(/^[a-z "']{0,8}$/)).map((value): Expr => ({ op: 'lit', value })),
    fc.array(fc.constantFrom('a', 'b', 'label', 'x_1', '0', 'score'), { minLength: 1, maxLength: 3 }).filter(p => !/^\d/.test(p[0])).map((path): Expr => ({ op: 'ref', path })),
    tie('e').map((arg): Expr => ({ op: 'not', arg })),
    fc.tuple(fc.constantFrom('and', 'or'), fc.array(tie('e'), { minLength: 2, maxLength: 3 })).map(([op, args]): Expr => ({ op, args })),
    fc.tuple(fc.constantFrom('==', '!=', '<', '<=', '>', '>=') as fc.Arbitrary<'=='>, tie('e'), tie('e')).map(([op, left, right]): Expr => ({ op, left, right }))
  )
})).e

test('parseDuration reads ISO-8601 durations', () => {
  assert.equal(parseDuration('PT30S'), 30_000)
  assert.equal(parseDuration('PT1M30S'), 90_000)
  assert.equal(parseDuration('P1D'), 86_400_000)
  assert.equal(parseDuration('P1W'), 604_800_000)
  assert.equal(parseDuration('PT0.5S'), 500)
  assert.equal(parseDuration('P1DT2H'), 93_600_000)
  assert.equal(parseDuration('pt2h'), 7_200_000)
})

test('parseDuration refuses what is not a fixed-length ISO-8601 duration', async () => {
  for (const bad of ['30s', 'P', 'PT', 'P1DT', '', 'PT-5S', 'T30S', 'PT30', 'P1.2.3D']) {
    await assertFails(() => parseDuration(bad), 'InvalidDurationError', /not an ISO-8601 duration/)
  }
  await assertFails(() => parseDuration('P1M'), 'InvalidDurationError', /years or months, which have no fixed length/)
  await assertFails(() => parseDuration('P1Y'), 'InvalidDurationError', /years or months/)
  await assertFails(() => parseDuration(5 as unknown as string), 'InvalidDurationError', /must be an ISO-8601 string/)
})

test('expressions: precedence, literals, paths', () => {
  assert.deepEqual(parseExpr('a.b > 0.8'), { op: '>', left: { op: 'ref', path: ['a', 'b'] }, right: { op: 'lit', value: 0.8 } })
  assert.deepEqual(parseExpr('!x && y || z'), { op: 'or', args: [{ op: 'and', args: [{ op: 'not', arg: { op: 'ref', path: ['x'] } }, { op: 'ref', path: ['y'] }] }, { op: 'ref', path: ['z'] }] })
  assert.deepEqual(parseExpr('items.0.name == "a\\"b"'), { op: '==', left: { op: 'ref', path: ['items', '0', 'name'] }, right: { op: 'lit', value: 'a"b' } })
  assert.deepEqual(parseExpr("(x != null) && true"), { op: 'and', args: [{ op: '!=', left: { op: 'ref', path: ['x'] }, right: { op: 'lit', value: null } }, { op: 'lit', value: true }] })
  assert.deepEqual(parseExpr('n >= -2e3'), { op: '>=', left: { op: 'ref', path: ['n'] }, right: { op: 'lit', value: -2000 } })
  assert.equal(exprToText(parseExpr('!(a || b) && c.d < 3')), '!(a || b) && c.d < 3')
})

test('expressions: evaluation over a scope', () => {
  const scope = { label: { score: 0.9, tags: ['x', 'y'] }, review: { ok: false }, name: 'bob', n: 0 }
  const ev = (t: string): unknown => evalExpr(parseExpr(t), scope)
  assert.equal(ev('label.score > 0.8'), true)
  assert.equal(ev('label.score > 0.95'), false)
  assert.equal(ev('review.ok'), false)
  assert.equal(ev('!review.ok && name == "bob"'), true)
  assert.equal(ev('label.tags.1 == "y"'), true)
  assert.equal(ev('missing.path'), null)
  assert.equal(ev('missing.path == null'), true)
  assert.equal(ev('n || name'), true)
  assert.equal(ev('label.tags == label.tags'), true)
  assert.equal(ev('"a" < "b"'), true)
  assert.equal(ev('constructor'), null, 'no prototype lookups')
})

test('expressions: ordering incompatible values fails with ExprTypeError', async () => {
  await assertFails(() => evalExpr(parseExpr('missing > 1'), {}), 'ExprTypeError', /^cannot compare null > number 1 in missing > 1$/)
  await assertFails(() => evalExpr(parseExpr('"a" < 2'), {}), 'ExprTypeError', /cannot compare string "a" < number 2/)
})

test('expressions: syntax errors name the column', async () => {
  await assertFails(() => parseExpr('a >'), 'ExprSyntaxError', /expected a value, a name, ! or \(, found end of expression/)
  await assertFails(() => parseExpr('a < b < c'), 'ExprSyntaxError', /comparisons do not chain/)
  await assertFails(() => parseExpr('a + b'), 'ExprSyntaxError', /unexpected character "\+" at column 3/)
  await assertFails(() => parseExpr('(a'), 'ExprSyntaxError', /expected \)/)
  await assertFails(() => parseExpr('"open'), 'ExprSyntaxError', /unterminated string/)
  await assertFails(() => parseExpr('a.'), 'ExprSyntaxError', /expected a name or index after \./)
  await assertFails(() => parseExpr('!'.repeat(100) + 'a'), 'ExprSyntaxError', /nests deeper than 64/)
  await assertFails(() => parseExpr('x'.repeat(5000)), 'ExprSyntaxError', /too long/)
  await assertFails(() => parseExpr('eval("1")'), 'ExprSyntaxError', /expected an operator or the end/)
})

test('toDot renders every step and edge of the route plan', async () => {
  const wf = await loadWorkflow(fixture('dsl', 'route.yaml'))
  const dot = toDot(wf.dag)
  assert.match(dot, /^digraph "TriageTicket" \{/)
  for (const id of Object.keys(wf.dag.steps)) assert.ok(dot.includes(`"${id}" [label=`), `node ${id}`)
  assert.match(dot, /"0-classify" -> "1-when";/)
  assert.match(dot, /"1-when" -> "1-when.then.0-autoreply" \[label="then", style=dashed\];/)
  assert.match(dot, /"1-when" -> "1-when.else.0-escalate" \[label="else", style=dashed\];/)
  assert.match(dot, /"2-loop.do.0-review" -> "2-loop" \[label="repeat", style=dotted, constraint=false\];/)
  assert.match(dot, /when label.score > 0.8/)
  assert.match(dot, /\}\n$/)
})

test('toDot escapes quotes in names', () => {
  const dag = compileDsl('goal: \'Say "hi"\'\nplan:\n  - step: A()\n')
  assert.match(toDot(dag), /^digraph "Say \\"hi\\"" \{/)
  assert.ok(dagToJson(dag).includes('Say \\"hi\\"'))
})

test('property: exprToText and parseExpr round-trip any expression', () => {
  fc.assert(fc.property(exprArb, (e) => {
    assert.deepStrictEqual(parseExpr(exprToText(e)), e)
  }), { numRuns: 300 })
})
