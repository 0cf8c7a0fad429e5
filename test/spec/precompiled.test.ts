import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SchemaRegistry, schemasDir } from '../../src/spec/registry.js'
import { loadPrecompiled } from '../../src/spec/precompiled.js'
import { ownKeysLoopsWithoutArrays } from '../../src/spec/precompile-emit.js'
import { cidStringOf } from '../../src/core/encoding.js'
import { packageRoot } from '../../src/core/paths.js'

const docs = readdirSync(schemasDir()).filter(f => f.endsWith('.json')).sort()
  .map(f => JSON.parse(readFileSync(join(schemasDir(), f), 'utf8')) as Record<string, unknown>)
const vectors = JSON.parse(readFileSync(join(packageRoot(), 'test', 'vectors', 'protocols.json'), 'utf8')) as Array<{ schema: string, doc: unknown, valid: boolean, why: string }>

test('the build precompiled a validator for every protocol schema (npm run build runs scripts/build-validators.mjs)', () => {
  const built = loadPrecompiled()
  assert.ok(built != null, 'dist/src/spec/validators.generated.cjs is missing: run npm run build (or npm run build:validators)')
  for (const doc of docs) assert.ok(built.validators.has(cidStringOf(doc)), `no precompiled validator for ${String(doc.title)}`)
  const reg = SchemaRegistry.loadSync()
  assert.equal(reg.precompiled, docs.length, 'the default registry takes every validator from the build')
  // the CIDs the build filed by file text are the schemas' CIDs
  for (const doc of docs) assert.equal(reg.cidOf(String(doc.title)), cidStringOf(doc))
  assert.equal(built.cidByText.size, docs.length)
})

test('precompiled and run-time compiled validators give every protocol vector the same verdict and the same first error', () => {
  const pre = SchemaRegistry.fromDocuments(docs)
  const rt = SchemaRegistry.fromDocuments(docs, { precompiled: false })
  assert.equal(pre.precompiled, docs.length)
  assert.equal(rt.precompiled, 0)
  assert.ok(vectors.length >= 50, `${vectors.length} vectors`)
  const types = new Set<string>()
  for (const v of vectors) {
    types.add(v.schema)
    const a = pre.get(v.schema).validate
    const b = rt.get(v.schema).validate
    assert.notEqual(a, b, 'two different functions are compared')
    const okA = a(v.doc) === true
    const errA = a.errors?.[0]
    const okB = b(v.doc) === true
    const errB = b.errors?.[0]
    assert.equal(okA, v.valid, `precompiled ${v.schema}: ${v.why}`)
    assert.equal(okB, v.valid, `run-time ${v.schema}: ${v.why}`)
    assert.deepEqual(errA == null ? undefined : { path: errA.instancePath, keyword: errA.keyword }, errB == null ? undefined : { path: errB.instancePath, keyword: errB.keyword }, `${v.schema}: ${v.why}`)
  }
  assert.ok(types.size >= 10, `vectors cover ${types.size} schemas`)
})

test('a schema edited after the build (another CID) is compiled at run time, and its edit holds', () => {
  const bid = docs.find(d => d.title === 'Bid.v1') as Record<string, any>
  const edited = { ...bid, required: [...bid.required, 'extra_member'], properties: { ...bid.properties, extra_member: { type: 'string' } } }
  const reg = SchemaRegistry.fromDocuments(docs.map(d => d === bid ? edited : d))
  assert.equal(reg.precompiled, docs.length - 1)
  const valid = vectors.find(v => v.schema === 'Bid.v1' && v.valid) as { doc: Record<string, unknown> }
  assert.equal(reg.isValid('Bid.v1', valid.doc), false, 'the edited schema requires extra_member')
  assert.equal(reg.isValid('Bid.v1', { ...valid.doc, extra_member: 'x' }), true)
})

test('the registry\'s ajv (created on first use) holds every schema', () => {
  const reg = SchemaRegistry.fromDocuments(docs)
  assert.equal(reg.ajv.validateSchema({ type: 'object' }), true)
  assert.equal(reg.ajv.validateSchema({ type: 12 }), false)
  assert.ok(reg.ajv.getSchema('pl:Bid.v1') != null)
})

test('the precompiled validators loop over own members without a key array, and judge inherited and own members as ajv does', () => {
  const built = readFileSync(join(packageRoot(), 'dist', 'src', 'spec', 'validators.generated.cjs'), 'utf8')
  assert.equal(built.match(/ of Object\.keys\(/g), null, 'no for…of Object.keys loop is left')
  assert.ok((built.match(/for\(const key\d+ in \w+\)\{if\(!func0\.call\(/g) ?? []).length >= 10, 'the member loops are for…in with an own-member check')
  const pre = SchemaRegistry.fromDocuments(docs)
  const rt = SchemaRegistry.fromDocuments(docs, { precompiled: false })
  const valid = vectors.find(v => v.schema === 'Bid.v1' && v.valid) as { doc: Record<string, unknown> }
  // an inherited enumerable member is not the document's: valid for both; an own one is refused by both, the same way
  const inherited = Object.assign(Object.create({ extra_member: 'x' }), valid.doc)
  const own = { ...valid.doc, extra_member: 'x' }
  const nullProto = Object.assign(Object.create(null), valid.doc)
  for (const [doc, ok] of [[inherited, true], [own, false], [nullProto, true]] as const) {
    const a = pre.get('Bid.v1').validate
    const b = rt.get('Bid.v1').validate
    assert.equal(a(doc), ok)
    assert.equal(b(doc), ok)
    assert.equal(a.errors?.[0]?.keyword, b.errors?.[0]?.keyword)
  }
})

test('ownKeysLoopsWithoutArrays rewrites only ajv\'s own-member loops over a variable, and only where func0 is hasOwnProperty', () => {
  const src = 'const func0 = Object.prototype.hasOwnProperty;for(const key0 of Object.keys(data)){x(key0)}for(const key1 of Object.keys(data.a)){}'
  assert.equal(ownKeysLoopsWithoutArrays(src), 'const func0 = Object.prototype.hasOwnProperty;for(const key0 in data){if(!func0.call(data, key0))continue;x(key0)}for(const key1 of Object.keys(data.a)){}')
  const other = 'const func0 = require("ajv/dist/runtime/ucs2length").default;for(const key0 of Object.keys(data)){}'
  assert.equal(ownKeysLoopsWithoutArrays(other), other, 'func0 is something else: left alone')
})
