import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cidStringOf } from '../../src/core/encoding.js'
import { matches, matchesStatic, ioMatches, validateQuery, parseAttrFilter } from '../../src/discovery/match.js'
import type { CapabilityDescriptor } from '../../src/discovery/types.js'

const provider = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
const textIn = { type: 'object', properties: { text: { type: 'string' }, lang: { type: 'string' } }, required: ['text'] }
const summaryOut = { type: 'object', properties: { summary: { type: 'string' }, words: { type: 'integer' } }, required: ['summary'] }

function desc (over: Partial<CapabilityDescriptor> = {}): CapabilityDescriptor {
  return { name: 'Summarize', version: '1.2.0', provider, io: { input: textIn, output: summaryOut }, limits: {}, price: 3, attrs: { readability: 0.9, coverage: 0.7, lang: 'en', gpu: false }, policies: ['cid:pol-PII-no-exfil'], attestations: ['eu-only'], ...over }
}
const none = async (): Promise<undefined> => undefined

test('name, exact version, attrs and policies filter descriptors', () => {
  assert.equal(matchesStatic(desc(), { name: 'Summarize' }), true)
  assert.equal(matchesStatic(desc(), { name: 'Translate' }), false)
  assert.equal(matchesStatic(desc(), { name: 'Summarize', version: '1.2.0' }), true)
  assert.equal(matchesStatic(desc(), { name: 'Summarize', version: '1.2' }), false)
  assert.equal(matchesStatic(desc(), { name: 'Summarize', attrs: [{ key: 'readability', op: '>=', value: 0.9 }, { key: 'coverage', op: '>', value: 0.5 }] }), true)
  assert.equal(matchesStatic(desc(), { name: 'Summarize', attrs: [{ key: 'readability', op: '>', value: 0.9 }] }), false)
  assert.equal(matchesStatic(desc(), { name: 'Summarize', attrs: [{ key: 'coverage', op: '<=', value: 0.7 }, { key: 'coverage', op: '<', value: 0.8 }] }), true)
  assert.equal(matchesStatic(desc(), { name: 'Summarize', attrs: [{ key: 'lang', op: '=', value: 'en' }, { key: 'gpu', op: '=', value: false }] }), true)
  assert.equal(matchesStatic(desc(), { name: 'Summarize', attrs: [{ key: 'missing', op: '=', value: 1 }] }), false, 'an attr the descriptor lacks never matches')
  assert.equal(matchesStatic(desc(), { name: 'Summarize', attrs: [{ key: 'price', op: '<=', value: 3 }] }), true, 'price is filterable like an attr')
  assert.equal(matchesStatic(desc(), { name: 'Summarize', policies: ['cid:pol-PII-no-exfil', 'eu-only'] }), true, 'policies match policies or attestations')
  assert.equal(matchesStatic(desc(), { name: 'Summarize', policies: ['hipaa'] }), false)
})

test('io: the same schema CID matches, also against the inline form of that schema', async () => {
  const cid = cidStringOf(textIn)
  assert.equal(await ioMatches(cid, cid, 'input', none), true)
  assert.equal(await ioMatches(textIn, cid, 'input', none), true)
  assert.equal(await ioMatches(cid, textIn, 'input', none), true)
})

test('io input: the query must supply what the capability requires, with types it accepts', async () => {
  assert.equal(await ioMatches(textIn, { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] }, 'input', none), true)
  assert.equal(await ioMatches(textIn, { type: 'object', properties: { body: { type: 'string' } }, required: ['body'] }, 'input', none), false, 'query requires a field the capability does not know')
  assert.equal(await ioMatches(textIn, { type: 'object', properties: { lang: { type: 'string' } }, required: ['lang'] }, 'input', none), false, 'the capability requires text, which the query does not provide')
  assert.equal(await ioMatches(textIn, { type: 'object', properties: { text: { type: 'number' } }, required: ['text'] }, 'input', none), false, 'incompatible type')
  const numIn = { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] }
  assert.equal(await ioMatches(numIn, { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] }, 'input', none), true, 'a number input accepts integers')
  const intIn = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] }
  assert.equal(await ioMatches(intIn, { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] }, 'input', none), false, 'an integer input does not accept any number')
  assert.equal(await ioMatches(textIn, { type: 'array' }, 'input', none), false, 'root types must be compatible')
})

test('io output: every field the query needs must be produced with a type it accepts, nested objects included', async () => {
  assert.equal(await ioMatches(summaryOut, { type: 'object', properties: { summary: { type: 'string' } }, required: ['summary'] }, 'output', none), true)
  assert.equal(await ioMatches(summaryOut, { type: 'object', properties: { words: { type: 'number' } }, required: ['words'] }, 'output', none), true, 'integer output satisfies a number need')
  assert.equal(await ioMatches(summaryOut, { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] }, 'output', none), false)
  const nested = { type: 'object', properties: { meta: { type: 'object', properties: { lang: { type: 'string' } } } } }
  assert.equal(await ioMatches(nested, { type: 'object', properties: { meta: { type: 'object', properties: { lang: { type: 'string' } }, required: ['lang'] } }, required: ['meta'] }, 'output', none), true)
  assert.equal(await ioMatches(nested, { type: 'object', properties: { meta: { type: 'object', properties: { author: { type: 'string' } }, required: ['author'] } }, required: ['meta'] }, 'output', none), false)
})

test('io schemas given by CID are resolved; unresolvable ones do not match', async () => {
  const cid = cidStringOf(summaryOut)
  const d = desc({ io: { input: textIn, output: cid } })
  const resolve = async (c: string): Promise<any> => c === cid ? summaryOut : undefined
  const need = { type: 'object', properties: { summary: { type: 'string' } }, required: ['summary'] }
  assert.equal(await matches(d, { name: 'Summarize', io: { output: need } }, resolve), true)
  assert.equal(await matches(d, { name: 'Summarize', io: { output: need } }, none), false)
})

test('rejects malformed queries with InvalidCapabilityQueryError', () => {
  const bad: unknown[] = [
    null, 'Summarize', {}, { name: '' }, { name: '9lives' }, { name: 'A', version: 3 },
    { name: 'A', attrs: {} }, { name: 'A', attrs: [{ key: 'x', op: '!=', value: 1 }] }, { name: 'A', attrs: [{ key: 'x', op: '>=', value: 'high' }] },
    { name: 'A', attrs: [{ op: '=', value: 1 }] }, { name: 'A', policies: 'p' }, { name: 'A', io: { input: 'not-a-cid' } }, { name: 'A', io: { output: [1] } }
  ]
  for (const q of bad) assert.throws(() => validateQuery(q), { name: 'InvalidCapabilityQueryError' }, JSON.stringify(q))
  assert.deepEqual(validateQuery({ name: 'A', attrs: [{ key: 'x', op: '>=', value: 1 }] }).attrs, [{ key: 'x', op: '>=', value: 1 }])
})

test('parses attr filters from the command line', () => {
  assert.deepEqual(parseAttrFilter('readability>=0.8'), { key: 'readability', op: '>=', value: 0.8 })
  assert.deepEqual(parseAttrFilter('lang=en'), { key: 'lang', op: '=', value: 'en' })
  assert.deepEqual(parseAttrFilter('gpu=true'), { key: 'gpu', op: '=', value: true })
  assert.deepEqual(parseAttrFilter('price<5'), { key: 'price', op: '<', value: 5 })
  assert.throws(() => parseAttrFilter('readability'), { name: 'InvalidCapabilityQueryError' })
  assert.throws(() => parseAttrFilter('lang>=en'), { name: 'InvalidCapabilityQueryError' })
})
