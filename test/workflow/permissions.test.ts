/**
 * A workflow.json module asks for sandbox permissions in its module entry
 * (`permissions: ["child-process"]`), as a capability descriptor's impl
 * does; the operator's `sandbox.grants` (by module CID or key) decides. Real
 * runs on the executor with sandboxed Node runner processes: refused with
 * SandboxGrantRefusedError without the grant, run with it; a module that
 * does not ask cannot spawn at all; malformed requests are schema errors.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadFolder } from '../../src/workflow/folder.js'
import { harness } from '../exec/helpers.js'
import { tempDir } from '../helpers/tmp.js'

const SPAWNER = `import { execFileSync } from 'node:child_process'
export default class Spawner {
  eval () {
    return { out: execFileSync('echo', ['from a child process']).toString().trim() }
  }
}
`

async function bundle (root: string, name: string, permissions: unknown): Promise<string> {
  const dir = join(root, name)
  await mkdir(join(dir, 'module_spawn'), { recursive: true })
  await writeFile(join(dir, 'module_spawn', 'function.mjs'), SPAWNER)
  await writeFile(join(dir, 'workflow.json'), JSON.stringify({
    workflow_id: name,
    name,
    version: { version: '1.0.0', releaseTag: 'test' },
    description: 'a module that starts a child process',
    tags: [],
    globalSettings: {},
    globalParameters: {},
    modules: { spawn: { codePath: 'module_spawn', settings: {}, parameters: {}, name: 'spawn', description: '', tags: [], resource_requirements: { wall_ms: 30_000, mem_mb: 128 }, ...(permissions !== undefined ? { permissions } : {}) } },
    graph: { spawn: [] }
  }))
  return dir
}

test('a bundle module that asks for child processes is refused without the operator\'s grant and runs with it', async (t) => {
  const tmp = await tempDir('pl-wf-perms-')
  t.after(tmp.cleanup)
  const { dag, modules } = await loadFolder(await bundle(tmp.dir, 'asks', ['child-process']))
  assert.deepEqual(modules.spawn.permissions, ['child-process'])

  const refused = await harness({}, { root: join(tmp.dir, 'h1'), cleanup: async () => {} })
  try {
    const run = await refused.executor.wait(await refused.executor.submit(dag, {}, { modules }))
    assert.equal(run.state, 'failed')
    const step = (await refused.executor.get(run.id)).steps.find(s => s.key === 'spawn')
    assert.equal(step?.error?.name, 'SandboxGrantRefusedError', JSON.stringify(step?.error))
    assert.deepEqual(step?.error?.details?.refused, ['child-process'])
  } finally {
    await refused.stop()
  }

  const granted = await harness({ poolInit: { sandbox: { grants: { [modules.spawn.cid]: ['child-process'] } } } }, { root: join(tmp.dir, 'h2'), cleanup: async () => {} })
  try {
    const run = await granted.executor.wait(await granted.executor.submit(dag, {}, { modules }))
    assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
    assert.deepEqual(await granted.executor.output(run), { out: 'from a child process' })
  } finally {
    await granted.stop()
  }
})

test('a bundle module that does not ask cannot start a child process, even where the operator would grant it', async (t) => {
  const tmp = await tempDir('pl-wf-perms-')
  t.after(tmp.cleanup)
  const { dag, modules } = await loadFolder(await bundle(tmp.dir, 'silent', undefined))
  assert.equal(modules.spawn.permissions, undefined)
  const h = await harness({ poolInit: { sandbox: { grants: { spawn: ['child-process'] } } } }, { root: join(tmp.dir, 'h'), cleanup: async () => {} })
  try {
    const run = await h.executor.wait(await h.executor.submit(dag, {}, { modules }))
    assert.equal(run.state, 'failed')
    const step = (await h.executor.get(run.id)).steps.find(s => s.key === 'spawn')
    assert.equal(step?.error?.name, 'SandboxAccessDeniedError', JSON.stringify(step?.error))
  } finally {
    await h.stop()
  }
})

test('permissions that are not a list of sandbox permissions are a WorkflowSchemaError', async (t) => {
  const tmp = await tempDir('pl-wf-perms-')
  t.after(tmp.cleanup)
  for (const [name, permissions] of [['unknown', ['root']], ['not-a-list', 'child-process'], ['not-strings', [1]]] as const) {
    await assert.rejects(loadFolder(await bundle(tmp.dir, name, permissions)), (err: Error) => {
      assert.equal(err.name, 'WorkflowSchemaError')
      assert.match(err.message, /modules\.spawn\.permissions must be a list of sandbox permissions/)
      return true
    }, name)
  }
})
