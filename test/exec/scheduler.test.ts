import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import type { ExecEvent } from '../../src/exec/types.js'
import { compileDsl } from '../../src/workflow/index.js'
import { tempDir } from '../helpers/tmp.js'
import { callStep, dagOf, fixtureBundle, harness, writeModule } from './helpers.js'

const roots: Array<() => Promise<void>> = []
after(async () => { for (const cleanup of roots) await cleanup() })

/** A temp folder removed after the file's tests. */
async function tmpRoot (): Promise<string> {
  const t = await tempDir('pl-sched-')
  roots.push(t.cleanup)
  return t.dir
}

for (const kind of ['js', 'py'] as const) {
  test(`runs the diamond-${kind} bundle to {number: 18} and journals every step with usage`, async () => {
    const h = await harness()
    try {
      const { dag, modules } = await fixtureBundle(`diamond-${kind}`, h.root)
      const events: ExecEvent[] = []
      h.executor.on('event', (e: ExecEvent) => { events.push(e) })
      const runId = await h.executor.submit(dag, { number: 5 }, { modules })
      const run = await h.executor.wait(runId)
      assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
      assert.deepEqual(await h.executor.output(run), { number: 18 })
      const { steps } = await h.executor.get(runId)
      assert.deepEqual(steps.map(s => s.key).sort(), ['dbl', 'inc', 'start', 'sum'])
      for (const s of steps) {
        assert.equal(s.state, 'succeeded')
        assert.equal(s.runner, 'local')
        assert.ok(s.usage != null, `usage of ${s.key}`)
        for (const k of ['cpu_ms', 'wall_ms', 'mem_peak_mb'] as const) assert.ok(typeof s.usage[k] === 'number' && s.usage[k] >= 0, `${s.key}.usage.${k}`)
        assert.ok(s.usage.mem_peak_mb > 0, `${s.key} measured its memory`)
        assert.deepEqual(await h.store.blocks.get(s.output as string), { number: { start: 5, inc: 8, dbl: 10, sum: 18 }[s.key] })
      }
      const types = events.filter(e => e.runId === runId).map(e => e.type)
      assert.equal(types.filter(t => t === 'pl:step:started').length, 4)
      assert.equal(types.filter(t => t === 'pl:step:finished').length, 4)
      assert.equal(types.at(-1), 'pl:run:finished')
      // sum waited for both inc and dbl
      const order = events.filter(e => e.type === 'pl:step:finished').map(e => (e as { key: string }).key)
      assert.equal(order.at(-1), 'sum')
      assert.equal(order[0], 'start')
    } finally {
      await h.close()
    }
  })
}

test('map fans out per element and flattens list outputs; reduce gets the list as items; join sees both', async () => {
  const h = await harness()
  try {
    const split = await writeModule(h.root, 'split', 'export default class { eval (p, d) { return d.text.split(" ") } }')
    const twice = await writeModule(h.root, 'twice', 'export default class { eval (p, d) { return [d.word, d.word.toUpperCase()] } }')
    const count = await writeModule(h.root, 'count', 'export default class { eval (p, d) { return { n: d.items.length, first: d.items[0] } } }')
    const join = await writeModule(h.root, 'join', 'export default class { eval (p, d) { return { total: d.count.n, words: d.split.length } } }')
    const dag = dagOf([
      callStep(split, { kind: 'map', over: { from: 'input', name: 'text' }, args: { text: { from: 'item', step: 'split' } } }),
      callStep(twice, { kind: 'map', after: ['split'], over: { from: 'step', step: 'split' }, args: { word: { from: 'item', step: 'twice' } } }),
      callStep(count, { kind: 'reduce', after: ['twice'], args: { items: { from: 'step', step: 'twice' } } }),
      callStep(join, { kind: 'join', after: ['split', 'count'], args: { count: { from: 'step', step: 'count' }, split: { from: 'step', step: 'split' } } })
    ], { inputs: { text: 'a b c' } })
    const runId = await h.executor.submit(dag, {}, { modules: { split, twice, count, join } })
    const run = await h.executor.wait(runId)
    assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
    assert.deepEqual(await h.executor.output(run), { total: 6, words: 3 })
    const { steps } = await h.executor.get(runId)
    const twiceRec = steps.find(s => s.key === 'twice')
    assert.deepEqual(await h.store.blocks.get(twiceRec?.output as string), ['a', 'A', 'b', 'B', 'c', 'C'])
    assert.deepEqual(steps.filter(s => s.key.startsWith('twice[')).map(s => s.key).sort(), ['twice[0]', 'twice[1]', 'twice[2]'])
  } finally {
    await h.close()
  }
})

