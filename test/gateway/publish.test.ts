/**
 * `POST /capabilities` on a real two-node mesh: node 0 publishes through its
 * gateway a capability whose JS module is uploaded with the request; node 1
 * finds it and a one-step plan deployed on node 1 is served by node 0 (its
 * receipt verifies and says the step ran in the sandbox, although node 0's
 * default JS isolation is `thread` and it trusts the name). Re-publishing
 * with `impl.like` changes the price the mesh sees. Bad inputs get typed
 * errors, are counted, and leave no files behind.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestMesh } from '../helpers/mesh.js'
import { waitFor } from '../helpers/mesh.js'
import type { Discovery } from '../../src/discovery/index.js'
import { verifyExport } from '../../src/receipts/index.js'
import { cidOfBytes, RAW } from '../../src/core/encoding.js'
import { UPLOADED_MODULES_DIR } from '../../src/gateway/module-upload.js'
import { buildZip } from '../workflow/zip-builder.js'
import { gw, http, startMesh } from './helpers.js'

let mesh: TestMesh
let publisher: string
let reader: string
let submitter: string
let base0: string
let base1: string

const SHOUT = 'export default class Shout {\n  eval (parameters, inputData) {\n    return { text: String(inputData.text).toUpperCase() + \'!\' }\n  }\n}\n'
const DESCRIPTOR_YAML = [
  '# the YAML form `pl cap publish` reads',
  'name: Shout',
  'version: 1.0.0',
  'description: Upper-cases a text.',
  'io:',
  '  input: { type: object, required: [text], properties: { text: { type: string } } }',
  '  output: { type: object, required: [text], properties: { text: { type: string } } }',
  'limits: { wall_ms: 20000, mem_mb: 128 }',
  'attrs: { loudness: 1 }',
  ''
].join('\n')
const b64 = (s: string | Uint8Array): string => Buffer.from(s).toString('base64')
const descriptor = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'Shout2',
  version: '1.0.0',
  io: { input: { type: 'object' }, output: { type: 'object' } },
  limits: { wall_ms: 20_000 },
  ...extra
})

before(async () => {
  // node 0 would run JS in threads and trusts the name Shout: an uploaded module must still get the sandbox
  mesh = await startMesh(2, (i) => i === 0 ? { publishExternal: { attached: ['worker-1'], nosuch: ['x'] } } : {}, () => [], () => ({}), (i) => i === 0 ? { exec: { poolInit: { sandbox: { isolation: 'thread', thread: ['Shout', 'Shout2'] } } } } : {})
  publisher = (await gw(mesh.nodes[0]).keys.create({ name: 'pub', scopes: ['read', 'publish'] })).key
  reader = (await gw(mesh.nodes[0]).keys.create({ name: 'reader', scopes: ['read'] })).key
  submitter = (await gw(mesh.nodes[1]).keys.create({ name: 'sub', scopes: ['read', 'submit'] })).key
  base0 = gw(mesh.nodes[0]).address as string
  base1 = gw(mesh.nodes[1]).address as string
  await mesh.connected(1)
})

after(async () => {
  await mesh?.stop()
})

const uploaded = async (): Promise<string[]> => await readdir(join(mesh.nodes[0].components.dataDir, UPLOADED_MODULES_DIR)).catch(() => [])

test('a JS module uploaded with its descriptor is published, found from another node and serves a plan there; its receipt verifies', async () => {
  const res = await http(base0, 'POST', '/capabilities', { key: publisher, body: { descriptor: DESCRIPTOR_YAML, impl: { upload: { file: 'function.mjs', content: b64(SHOUT) } }, price: 3 } })
  assert.equal(res.status, 200, JSON.stringify(res.body))
  assert.equal(res.body.descriptor.provider, mesh.nodes[0].peerId)
  assert.equal(res.body.descriptor.price, 3)
  assert.equal(res.body.descriptor.module.kind, 'js')
  // answers carry Capability.v1 descriptors whole: the inline io schemas are not emptied by the response serializer
  const shoutIo = { type: 'object', required: ['text'], properties: { text: { type: 'string' } } }
  assert.deepEqual(res.body.descriptor.io, { input: shoutIo, output: shoutIo })
  const listed = await http(base0, 'GET', '/capabilities', { key: reader })
  assert.equal(listed.status, 200, JSON.stringify(listed.body))
  assert.deepEqual(listed.body.local.find((c: any) => c.cid === res.body.cid)?.descriptor, res.body.descriptor)
  // stored content-addressed, unpacked under the data dir, bound confined
  const fileCid = cidOfBytes(new TextEncoder().encode(SHOUT), RAW).toString()
  assert.ok(await mesh.nodes[0].components.store.blocks.has(fileCid), 'the upload is in the block store')
  assert.deepEqual(await uploaded(), [`${fileCid}-function.mjs`])
  const local = mesh.nodes[0].service<Discovery>('discovery').localCapabilities().find(c => c.cid === res.body.cid)
  assert.equal(local?.module?.confined, true)
  assert.equal(local?.module?.dir, join(mesh.nodes[0].components.dataDir, UPLOADED_MODULES_DIR, `${fileCid}-function.mjs`))

  await waitFor(async () => {
    const found = await http(base1, 'GET', '/capabilities/find?name=Shout&local=1', { key: submitter })
    return found.status === 200 && found.body.some((f: any) => f.cid === res.body.cid)
  }, 30_000, 'node 1 hears of Shout')
  const found = await http(base1, 'GET', '/capabilities/find?name=Shout&local=1', { key: submitter })
  assert.deepEqual(found.body.find((f: any) => f.cid === res.body.cid)?.descriptor, res.body.descriptor)

  const dsl = 'goal: Shout\ninputs:\n  text: "hello"\nplan:\n  - step: Shout(text)\n'
  const dep = await http(base1, 'POST', '/dsl-graph/shout/deploy', { key: submitter, body: { dsl, wait: true } })
  assert.equal(dep.status, 200, JSON.stringify(dep.body))
  assert.equal(dep.body.run.state, 'succeeded', JSON.stringify(dep.body.run.error ?? dep.body))
  assert.deepEqual(dep.body.output, { text: 'HELLO!' })
  const exp = await http(base1, 'GET', `/runs/${String(dep.body.runId)}/receipts`, { key: submitter })
  assert.equal(exp.status, 200, JSON.stringify(exp.body))
  verifyExport(exp.body)
  const served = exp.body.receipts.find((r: any) => r.receipt.capability === 'Shout')
  assert.ok(served != null, `a receipt names the published capability: ${JSON.stringify(exp.body.receipts.map((r: any) => r.receipt))}`)
  assert.equal(served.receipt.provider, mesh.nodes[0].peerId)
  assert.equal(served.receipt.isolation, 'sandbox', 'an uploaded module runs in the sandbox, never in a thread')
})

test('impl.like re-publishes a local capability\'s module with a new price (the mesh sees it) or under a new name (confined)', async () => {
  const d = mesh.nodes[0].service<Discovery>('discovery')
  const before = d.localCapabilities().find(c => c.descriptor.name === 'Shout')
  assert.ok(before != null)
  const res = await http(base0, 'POST', '/capabilities', { key: publisher, body: { descriptor: { ...before.descriptor, provider: undefined, module: undefined, price: 7 }, impl: { like: 'Shout' } } })
  assert.equal(res.status, 200, JSON.stringify(res.body))
  assert.notEqual(res.body.cid, before.cid)
  assert.equal(res.body.descriptor.module.cid, before.descriptor.module?.cid, 'the same code')
  assert.deepEqual(d.localCapabilities().filter(c => c.descriptor.name === 'Shout').map(c => c.cid), [res.body.cid], 'the same name and version replaces the old descriptor')
  await waitFor(async () => {
    const found = await http(base1, 'GET', '/capabilities/find?name=Shout&local=1', { key: submitter })
    return found.status === 200 && found.body.length === 1 && found.body[0].descriptor.price === 7
  }, 30_000, 'node 1 sees the new price')

  const renamed = await http(base0, 'POST', '/capabilities', { key: publisher, body: { descriptor: descriptor(), impl: { like: res.body.cid } } })
  assert.equal(renamed.status, 200, JSON.stringify(renamed.body))
  assert.equal(d.localCapabilities().find(c => c.cid === renamed.body.cid)?.module?.confined, true)
})

test('an external implementation is bound when its kind has a runner here and the operator allows its target (api.publishExternal)', async () => {
  const res = await http(base0, 'POST', '/capabilities', { key: publisher, body: { descriptor: descriptor({ name: 'AttachedEcho' }), impl: { external: { kind: 'attached', target: 'worker-1' } } } })
  assert.equal(res.status, 200, JSON.stringify(res.body))
  const local = mesh.nodes[0].service<Discovery>('discovery').localCapabilities().find(c => c.cid === res.body.cid)
  assert.deepEqual(local?.module?.external, { kind: 'attached', target: 'worker-1' })
})

test('what publishing takes, per caller; the route is in /openapi.json', async () => {
  const pub = await http(base0, 'GET', '/capabilities/publish-options', { key: publisher })
  assert.equal(pub.status, 200)
  assert.equal(pub.body.allowed, true)
  assert.equal(pub.body.python, false)
  assert.ok(pub.body.maxUploadBytes > 0 && pub.body.maxEntries > 0)
  assert.equal((await http(base0, 'GET', '/capabilities/publish-options', { key: reader })).body.allowed, false)
  const doc = await http(base0, 'GET', '/openapi.json')
  assert.equal(doc.body.paths['/capabilities'].post.operationId, 'publishCapability')
  assert.equal(doc.body.paths['/capabilities/publish-options'].get.operationId, 'capabilityPublishOptions')
  // the descriptor answers reference the protocol schema itself (protocols/schemas/Capability.v1.json)
  const ref = '#/components/schemas/pl_Capability.v1'
  assert.equal(doc.body.paths['/capabilities'].post.responses['200'].content['application/json'].schema.properties.descriptor.$ref, ref)
  assert.equal(doc.body.paths['/capabilities'].get.responses['200'].content['application/json'].schema.properties.local.items.properties.descriptor.$ref, ref)
  assert.equal(doc.body.components.schemas['pl_Capability.v1'].title, 'Capability.v1')
})

test('bad publish requests get typed errors, are counted, and leave no files behind', async () => {
  await mesh.nodes[0].service<Discovery>('discovery').publish({ name: 'NoModule', version: '1.0.0', io: { input: { type: 'object' }, output: { type: 'object' } } })
  const kept = await uploaded()
  const zip = (entries: Parameters<typeof buildZip>[0]): Record<string, unknown> => ({ descriptor: descriptor(), impl: { upload: { zip: b64(buildZip(entries)) } } })
  const many = Array.from({ length: 300 }, (_, i) => ({ name: `f${i}.txt`, data: 'x' }))
  const cases: Array<[string, Record<string, unknown>, number, string, string?]> = [
    ['zip-slip', zip([{ name: 'function.mjs', data: SHOUT }, { name: '../../evil.mjs', data: 'x' }]), 400, 'UnsafeZipPathError'],
    ['absolute path', zip([{ name: 'function.mjs', data: SHOUT }, { name: '/tmp/evil.mjs', data: 'x' }]), 400, 'UnsafeZipPathError'],
    ['symlink entry', zip([{ name: 'function.mjs', data: SHOUT }, { name: 'secrets', data: '/etc', stored: true, mode: 0o120777 }]), 400, 'ZipSymlinkError'],
    ['huge archive (declared sizes)', zip([{ name: 'function.mjs', data: SHOUT }, { name: 'a.bin', data: 'x', declaredSize: 9 * 2 ** 20 }, { name: 'b.bin', data: 'x', declaredSize: 9 * 2 ** 20 }]), 413, 'ZipTooLargeError'],
    ['too many entries', zip([{ name: 'function.mjs', data: SHOUT }, ...many]), 413, 'ZipTooLargeError'],
    ['not a ZIP', { descriptor: descriptor(), impl: { upload: { zip: b64('hello, not a zip archive at all') } } }, 400, 'ZipFormatError'],
    ['missing entry file', zip([{ name: 'main.mjs', data: SHOUT }]), 400, 'ModuleFolderError'],
    ['entry not at the root', zip([{ name: 'module/function.mjs', data: SHOUT }]), 400, 'ModuleFolderError'],
    ['not base64', { descriptor: descriptor(), impl: { upload: { file: 'function.mjs', content: 'not base64!' } } }, 400, 'InvalidModuleUploadError'],
    ['upload over its limit', { descriptor: descriptor(), impl: { upload: { file: 'function.mjs', content: b64(new Uint8Array(2 * 2 ** 20 + 1)) } } }, 400, 'InvalidModuleUploadError'],
    ['body over the route limit', { descriptor: descriptor(), impl: { upload: { file: 'function.mjs', content: 'A'.repeat(4 * 2 ** 20) } } }, 413, 'BodyTooLargeError'],
    ['a file that is no entry', { descriptor: descriptor(), impl: { upload: { file: 'run.sh', content: b64('x') } } }, 400, 'RequestValidationError'],
    ['python refused by default', { descriptor: descriptor(), impl: { upload: { file: 'function.py', content: b64('class A:\n  def eval(self, p, i, c):\n    return {}\n') } } }, 403, 'ModuleUploadRefusedError'],
    ['YAML that does not parse', { descriptor: 'name: [unclosed', impl: { like: 'Shout' } }, 400, 'InvalidDescriptorError'],
    ['descriptor not a mapping', { descriptor: '- a\n- b\n', impl: { like: 'Shout' } }, 400, 'InvalidDescriptorError'],
    ['descriptor missing its version', { descriptor: { name: 'X', io: { input: { type: 'object' }, output: { type: 'object' } } }, impl: { like: 'Shout' } }, 400, 'InvalidBodyError'],
    // under the gateway's JSON body depth (128) but over a descriptor's (64): the route's own check
    ['descriptor nested too deep', { descriptor: descriptor({ attrs: JSON.parse('{"a":'.repeat(100) + '1' + '}'.repeat(100)) }), impl: { like: 'Shout' } }, 400, 'InvalidDescriptorError'],
    // over the gateway's JSON body depth: refused by the body guard before the route parses it
    ['JSON body nested too deep', { descriptor: descriptor({ attrs: JSON.parse('{"a":'.repeat(1000) + '1' + '}'.repeat(1000)) }), impl: { like: 'Shout' } }, 400, 'RequestTooDeepError'],
    ['YAML text nested too deep', { descriptor: '['.repeat(100_000), impl: { like: 'Shout' } }, 400, 'InvalidDescriptorError'],
    ['io schema not JSON Schema', { descriptor: descriptor({ io: { input: { type: 'banana' }, output: { type: 'object' } } }), impl: { like: 'Shout' } }, 400, 'InvalidDescriptorError', 'io.input'],
    ['impl path inside the descriptor', { descriptor: DESCRIPTOR_YAML + 'impl: /etc\n', impl: { like: 'Shout' } }, 400, 'InvalidDescriptorError'],
    ['another provider', { descriptor: descriptor({ provider: mesh.nodes[1].peerId }), impl: { like: 'Shout' } }, 400, 'ProviderMismatchError'],
    ['unknown impl', { descriptor: descriptor(), impl: { like: 'NoSuchCapability' } }, 404, 'CapabilityNotFoundError'],
    ['like a capability without module', { descriptor: descriptor(), impl: { like: 'NoModule' } }, 409, 'ImplNotReusableError'],
    ['external kind the operator did not allow', { descriptor: descriptor(), impl: { external: { kind: 'a2a', target: 'http://x' } } }, 403, 'ExternalImplRefusedError'],
    ['external kind without a runner here', { descriptor: descriptor(), impl: { external: { kind: 'nosuch', target: 'x' } } }, 403, 'ExternalImplRefusedError'],
    ['external target the operator did not allow', { descriptor: descriptor(), impl: { external: { kind: 'attached', target: 'worker-2' } } }, 403, 'ExternalImplRefusedError'],
    ['malformed external kind', { descriptor: descriptor(), impl: { external: { kind: 'Bad Kind', target: 'x' } } }, 400, 'ModuleFolderError'],
    ['impl of two kinds', { descriptor: descriptor(), impl: { like: 'Shout', external: { kind: 'attached', target: 'worker-1' } } }, 400, 'RequestValidationError'],
    ['no impl', { descriptor: descriptor() }, 400, 'RequestValidationError']
  ]
  const counted = async (): Promise<Record<string, number>> => (await http(base0, 'GET', '/node', { key: publisher })).body.rejected
  const before = await counted()
  const expected: Record<string, number> = {}
  for (const [what, body, status, name, field] of cases) {
    const res = await http(base0, 'POST', '/capabilities', { key: publisher, body })
    assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`)
    assert.equal(res.body.error.name, name, `${what}: ${JSON.stringify(res.body)}`)
    if (field != null) assert.equal(res.body.error.details.field, field, what)
    expected[`gateway/${name}`] = (expected[`gateway/${name}`] ?? 0) + 1
  }
  // a body nested far deeper than JSON.stringify could build: refused, not a crash
  const deep = await http(base0, 'POST', '/capabilities', { key: publisher, raw: `{"descriptor": {"name": "Deep", "attrs": ${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}, "impl": {"like": "Shout"}}`, headers: { 'content-type': 'application/json' } })
  assert.equal(deep.status, 400, JSON.stringify(deep.body))
  assert.equal(deep.body.error.name, 'RequestTooDeepError')
  expected['gateway/RequestTooDeepError'] += 1
  const readOnly = await http(base0, 'POST', '/capabilities', { key: reader, body: { descriptor: descriptor(), impl: { like: 'Shout' } } })
  assert.equal(readOnly.status, 403)
  assert.equal(readOnly.body.error.name, 'MissingScopeError')
  expected['gateway/MissingScopeError'] = 1
  const after = await counted()
  for (const [k, n] of Object.entries(expected)) assert.equal((after[k] ?? 0) - (before[k] ?? 0), n, `counted ${k}`)
  assert.deepEqual(await uploaded(), kept, 'nothing unpacked, no temp folder left')
  assert.ok(!mesh.nodes[0].service<Discovery>('discovery').localCapabilities().some(c => c.descriptor.name === 'X'))
})

test('unpublishing an uploaded capability removes its module folder; folders other capabilities use stay', async () => {
  const code = SHOUT.replace("'!'", "'?'")
  const res = await http(base0, 'POST', '/capabilities', { key: publisher, body: { descriptor: descriptor({ name: 'Ask' }), impl: { upload: { file: 'function.mjs', content: b64(code) } } } })
  assert.equal(res.status, 200, JSON.stringify(res.body))
  const folder = `${cidOfBytes(new TextEncoder().encode(code), RAW).toString()}-function.mjs`
  const others = (await uploaded()).filter(n => n !== folder)
  assert.ok((await uploaded()).includes(folder))
  const del = await http(base0, 'DELETE', `/capabilities/${String(res.body.cid)}`, { key: publisher })
  assert.equal(del.status, 200, JSON.stringify(del.body))
  assert.deepEqual(del.body.removed, [res.body.cid])
  assert.deepEqual(await uploaded(), others, 'its folder went, the others stayed')
})
