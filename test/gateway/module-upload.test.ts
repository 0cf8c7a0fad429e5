/**
 * Uploaded modules below the route (src/gateway/module-upload.ts): Python
 * when the operator allows it, one folder per uploaded bytes (an edited
 * folder is replaced, never trusted), and the `confined` binding surviving a
 * restart (the persisted record keeps it). The HTTP route, its refusals and
 * a mesh run are in publish.test.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../helpers/tmp.js'
import { folderCid } from '../../src/core/index.js'
import { installUploadedModule, sweepUploadedModules, UPLOADED_MODULES_DIR } from '../../src/gateway/module-upload.js'
import { bindRecord } from '../../src/discovery/index.js'
import { gatewayInitFromConfig } from '../../src/gateway/service.js'
import { allowedExternal } from '../../src/gateway/publish.js'
import { ModulePool } from '../../src/exec/index.js'
import { buildZip } from '../workflow/zip-builder.js'

const b64 = (s: string | Uint8Array): string => Buffer.from(s).toString('base64')
const PY = 'class Echo:\n    def eval(self, parameters, input_data, context):\n        return input_data\n'

async function withDataDir (fn: (dir: string, blocks: Map<string, Uint8Array>) => Promise<void>): Promise<void> {
  const t = await tempDir('pl-upload-')
  const blocks = new Map<string, Uint8Array>()
  try { await fn(t.dir, blocks) } finally { await t.cleanup() }
}
const deps = (dataDir: string, blocks: Map<string, Uint8Array>): any => ({ dataDir, blocks: { putBytes: async (cid: string, b: Uint8Array) => { blocks.set(cid, b) } } })

test('a Python upload is taken when the operator allows it (its class found), refused otherwise with nothing kept', async () => {
  await withDataDir(async (dir, blocks) => {
    await assert.rejects(installUploadedModule({ file: 'function.py', content: b64(PY) }, 'Echo', deps(dir, blocks)), { name: 'ModuleUploadRefusedError' })
    assert.equal(blocks.size, 0)
    assert.deepEqual(await readdir(join(dir, UPLOADED_MODULES_DIR)), [])
    const spec = await installUploadedModule({ file: 'function.py', content: b64(PY) }, 'Echo', deps(dir, blocks), { python: true })
    assert.equal(spec.kind, 'py')
    assert.equal(spec.className, 'Echo')
    assert.equal(blocks.size, 1)
  })
})

test('the same ZIP lands in the same folder; a folder edited on disk is replaced by the uploaded content', async () => {
  await withDataDir(async (dir, blocks) => {
    const zip = b64(buildZip([{ name: 'function.mjs', data: 'export default class A { eval () { return 1 } }\n' }, { name: 'lib/util.mjs', data: 'export const x = 1\n' }]))
    const first = await installUploadedModule({ zip }, 'A', deps(dir, blocks))
    const second = await installUploadedModule({ zip }, 'A', deps(dir, blocks))
    assert.equal(second.dir, first.dir)
    assert.equal(second.cid, first.cid)
    await writeFile(join(first.dir, 'function.mjs'), 'export default class A { eval () { return "edited" } }\n')
    assert.notEqual(await folderCid(first.dir), first.cid)
    const third = await installUploadedModule({ zip }, 'A', deps(dir, blocks))
    assert.equal(third.cid, first.cid)
    assert.match(await readFile(join(third.dir, 'function.mjs'), 'utf8'), /return 1/)
    assert.deepEqual((await readdir(join(dir, UPLOADED_MODULES_DIR))).filter(n => n.startsWith('.tmp-')), [], 'no temp folder left')
  })
})

test('a confined binding survives a restart, and a confined JS module runs in the sandbox whatever the pool\'s defaults and trust list say', async () => {
  await withDataDir(async (dir, blocks) => {
    const spec = await installUploadedModule({ file: 'function.mjs', content: b64('export default class A { eval () { return 1 } }\n') }, 'A', deps(dir, blocks))
    const bound = await bindRecord({ cid: 'bafy-test', publishedAt: 0, descriptor: { name: 'A', version: '1', provider: 'p', io: { input: {}, output: {} }, limits: {}, module: { cid: spec.cid, kind: 'js' } }, impl: { dir: spec.dir, confined: true } })
    assert.equal(bound.active, true)
    assert.equal(bound.module?.confined, true)
    const pool = new ModulePool({ sandbox: { isolation: 'thread', thread: ['A', spec.cid] } })
    try {
      assert.equal(pool.isolationFor(bound.module), 'sandbox')
      assert.equal(pool.isolationFor({ ...bound.module, confined: undefined }), 'thread', 'the same module, not confined, would run in a thread')
    } finally {
      await pool.close()
    }
  })
})

test('api.publishPython must be a boolean, api.publishExternal a map of kinds to target lists', () => {
  assert.equal(gatewayInitFromConfig({ publishPython: true }).publishPython, true)
  assert.throws(() => gatewayInitFromConfig({ publishPython: 'yes' }), { name: 'GatewayConfigError' })
  assert.deepEqual(gatewayInitFromConfig({ publishExternal: { a2a: ['https://agents.example/'] } }).publishExternal, { a2a: ['https://agents.example/'] })
  assert.throws(() => gatewayInitFromConfig({ publishExternal: { a2a: 'https://agents.example/' } }), { name: 'GatewayConfigError' })
})

test('an allowed external target is exact, or a prefix ending in / (another host never matches)', () => {
  const allowed = { a2a: ['https://agents.example/', 'http://one.example/card.json'] }
  assert.equal(allowedExternal({ kind: 'a2a', target: 'https://agents.example/x/card.json' }, allowed, ['a2a']).target, 'https://agents.example/x/card.json')
  assert.equal(allowedExternal({ kind: 'a2a', target: 'http://one.example/card.json' }, allowed, ['a2a']).kind, 'a2a')
  for (const target of ['https://agents.example.evil/card.json', 'http://one.example/card.json2', 'https://agents.example']) {
    assert.throws(() => allowedExternal({ kind: 'a2a', target }, allowed, ['a2a']), { name: 'ExternalImplRefusedError' }, target)
  }
  assert.throws(() => allowedExternal({ kind: 'a2a', target: 'https://agents.example/c' }, allowed, []), { name: 'ExternalImplRefusedError' }, 'no runner')
  assert.throws(() => allowedExternal({ kind: 'constructor', target: 'x' }, allowed, ['constructor']), { name: 'ExternalImplRefusedError' }, 'not an own key')
})

const js = (n: number): { file: 'function.mjs', content: string } => ({ file: 'function.mjs', content: b64(`export default class M { eval () { return ${n} } }\n`) })

test('uploads have a quota: past it unused folders (older than the grace) are swept, else the upload is refused with UploadQuotaExceededError and nothing is kept', async () => {
  await withDataDir(async (dir, blocks) => {
    let inUse: string[] = []
    const d = { ...deps(dir, blocks), quota: { modules: 2 }, inUse: () => inUse }
    const a = await installUploadedModule(js(1), 'A', d)
    const b = await installUploadedModule(js(2), 'B', d)
    inUse = [a.dir, b.dir]
    await assert.rejects(installUploadedModule(js(3), 'C', d), { name: 'UploadQuotaExceededError' })
    assert.deepEqual((await readdir(join(dir, UPLOADED_MODULES_DIR))).sort(), [a.dir, b.dir].map(p => p.split('/').pop()).sort(), 'nothing of C kept')
    assert.equal(blocks.size, 2)
    // B unused but fresh (a publish may be about to bind it): still refused
    inUse = [a.dir]
    await assert.rejects(installUploadedModule(js(3), 'C', d), { name: 'UploadQuotaExceededError' })
    // B unused and old: swept, C taken
    const old = new Date(Date.now() - 3_600_000)
    await utimes(b.dir, old, old)
    const c = await installUploadedModule(js(3), 'C', d)
    assert.deepEqual((await readdir(join(dir, UPLOADED_MODULES_DIR))).sort(), [a.dir, c.dir].map(p => p.split('/').pop()).sort())
    // the same bytes again need no room
    inUse = [a.dir, c.dir]
    assert.equal((await installUploadedModule(js(1), 'A', d)).dir, a.dir)
    // a byte quota too
    await assert.rejects(installUploadedModule(js(4), 'D', { ...d, quota: { modules: 10, bytes: 10 } }), { name: 'UploadQuotaExceededError' })
  })
})

test('a sweep removes released folders only, old unused ones with the grace, temp folders only when asked', async () => {
  await withDataDir(async (dir, blocks) => {
    const a = await installUploadedModule(js(1), 'A', deps(dir, blocks))
    const b = await installUploadedModule(js(2), 'B', deps(dir, blocks))
    const temp = join(dir, UPLOADED_MODULES_DIR, '.tmp-crashed')
    await mkdir(temp)
    assert.deepEqual(await sweepUploadedModules(dir, [a.dir], { only: [a.dir] }), [], 'a released folder another capability uses stays')
    assert.deepEqual(await sweepUploadedModules(dir, [a.dir]), [], 'b is within the grace')
    assert.deepEqual(await sweepUploadedModules(dir, [a.dir], { minAgeMs: 0 }), [b.dir])
    assert.deepEqual(await sweepUploadedModules(dir, [], { only: [a.dir] }), [a.dir])
    assert.deepEqual(await readdir(join(dir, UPLOADED_MODULES_DIR)), ['.tmp-crashed'])
    assert.deepEqual(await sweepUploadedModules(dir, [], { temps: true }), [temp])
    assert.deepEqual(await sweepUploadedModules(join(dir, 'nothing-here'), []), [])
  })
})