test('a map over a non-list value runs once; several sinks give a keyed result', async () => {
  const h = await harness()
  try {
    const echo = await writeModule(h.root, 'echo', 'export default class { eval (p, d) { return { got: d.x } } }')
    const other = await writeModule(h.root, 'other', 'export default class { eval () { return 7 } }')
    const dag = dagOf([
      callStep(echo, { kind: 'map', over: { from: 'input', name: 'one' }, args: { x: { from: 'item', step: 'echo' } } }),
      callStep(other)
    ], { inputs: { one: 'solo' } })
    const run = await h.executor.wait(await h.executor.submit(dag, {}, { modules: { echo, other } }))
    assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
    assert.deepEqual(await h.executor.output(run), { echo: [{ got: 'solo' }], other: 7 })
  } finally {
    await h.close()
  }
})

test('a branch runs only the chosen arm and skips the other; a loop stops when until holds', async () => {
  const h = await harness()
  try {
    const classify = await writeModule(h.root, 'classify', 'export default class { eval (p, d) { return { score: d.score } } }')
    const auto = await writeModule(h.root, 'auto', 'export default class { eval () { return "auto" } }')
    const esc = await writeModule(h.root, 'esc', 'export default class { eval () { return "escalated" } }')
    const review = await writeModule(h.root, 'review', `
      let n = 0
      export default class { eval () { n++; return { ok: n >= 2, n } } }`)
    const steps = [
      callStep(classify, { as: 'label' }),
      { id: 'when', kind: 'branch' as const, parameters: {}, settings: {}, after: ['classify'], args: {}, limits: {}, condition: { op: '>' as const, left: { op: 'ref' as const, path: ['label', 'score'] }, right: { op: 'lit' as const, value: 0.8 } }, then: ['auto'], else: ['esc'] },
      callStep(auto, { parent: 'when' }),
      callStep(esc, { parent: 'when' }),
      { id: 'loop', kind: 'loop' as const, parameters: {}, settings: {}, after: ['when'], args: {}, limits: {}, body: ['review'], max: 5, until: { op: 'ref' as const, path: ['rev', 'ok'] } },
      callStep(review, { parent: 'loop', as: 'rev' })
    ]
    const dag = dagOf(steps, { outputs: ['when', 'loop'], inputs: { score: 0 } })
    const modules = { classify, auto, esc, review }
    const run = await h.executor.wait(await h.executor.submit(dag, { score: 0.9 }, { modules }))
    assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
    assert.deepEqual(await h.executor.output(run), { when: { branch: 'then' }, loop: { iterations: 2, last: { ok: true, n: 2 } } })
    const { steps: recs } = await h.executor.get(run.id)
    const byKey = Object.fromEntries(recs.map(r => [r.key, r]))
    assert.equal(byKey.auto.state, 'succeeded')
    assert.equal(byKey.esc.state, 'skipped')
    assert.deepEqual(Object.keys(byKey).filter(k => k.startsWith('review')).sort(), ['review@0', 'review@1'])

    const run2 = await h.executor.wait(await h.executor.submit(dag, { score: 0.1 }, { modules }))
    assert.equal(run2.state, 'succeeded')
    const recs2 = Object.fromEntries((await h.executor.get(run2.id)).steps.map(r => [r.key, r]))
    assert.equal(recs2.auto.state, 'skipped')
    assert.equal(recs2.esc.state, 'succeeded')
  } finally {
    await h.close()
  }
})

