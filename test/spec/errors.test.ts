import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { checkSubset, compileSchemas, createContext, dslStub, loadBundle, parseLangs, readSchemaPath, scaffold, translatePattern } from '../../src/spec/compiler/index.js'
import { dataDirSources } from '../../src/spec/compiler/datadir.js'
import { tempDir } from '../helpers/tmp.js'
import { SAMPLE_SPEC, SCHEMAS } from './helpers.js'

const DRAFT = 'https://json-schema.org/draft/2020-12/schema'

/** Writes `doc` as a schema file in a fresh temp dir and compiles it. */
async function compileDoc (doc: unknown, extra: Record<string, unknown> = {}): Promise<void> {
  const t = await tempDir('pl-spec-err-')
  try {
    await writeFile(join(t.dir, 'schema.json'), JSON.stringify(doc))
    for (const [name, d] of Object.entries(extra)) await writeFile(join(t.dir, name), JSON.stringify(d))
    await compileSchemas([join(t.dir, 'schema.json'), ...Object.keys(extra).map(n => join(t.dir, n))], { langs: ['ts'] })
  } finally {
    await t.cleanup()
  }
}

test('every protocol schema is inside the supported subset and its patterns translate', async () => {
  for (const s of await readSchemaPath(SCHEMAS)) checkSubset(s.doc, s.file as string)
  assert.equal(translatePattern('^b[a-z2-7]{20,}$').py, '^b[a-z2-7]{20,}\\Z')
  assert.equal(translatePattern('^b[a-z2-7]{20,}$').go, '^b[a-z2-7]{20,}\\z')
})

test('patterns are rewritten to mean what they mean in JavaScript', () => {
  const p = translatePattern('^\\d\\w.\\s-x$')
  assert.equal(p.py, '^[0-9][0-9A-Z_a-z][^\\x0a\\x0d\\u2028-\\u2029][\\x09-\\x0d\\x20\\xa0\\u1680\\u2000-\\u200a\\u2028-\\u2029\\u202f\\u205f\\u3000\\ufeff]\\x2dx\\Z')
  assert.equal(p.go, '^[0-9][0-9A-Z_a-z][^\\x{a}\\x{d}\\x{2028}-\\x{2029}][\\x{9}-\\x{d}\\x{20}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}-\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}]\\x{2d}x\\z')
  assert.equal(translatePattern('[a\\-z]').py, '[a\\x2dz]', 'an escaped dash is a literal, not a range')
  assert.equal(translatePattern('(?<year>\\d{4})').go, '(?P<year>[0-9]{4})')
  assert.equal(translatePattern('\\u{1F600}|\\uD83D\\uDE00').py, '\\U0001f600|\\U0001f600')
})

test('an unsupported keyword fails with UnsupportedKeywordError naming the keyword and its JSON pointer', async () => {
  const doc = { $schema: DRAFT, type: 'object', properties: { email: { type: 'string', format: 'email' } } }
  await assert.rejects(compileDoc(doc), (err: any) => {
    assert.equal(err.name, 'UnsupportedKeywordError')
    assert.equal(err.details.keyword, 'format')
    assert.equal(err.details.pointer, '#/properties/email')
    assert.match(err.message, /unsupported keyword "format" at #\/properties\/email/)
    return true
  })
  for (const [keyword, schema] of [['if', { if: { type: 'string' } }], ['patternProperties', { patternProperties: { '^x': {} } }], ['definitions', { definitions: {} }], ['frobnicate', { frobnicate: 1 }]] as const) {
    await assert.rejects(compileDoc({ items: schema }), (err: any) => err.name === 'UnsupportedKeywordError' && err.details.keyword === keyword && err.details.pointer === '#/items')
  }
})

test('a malformed keyword value fails with InvalidSchemaError', async () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ minLength: -1 }, /"minLength" must be a non-negative integer at #\/minLength/],
    [{ type: 'strin' }, /"type" must be one of/],
    [{ $schema: 'http://json-schema.org/draft-07/schema#' }, /only JSON Schema 2020-12/],
    [{ properties: { a: { $id: 'pl:x' } } }, /"\$id" is only allowed at the document root/],
    [{ items: [{ type: 'string' }] }, /use "prefixItems"/],
    [{ required: ['a', 'a'] }, /"required" must be an array of distinct strings/],
    [{ oneOf: [] }, /"oneOf" must be a non-empty array/],
    [{ multipleOf: 0 }, /"multipleOf" must be a number > 0/],
    [{ properties: { a: 5 } }, /a schema must be an object or a boolean at #\/properties\/a/]
  ]
  for (const [doc, message] of cases) await assert.rejects(compileDoc(doc), (err: any) => err.name === 'InvalidSchemaError' && message.test(err.message), JSON.stringify(doc))
})

