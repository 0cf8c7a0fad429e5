import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SchemaRegistry } from '../../src/spec/index.js'
import { moduleSpecOf } from '../../src/core/index.js'
import { buildDescriptor, capNameKey, compareVersions, inlineSchemas } from '../../src/discovery/descriptor.js'
import { RAW } from '../../src/core/encoding.js'
import { tempDir } from '../helpers/tmp.js'

const self = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
const other = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
const io = { input: { type: 'object' }, output: { type: 'object' } }

test('fills provider and limits, pins the module by its folder CID and leaves no local path in the descriptor', async () => {
  const registry = await SchemaRegistry.load()
  const { dir, cleanup } = await tempDir()
  try {
    await mkdir(join(dir, 'm'))
    await writeFile(join(dir, 'm', 'function.mjs'), 'export default class { eval () { return {} } }\n')
    const module = await moduleSpecOf('Summarize', join(dir, 'm'))
    const d = buildDescriptor({ name: 'Summarize', version: '1.0.0', io }, self, registry, { module, maxBytes: 65536 })
    assert.equal(d.provider, self)
    assert.deepEqual(d.limits, {})
    assert.deepEqual(d.module, { cid: module.cid, kind: 'js' })
    assert.equal(JSON.stringify(d).includes(dir), false)
    assert.deepEqual(inlineSchemas(d), [io.input, io.output])
  } finally { await cleanup() }
})

test('refuses a descriptor that names another provider', async () => {
  const registry = await SchemaRegistry.load()
  assert.throws(() => buildDescriptor({ name: 'A', version: '1', io, provider: other }, self, registry, { maxBytes: 65536 }), { name: 'ProviderMismatchError' })
})

test('refuses a descriptor that does not validate as Capability.v1', async () => {
  const registry = await SchemaRegistry.load()
  assert.throws(() => buildDescriptor({ name: 'A', version: '1' } as any, self, registry, { maxBytes: 65536 }), { name: 'InvalidBodyError' })
  assert.throws(() => buildDescriptor({ name: 'A', version: '1', io, colour: 'red' } as any, self, registry, { maxBytes: 65536 }), { name: 'InvalidBodyError' })
  assert.throws(() => buildDescriptor([] as any, self, registry, { maxBytes: 65536 }), { name: 'InvalidDescriptorError' })
})

test('refuses an oversized descriptor', async () => {
  const registry = await SchemaRegistry.load()
  assert.throws(() => buildDescriptor({ name: 'A', version: '1', io, description: 'x'.repeat(1900) }, self, registry, { maxBytes: 1024 }), { name: 'DescriptorTooLargeError' })
})

test('the DHT key of a name is the raw CID of pl:cap:<name>', () => {
  const k = capNameKey('Summarize')
  assert.equal(k.code, RAW)
  assert.equal(k.toString(), capNameKey('Summarize').toString())
  assert.notEqual(k.toString(), capNameKey('Summarise').toString())
})

test('versions compare part by part', () => {
  assert.ok(compareVersions('1.10.0', '1.9.2') > 0)
  assert.ok(compareVersions('1.0.0', '1.0.0') === 0)
  assert.ok(compareVersions('0.9', '1.0') < 0)
})
