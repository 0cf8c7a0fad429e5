import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, rm, symlink, writeFile, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { compileWorkflowJson, loadWorkflow, folderCid } from '../../src/workflow/index.js'
import { tempDir } from '../helpers/tmp.js'
import { assertFails, copyFixture, fixture, moduleFiles, simpleDoc, writeWorkflow, JS_MODULE } from './util.js'

test('fixtures/bad/cycle.workflow.json fails with DagCycleError naming the cycle', async () => {
  await assertFails(async () => await loadWorkflow(fixture('bad', 'cycle.workflow.json')), 'DagCycleError', /^the workflow graph has a cycle: a → b → a$/)
})

test('fixtures/bad/undefined-module.workflow.json fails with UnknownGraphKeyError', async () => {
  await assertFails(async () => await loadWorkflow(fixture('bad', 'undefined-module.workflow.json')), 'UnknownGraphKeyError', /^graph key 'ghost' is not a module \(modules: a\)$/)
})

test('a downstream target that is not a module fails with UnknownDownstreamError', async () => {
  const doc = simpleDoc({ a: [] })
  ;(doc.graph as Record<string, string[]>).a = ['nowhere']
  await assertFails(() => compileWorkflowJson(doc), 'UnknownDownstreamError', /^graph entry 'a' sends its output to 'nowhere', which is not a module \(modules: a\)$/)
})

test('a longer cycle is named in flow order', async () => {
  await assertFails(() => compileWorkflowJson(simpleDoc({ s: ['a'], a: ['b'], b: ['c'], c: ['a'] })), 'DagCycleError', /cycle: a → b → c → a$/)
  await assertFails(() => compileWorkflowJson(simpleDoc({ a: ['a'] })), 'DagCycleError', /cycle: a → a$/)
})

test('a module missing from the graph fails with ModuleNotInGraphError', async () => {
  const doc = simpleDoc({ a: [] })
  ;(doc.modules as Record<string, unknown>).lonely = { codePath: 'module_lonely', name: 'lonely' }
  await assertFails(() => compileWorkflowJson(doc), 'ModuleNotInGraphError', /^module 'lonely' is declared but not in the graph/)
})

test('a document that does not match Workflow.v1 fails with WorkflowSchemaError', async () => {
  await assertFails(() => compileWorkflowJson({ modules: {} }), 'WorkflowSchemaError', /must have required property 'graph'/)
  await assertFails(() => compileWorkflowJson([1]), 'WorkflowSchemaError', /must be a JSON object, got a list/)
  await assertFails(() => compileWorkflowJson({ modules: { a: { codePath: 3 } }, graph: { a: [] } }), 'WorkflowSchemaError', /codePath must be string/)
})

test('several sinks are all outputs; upstream order follows the modules', () => {
  const dag = compileWorkflowJson(simpleDoc({ a: ['x', 'y'], x: [], y: [] }))
  assert.deepEqual(dag.outputs, ['a', 'x', 'y'].filter(k => k !== 'a'))
  assert.deepEqual(Object.keys(dag.steps), ['a', 'x', 'y'])
  assert.equal(dag.mode, 'dag')
})

test('resource_requirements become limits; common spellings are read; nonsense is refused', async () => {
  const dag = compileWorkflowJson(simpleDoc({ a: ['b'], b: ['c'], c: [] }, {
    a: { resource_requirements: { timeout: '30s', memory: '512MB', gpu: 1, cpu: 2 } },
    b: { resource_requirements: { wall_ms: 1500, cpu_time: 'PT2S', mem_mb: 64 } },
    c: { resource_requirements: { timeout: '1.5m', memory: '1GiB' } }
  }))
  assert.deepEqual(dag.steps.a.limits, { wall_ms: 30_000, mem_mb: 489 })
  assert.deepEqual(dag.steps.b.limits, { wall_ms: 1500, cpu_ms: 2000, mem_mb: 64 })
  assert.deepEqual(dag.steps.c.limits, { wall_ms: 90_000, mem_mb: 1024 })
  await assertFails(() => compileWorkflowJson(simpleDoc({ a: [] }, { a: { resource_requirements: { memory: 'lots' } } })), 'ResourceRequirementError', /^module 'a': resource_requirements.memory = "lots" is not a positive size/)
  await assertFails(() => compileWorkflowJson(simpleDoc({ a: [] }, { a: { resource_requirements: { wall_ms: -5 } } })), 'ResourceRequirementError', /wall_ms = -5 is not a positive duration/)
  await assertFails(() => compileWorkflowJson(simpleDoc({ a: [] }, { a: { resource_requirements: { timeout: '3 fortnights' } } })), 'ResourceRequirementError', /timeout = "3 fortnights"/)
  await assertFails(() => compileWorkflowJson(simpleDoc({ a: [] }, { a: { resource_requirements: { wall_ms: 5, timeout: '5s' } } })), 'ResourceRequirementError', /sets the same limit twice \(wall_ms, timeout\)/)
})