test('a malformed x-pl-capability, or a capability spec without input/output, fails with InvalidSchemaError', async () => {
  await assert.rejects(compileDoc({ 'x-pl-capability': { name: '9x', version: '1' }, properties: { input: {}, output: {} } }), { name: 'InvalidSchemaError', message: /"name" must match/ })
  await assert.rejects(compileDoc({ 'x-pl-capability': { name: 'X', version: '1', owner: 'me' }, properties: { input: {}, output: {} } }), { name: 'InvalidSchemaError', message: /unknown member "owner"/ })
  await assert.rejects(compileDoc({ 'x-pl-capability': { name: 'X', version: '1' }, properties: { input: {} } }), { name: 'InvalidSchemaError', message: /must define its output schema at #\/properties\/output/ })
})

test('a pattern outside the shared regex subset fails with UnsupportedPatternError', async () => {
  for (const [pattern, why] of [['^(?=a)', /lookaround/], ['(a)\\1', /backreferences/], ['\\p{L}', /Unicode property escapes/], ['[\\S]', /inside a character class/], ['a{1001}', /RE2 limit/], ['(', /not a valid ECMAScript regex/]] as const) {
    await assert.rejects(compileDoc({ type: 'string', pattern }), (err: any) => err.name === 'UnsupportedPatternError' && why.test(err.message), pattern)
  }
})

test('a $ref that names nothing fails with UnresolvedRefError', async () => {
  const missingCid = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
  const cases: Array<[string, RegExp]> = [
    ['#/$defs/Missing', /has no schema at #\/\$defs\/Missing/],
    [`cid:${missingCid}`, new RegExp(`no schema with CID ${missingCid}`)],
    ['pl:Nope.v1', /no schema with \$id "pl:Nope.v1"/],
    ['other.json', /relative references are not supported/],
    ['cid:notacid', /is not a CID/],
    ['#anchor', /only JSON pointer fragments/],
    ['pl:Bid.v1#/properties/nothing', /has no schema at #\/properties\/nothing/]
  ]
  for (const [ref, message] of cases) {
    await assert.rejects(compileDoc({ $schema: DRAFT, properties: { x: { $ref: ref } } }), (err: any) => err.name === 'UnresolvedRefError' && message.test(err.message), ref)
  }
})

test('two different documents with one $id fail with DuplicateSchemaIdError', async () => {
  await assert.rejects(compileDoc({ $id: 'pl:test:Dup.v1', type: 'string' }, { 'other.json': { $id: 'pl:test:Dup.v1', type: 'number' } }), { name: 'DuplicateSchemaIdError', message: /pl:test:Dup\.v1/ })
  await assert.rejects(compileDoc({ $id: 'pl:Bid.v1', type: 'string' }, { 'other.json': { $ref: 'pl:Bid.v1' } }), { name: 'DuplicateSchemaIdError' })
})

test('stub and scaffold refuse a schema that is not a capability spec (NotACapabilitySpecError)', async () => {
  const ctx = createContext(await loadBundle([join(SCHEMAS, 'Bid.v1.json')]))
  assert.throws(() => dslStub(ctx), { name: 'NotACapabilitySpecError' })
  const t = await tempDir()
  try {
    await assert.rejects(scaffold(join(SCHEMAS, 'Bid.v1.json'), { lang: 'py', out: join(t.dir, 'm') }), { name: 'NotACapabilitySpecError', message: /has no "x-pl-capability"/ })
  } finally { await t.cleanup() }
})

test('an unknown --lang fails with UnknownLanguageError', async () => {
  assert.throws(() => parseLangs('ts,rust'), { name: 'UnknownLanguageError', message: /unknown language "rust"/ })
  assert.throws(() => parseLangs(' , '), { name: 'UnknownLanguageError' })
  assert.deepEqual(parseLangs('go, ts,go'), ['go', 'ts'])
  await assert.rejects(scaffold(SAMPLE_SPEC, { lang: 'go' }), { name: 'UnknownLanguageError' })
})

test('scaffold refuses a non-empty folder unless forced (ScaffoldTargetExistsError)', async () => {
  const t = await tempDir()
  try {
    const out = join(t.dir, 'mod')
    await mkdir(out)
    await writeFile(join(out, 'keep.txt'), 'mine')
    await assert.rejects(scaffold(SAMPLE_SPEC, { lang: 'ts', out }), { name: 'ScaffoldTargetExistsError' })
    const res = await scaffold(SAMPLE_SPEC, { lang: 'ts', out, force: true })
    assert.ok(res.files.includes('function.mjs'))
  } finally { await t.cleanup() }
})

test('unreadable inputs fail with SpecFileError', async () => {
  const t = await tempDir()
  try {
    await writeFile(join(t.dir, 'bad.json'), '{ nope')
    await writeFile(join(t.dir, 'array.json'), '[]')
    await mkdir(join(t.dir, 'empty'))
    await assert.rejects(compileSchemas([join(t.dir, 'missing.json')]), { name: 'SpecFileError', message: /cannot read/ })
    await assert.rejects(compileSchemas([join(t.dir, 'bad.json')]), { name: 'SpecFileError', message: /is not JSON/ })
    await assert.rejects(compileSchemas([join(t.dir, 'array.json')]), { name: 'SpecFileError', message: /expected an object/ })
    await assert.rejects(compileSchemas([join(t.dir, 'empty')]), { name: 'SpecFileError', message: /has no \*\.json files/ })
    await assert.rejects(dataDirSources(join(t.dir, 'empty')), { name: 'SpecFileError', message: /is not a pl-node data dir/ })
  } finally { await t.cleanup() }
})