test('router mode runs the steps the router picks until it returns next: null, bounded by max_iterations', async () => {
  const h = await harness()
  try {
    const router = await writeModule(h.root, 'router', `export default class {
      eval (p, d) {
        const prev = d.previous_outputs
        if (prev.add == null) return { next: 'add' }
        if (prev.add.n < 3) return { next: ['add'] }
        return { next: null }
      }
    }`)
    const add = await writeModule(h.root, 'add', 'export default class { eval (p, d) { return { n: (d.previous_outputs.add?.n ?? 0) + 1 } } }')
    const dag = dagOf([callStep(router), callStep(add)], { mode: 'router', router: { step: 'router', max_iterations: 10 }, outputs: ['add'] })
    const run = await h.executor.wait(await h.executor.submit(dag, {}, { modules: { router, add } }))
    assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
    assert.deepEqual(await h.executor.output(run), { n: 3 })

    const bounded = await h.executor.wait(await h.executor.submit({ ...dag, router: { step: 'router', max_iterations: 2 } }, {}, { modules: { router, add } }))
    assert.equal(bounded.state, 'failed')
    assert.equal(bounded.error?.name, 'RouterLimitExceededError')
    assert.match(bounded.error?.message ?? '', /more than 2 rounds/)

    const liar = await writeModule(h.root, 'liar', 'export default class { eval () { return { next: "nowhere" } } }')
    const bad = dagOf([callStep(liar), callStep(add)], { mode: 'router', router: { step: 'liar', max_iterations: 3 }, outputs: ['add'] })
    const r3 = await h.executor.wait(await h.executor.submit(bad, {}, { modules: { liar, add } }))
    assert.equal(r3.error?.name, 'RouterError')
    assert.match(r3.error?.message ?? '', /nowhere/)
  } finally {
    await h.close()
  }
})

test('run input values cid:<CID> in the block store become the document; other cid: strings stay', async () => {
  const h = await harness()
  try {
    const echo = await writeModule(h.root, 'echo', 'export default class { eval (p, d) { return { doc: d.doc, name: d.name } } }')
    const cid = await h.store.blocks.put({ title: 'hello', parts: [1, 2] })
    const run = await h.executor.wait(await h.executor.submit(dagOf([callStep(echo)]), { doc: `cid:${cid}`, name: 'cid:doc-123' }, { modules: { echo } }))
    assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
    assert.deepEqual(await h.executor.output(run), { doc: { title: 'hello', parts: [1, 2] }, name: 'cid:doc-123' })
  } finally {
    await h.close()
  }
})

test('a step with no module and no local capability fails with NoRunnerError; localCapabilities runs DSL steps', async () => {
  const h = await harness()
  try {
    const up = await writeModule(h.root, 'up', 'export default class { eval (p, d) { return d.s.toUpperCase() } }')
    const step = { id: 'shout', kind: 'call' as const, capability: { name: 'Shout' }, parameters: {}, settings: {}, after: [], args: { s: { from: 'input' as const, name: 's' } }, limits: {} }
    const dag = dagOf([step], { source: { format: 'dsl' }, inputs: { s: 'x' } })
    const failed = await h.executor.wait(await h.executor.submit(dag, { s: 'hey' }))
    assert.equal(failed.error?.name, 'NoRunnerError')
    assert.match(failed.error?.message ?? '', /Shout/)
    await h.stop()

    const h2 = await harness({ localCapabilities: (name) => name === 'Shout' ? up : undefined })
    try {
      const ok = await h2.executor.wait(await h2.executor.submit(dag, { s: 'hey' }))
      assert.equal(ok.state, 'succeeded', JSON.stringify(ok.error))
      assert.equal(await h2.executor.output(ok), 'HEY')
    } finally {
      await h2.close()
    }
  } finally {
    await h.close()
  }
})

test('a step nested in a branch inside a loop waits for the loop body step it reads, per iteration', async () => {
  const a = await writeModule(await tmpRoot(), 'a', 'let n = 0\nexport default class { eval () { n++; return { x: 1, n } } }')
  const t = await writeModule(await tmpRoot(), 't', 'export default class { eval (p, d) { return { got: d } } }')
  const h = await harness({ localCapabilities: (name) => name === 'A' ? a : name === 'T' ? t : undefined })
  try {
    const dag = compileDsl('goal: LoopWhen\nplan:\n  - loop:\n      max: 2\n      do:\n        - step: A()\n          as: a\n        - when: a.x > 0\n          then:\n            - step: T(a)\n')
    const run = await h.executor.wait(await h.executor.submit(dag, {}))
    assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
    const { steps } = await h.executor.get(run.id)
    const state = Object.fromEntries(steps.map(s => [s.key, s.state]))
    const calls = Object.values(dag.steps).filter(s => s.kind === 'call').map(s => s.id)
    assert.equal(calls.length, 2)
    for (const id of calls) for (const i of [0, 1]) assert.equal(state[`${id}@${i}`], 'succeeded', `${id}@${i} in ${JSON.stringify(state)}`)
  } finally {
    await h.close()
  }
})
