import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { loadWorkflow, dagToJson, dagFromJson, dagCid, compileDsl, dependencies, type TaskDag } from '../../src/workflow/index.js'
import { GOLDEN, fixture } from './util.js'

// UPDATE_GOLDEN=1 rewrites the expected files; review the diff before committing.
const UPDATE = process.env.UPDATE_GOLDEN === '1'

const CASES: Array<[string, string]> = [
  ['diamond-js', fixture('workflows', 'diamond-js')],
  ['diamond-py', fixture('workflows', 'diamond-py')],
  ['summarize', fixture('dsl', 'summarize.yaml')],
  ['route', fixture('dsl', 'route.yaml')]
]

async function compile (path: string): Promise<TaskDag> {
  const wf = await loadWorkflow(path)
  await wf.cleanup()
  return wf.dag
}

for (const [name, path] of CASES) {
  test(`${name} compiles to the committed golden DAG`, async () => {
    const dag = await compile(path)
    const actual = dagToJson(dag, { pretty: true })
    const file = join(GOLDEN, `${name}.dag.json`)
    if (UPDATE) {
      await mkdir(GOLDEN, { recursive: true })
      await writeFile(file, actual)
    }
    assert.equal(actual, await readFile(file, 'utf8'))
  })
}

test('summarize.yaml: fan-out over sections, a reduce and a join, with deadline, policy and select weights', async () => {
  const dag = await compile(fixture('dsl', 'summarize.yaml'))
  const steps = Object.values(dag.steps)
  assert.deepEqual(steps.map(s => [s.kind, s.capability?.name]), [['map', 'FetchSections'], ['map', 'Summarize'], ['reduce', 'MergeSummaries'], ['join', 'AttachReferences']])
  const [fetch, summarize, merge, attach] = steps
  assert.deepEqual(fetch.over, { from: 'input', name: 'doc' })
  assert.deepEqual(fetch.args, { doc: { from: 'item', step: fetch.id } })
  assert.deepEqual(summarize.over, { from: 'step', step: fetch.id })
  assert.deepEqual(summarize.args, { section: { from: 'item', step: summarize.id } })
  assert.deepEqual(merge.args, { items: { from: 'step', step: summarize.id } })
  assert.deepEqual(attach.after, [fetch.id, summarize.id, merge.id])
  assert.deepEqual(dag.outputs, [attach.id])
  assert.equal(dag.constraints.deadline_ms, 30_000)
  assert.equal(dag.constraints.length, '<400w')
  assert.deepEqual(dag.policies, ['cid:pol-PII-no-exfil'])
  assert.deepEqual(dag.select, [{ attr: 'readability', weight: 0.6 }, { attr: 'coverage', weight: 0.4 }, { attr: 'price', weight: 0.2 }])
  assert.equal(dag.mode, 'dag')
})

test('route.yaml: a branch with both arms and a bounded loop', async () => {
  const dag = await compile(fixture('dsl', 'route.yaml'))
  const branch = Object.values(dag.steps).find(s => s.kind === 'branch')!
  const loop = Object.values(dag.steps).find(s => s.kind === 'loop')!
  assert.deepEqual(branch.condition, { op: '>', left: { op: 'ref', path: ['label', 'score'] }, right: { op: 'lit', value: 0.8 } })
  assert.deepEqual(branch.then!.map(id => dag.steps[id].capability?.name), ['AutoReply'])
  assert.deepEqual(branch.else!.map(id => dag.steps[id].capability?.name), ['Escalate'])
  assert.ok([...branch.then!, ...branch.else!].every(id => dag.steps[id].parent === branch.id))
  assert.deepEqual(branch.after, ['0-classify'])
  assert.equal(loop.max, 3)
  assert.deepEqual(loop.until, { op: 'ref', path: ['review', 'ok'] })
  assert.deepEqual(loop.body!.map(id => dag.steps[id].as), ['review'])
  assert.equal(dag.constraints.deadline_ms, 10_000)
  assert.deepEqual(dag.outputs, [branch.id, loop.id])
})

test('DSL → DAG → dag-json → DAG is identical (and keeps its CID)', async () => {
  for (const file of ['summarize.yaml', 'route.yaml']) {
    const dag = compileDsl(await readFile(fixture('dsl', file), 'utf8'))
    const back = dagFromJson(dagToJson(dag))
    assert.deepStrictEqual(back, dag)
    // dag-json sorts keys; dagFromJson puts every step after the steps it depends on again
    const order = Object.keys(back.steps)
    for (const s of Object.values(back.steps)) {
      for (const d of dependencies(s)) assert.ok(order.indexOf(d) < order.indexOf(s.id), `${d} comes before ${s.id}`)
    }
    assert.equal(dagCid(back), dagCid(dag))
  }
})

test('diamond-js and diamond-py compile to the same shape with different module CIDs', async () => {
  const js = await compile(fixture('workflows', 'diamond-js'))
  const py = await compile(fixture('workflows', 'diamond-py'))
  const shape = (d: TaskDag): unknown => Object.values(d.steps).map(s => [s.id, s.after, s.capability?.name, s.limits, s.parameters])
  assert.deepEqual(shape(js), shape(py))
  assert.deepEqual(js.outputs, ['sum'])
  assert.deepEqual(js.steps.start.limits, { wall_ms: 5000, mem_mb: 64 })
  assert.deepEqual(js.globalSettings, { incr: 3 })
  assert.notEqual(js.steps.start.module!.cid, py.steps.start.module!.cid)
})
