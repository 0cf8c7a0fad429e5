import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SchemaRegistry } from '../../src/spec/registry.js'
import { Store } from '../../src/store/index.js'
import { ControlClient } from '../../src/api/client.js'
import { compileSchemas, readSchemaPath, schemaCid, specId, writeGenerated } from '../../src/spec/compiler/index.js'
import { dataDirSources } from '../../src/spec/compiler/datadir.js'
import { TestMesh } from '../helpers/mesh.js'
import { tempDir } from '../helpers/tmp.js'
import { importGeneratedTs, SCHEMAS } from './helpers.js'

/** A shared schema others refer to by CID. */
const TEXT = { $schema: 'https://json-schema.org/draft/2020-12/schema', title: 'Text.v1', type: 'object', required: ['text'], properties: { text: { type: 'string', maxLength: 5 } } }

function referrer (cid: string): Record<string, unknown> {
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', $id: 'pl:test:Doc.v1', title: 'Doc.v1', type: 'object', properties: { body: { $ref: `cid:${cid}` }, text: { $ref: `${cid}#/properties/text` } } }
}

/** Compiles `doc` (TS only) with the given load options and checks that the referenced schema is enforced. */
async function assertRefEnforced (dir: string, doc: unknown, options: Parameters<typeof compileSchemas>[1]): Promise<void> {
  await writeFile(join(dir, 'doc.json'), JSON.stringify(doc))
  const { files } = await compileSchemas([join(dir, 'doc.json')], { ...options, langs: ['ts'] })
  await writeGenerated(join(dir, 'out'), files)
  const mod = await importGeneratedTs(join(dir, 'out', 'ts'), join(dir, 'run'))
  assert.equal(mod.isValid('Doc.v1', { body: { text: 'short' }, text: 'ok' }), true)
  assert.equal(mod.isValid('Doc.v1', { body: { text: 'too long' } }), false, 'the CID-referenced schema applies')
  assert.equal(mod.isValid('Doc.v1', { text: 'too long' }), false, 'a pointer into the CID-referenced schema applies')
}

test('pl spec id prints the CID the registry computes, for every protocol schema', async () => {
  const registry = await SchemaRegistry.load()
  for (const s of await readSchemaPath(SCHEMAS)) {
    assert.equal((await specId(s.file as string)).cid, registry.cidOf(s.doc.title as string), s.file)
  }
})

test('formatting and key order do not change a schema CID; content does', async () => {
  const t = await tempDir()
  try {
    const text = await readFile(join(SCHEMAS, 'Bid.v1.json'), 'utf8')
    const doc = JSON.parse(text)
    const reordered = Object.fromEntries(Object.entries(doc).reverse())
    await writeFile(join(t.dir, 'a.json'), JSON.stringify(reordered))
    await writeFile(join(t.dir, 'b.json'), JSON.stringify(doc, null, 8).replace(/\n/g, '\r\n'))
    await writeFile(join(t.dir, 'c.json'), JSON.stringify({ ...doc, description: 'changed' }))
    const original = (await specId(join(SCHEMAS, 'Bid.v1.json'))).cid
    assert.equal((await specId(join(t.dir, 'a.json'))).cid, original)
    assert.equal((await specId(join(t.dir, 'b.json'))).cid, original)
    assert.notEqual((await specId(join(t.dir, 'c.json'))).cid, original)
  } finally { await t.cleanup() }
})

test('--check resolves $refs to protocol schemas and reports their targets', async () => {
  const res = await specId(join(SCHEMAS, 'AdvertiseCapability.v1.json'), { check: true })
  const registry = await SchemaRegistry.load()
  assert.deepEqual(res.refs, [{ ref: 'pl:Capability.v1', target: 'pl:Capability.v1', cid: registry.cidOf('Capability.v1') }])
})

test('CID $refs resolve from a folder of schema files', async () => {
  const t = await tempDir()
  try {
    await mkdir(join(t.dir, 'shared'))
    await writeFile(join(t.dir, 'shared', 'text.json'), JSON.stringify(TEXT, null, 2))
    const cid = schemaCid(TEXT)
    await writeFile(join(t.dir, 'lonely.json'), JSON.stringify(referrer(cid)))
    await assert.rejects(compileSchemas([join(t.dir, 'lonely.json')], { langs: ['ts'] }), { name: 'UnresolvedRefError' }, 'without the folder the CID is unknown')
    await assertRefEnforced(t.dir, referrer(cid), { schemaDirs: [join(t.dir, 'shared')] })
  } finally { await t.cleanup() }
})

test('CID $refs resolve from a node\'s local store (the data dir, no daemon running)', async () => {
  const t = await tempDir()
  try {
    const dataDir = join(t.dir, 'node')
    const store = await Store.open(dataDir)
    const cid = await store.blocks.put(TEXT)
    await store.close()
    assert.equal(cid, schemaCid(TEXT))
    const src = await dataDirSources(dataDir)
    try {
      await assertRefEnforced(t.dir, referrer(cid), src.options)
    } finally { await src.close() }
  } finally { await t.cleanup() }
})

test('CID $refs resolve through a running node\'s control API (GET /blocks/:cid) when it holds the data dir', async () => {
  const mesh = await TestMesh.start({ nodes: 1, controlApi: true })
  const t = await tempDir()
  try {
    const dataDir = mesh.nodes[0].components.dataDir
    const client = await ControlClient.fromDataDir(dataDir)
    const { cid } = await client.request('POST', '/blocks', { doc: TEXT })
    const src = await dataDirSources(dataDir)
    try {
      assert.equal(src.options.blocks, undefined, 'the daemon holds the store; the source goes through its API')
      await assertRefEnforced(t.dir, referrer(cid), src.options)
      const missing = schemaCid({ other: true })
      await writeFile(join(t.dir, 'missing.json'), JSON.stringify(referrer(missing)))
      await assert.rejects(compileSchemas([join(t.dir, 'missing.json')], { ...src.options, langs: ['ts'] }), { name: 'UnresolvedRefError', message: /running pl-node/ })
    } finally { await src.close() }
  } finally {
    await t.cleanup()
    await mesh.stop()
  }
})