test('router mode: a router module with an empty graph, bounded iterations', async () => {
  const doc = simpleDoc({ router: [], a: [], b: [] })
  const dag = compileWorkflowJson(doc)
  assert.equal(dag.mode, 'router')
  assert.deepEqual(dag.router, { step: 'router', max_iterations: 20 })
  assert.deepEqual(dag.outputs, ['a', 'b'])
  assert.equal(compileWorkflowJson(doc, undefined, { maxRouterIterations: 5 }).router!.max_iterations, 5)
  await assertFails(() => compileWorkflowJson(doc, undefined, { maxRouterIterations: 0 }), 'LoopBoundError', /maxRouterIterations must be an integer from 1/)
  // a router with real graph edges is an ordinary DAG
  assert.equal(compileWorkflowJson(simpleDoc({ router: ['a'], a: [] })).mode, 'dag')
  // modules need not be listed in an empty router graph
  const sparse = { ...doc, graph: {} }
  assert.equal(compileWorkflowJson(sparse).mode, 'router')
})

test('a missing module folder fails with ModuleFolderMissingError', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    await writeWorkflow(dir, simpleDoc({ a: ['b'], b: [] }), moduleFiles(['a']))
    await assertFails(async () => await loadWorkflow(dir), 'ModuleFolderMissingError', /^module 'b': folder module_b does not exist in /)
  } finally { await cleanup() }
})

test('a module folder without function.mjs/js/py fails with ModuleEntryMissingError', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    await writeWorkflow(dir, simpleDoc({ a: [] }), { 'module_a/README.md': 'no code here' })
    await assertFails(async () => await loadWorkflow(dir), 'ModuleEntryMissingError', /^module 'a': folder module_a has none of function.mjs, function.js, function.py$/)
  } finally { await cleanup() }
})

test('a codePath escaping the bundle fails with CodePathEscapeError', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    const root = join(dir, 'wf')
    await writeFile(join(dir, 'outside.mjs'), JS_MODULE)
    await mkdir(join(dir, 'outside'))
    await writeFile(join(dir, 'outside', 'function.mjs'), JS_MODULE)
    for (const codePath of ['../outside', '/etc', 'module_a/../../outside']) {
      await writeWorkflow(root, simpleDoc({ a: [] }, { a: { codePath } }), moduleFiles(['a']))
      await assertFails(async () => await loadWorkflow(root), 'CodePathEscapeError', /^module 'a': codePath .* (leaves the bundle|is an absolute path)/)
    }
    // through a symlink
    await symlink(join(dir, 'outside'), join(root, 'linked'))
    await writeWorkflow(root, simpleDoc({ a: [] }, { a: { codePath: 'linked' } }))
    await assertFails(async () => await loadWorkflow(root), 'CodePathEscapeError', /leads outside the bundle through a symlink/)
  } finally { await cleanup() }
})

test('codePath may name any folder inside the bundle; Python className is passed through', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    await writeWorkflow(dir, simpleDoc({ a: [] }, { a: { codePath: 'code/a', className: 'Second' } }), {
      'code/a/function.py': 'class First:\n    pass\n\nclass Second:\n    def eval(self, p, i, c):\n        return {}\n'
    })
    const wf = await loadWorkflow(dir)
    assert.equal(wf.bundle!.modules.a.className, 'Second')
    assert.equal(wf.bundle!.modules.a.kind, 'py')
    assert.equal(wf.dag.steps.a.module!.cid, await folderCid(join(dir, 'code', 'a')))
  } finally { await cleanup() }
})

test('loadWorkflow: missing paths, folders without workflow.json, unknown file types, bad JSON', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    await assertFails(async () => await loadWorkflow(join(dir, 'nope')), 'WorkflowNotFoundError', /^no workflow at /)
    await assertFails(async () => await loadWorkflow(dir), 'WorkflowNotFoundError', /has no workflow.json$/)
    await writeFile(join(dir, 'x.txt'), 'hi')
    await assertFails(async () => await loadWorkflow(join(dir, 'x.txt')), 'WorkflowNotFoundError', /expected a folder with workflow.json, a workflow.json file, a .zip bundle or a .yaml plan/)
    await writeFile(join(dir, 'workflow.json'), '{ "modules": ')
    await assertFails(async () => await loadWorkflow(dir), 'WorkflowParseError', /workflow.json is not valid JSON/)
  } finally { await cleanup() }
})

test('a workflow.json file loads like its folder', async () => {
  const a = await loadWorkflow(fixture('workflows', 'diamond-js'))
  const b = await loadWorkflow(fixture('workflows', 'diamond-js', 'workflow.json'))
  assert.deepStrictEqual(b.dag, a.dag)
})

test('changing a module file changes its CID and the DAG', async () => {
  const { dir, cleanup } = await copyFixture('diamond-js')
  try {
    const before = await loadWorkflow(dir)
    const file = join(dir, 'module_inc', 'function.mjs')
    await writeFile(file, (await readFile(file, 'utf8')) + '\n// changed\n')
    const after = await loadWorkflow(dir)
    assert.notEqual(after.dag.steps.inc.module!.cid, before.dag.steps.inc.module!.cid)
    assert.equal(after.dag.steps.sum.module!.cid, before.dag.steps.sum.module!.cid)
    assert.notEqual(after.bundle!.manifestCid, before.bundle!.manifestCid)
    await rm(join(dir, 'module_inc'), { recursive: true })
    await assertFails(async () => await loadWorkflow(dir), 'ModuleFolderMissingError', /module 'inc'/)
  } finally { await cleanup() }
})

test('loadWorkflow honours an aborted signal', async () => {
  const ac = new AbortController()
  ac.abort()
  await assertFails(async () => await loadWorkflow(fixture('workflows', 'diamond-js'), { signal: ac.signal }), 'AbortError', /abort/i)
})
