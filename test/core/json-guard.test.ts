/**
 * The one JSON depth guard (src/core/json-guard.ts): depth counted on the
 * text (strings and escapes skipped), on parsed values without recursion,
 * and as a Fastify body parser that refuses before parsing and reports each
 * refusal once.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import { assertJsonDepth, guardJsonParser, jsonDepth, RequestTooDeepError, valueDepthOver } from '../../src/core/json-guard.js'

test('jsonDepth counts objects and arrays outside strings, escapes included, and stops past max', () => {
  assert.equal(jsonDepth('1'), 0)
  assert.equal(jsonDepth('{"a":[1,{"b":[]}]}'), 4)
  assert.equal(jsonDepth('{"a":"[[[{{{\\"[[["}'), 1, 'brackets in strings (and escaped quotes) do not count')
  assert.equal(jsonDepth('['.repeat(1_000_000), 10), 11, 'stops once past max')
  assert.throws(() => { assertJsonDepth('[[[]]]', 2, 'the thing') }, (err: Error) => err instanceof RequestTooDeepError && err.message === 'the thing nests deeper than 2 levels' && err.details.max === 2)
  assertJsonDepth('[[]]', 2)
})

test('valueDepthOver walks a parsed value without recursion (a million levels do not overflow the stack)', () => {
  assert.equal(valueDepthOver({ a: [1, { b: [] }] }, 4), false)
  assert.equal(valueDepthOver({ a: [1, { b: [] }] }, 3), true)
  assert.equal(valueDepthOver('x', 0), false)
  let deep: unknown = 1
  for (let i = 0; i < 1_000_000; i++) deep = [deep]
  assert.equal(valueDepthOver(deep, 64), true)
})

test('guardJsonParser refuses a body past maxDepth before parse sees it and reports it once; a body at the limit is parsed', async () => {
  const app = Fastify({ logger: false })
  const refused: string[] = []
  let parsed = 0
  const parseJson = app.getDefaultJsonParser('error', 'error')
  guardJsonParser(app, 'application/json', { maxDepth: 3, parse: (req, text, done) => { parsed++; void parseJson(req, text, done) }, onTooDeep: (err) => { refused.push(err.name) } })
  app.setErrorHandler(async (err, _req, rep) => await rep.code((err as { statusCode?: number }).statusCode ?? 500).send({ name: (err as Error).name }))
  app.post('/', async (req) => ({ got: req.body }))
  try {
    const ok = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/json' }, payload: '{"a":{"b":[1]}}' })
    assert.deepEqual([ok.statusCode, ok.json()], [200, { got: { a: { b: [1] } } }])
    const deep = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/json' }, payload: '{"a":{"b":[[1]]}}' })
    assert.deepEqual([deep.statusCode, deep.json()], [400, { name: 'RequestTooDeepError' }])
    assert.deepEqual(refused, ['RequestTooDeepError'])
    assert.equal(parsed, 1, 'the refused body never reached the parser')
  } finally {
    await app.close()
  }
})
