/**
 * Human decisions: a `human` step and a module's `context.human.ask` put the
 * run in `waiting-human`; the state survives a restart of the executor and
 * its Store; `decide` resumes it; a timeout follows the step's policy.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Step } from '../../src/workflow/index.js'
import { ManualClock, callStep, dagOf, harness, writeModule } from './helpers.js'

function humanStep (fields: Partial<Step> = {}): Step {
  return { id: 'approve', kind: 'human', parameters: {}, settings: {}, after: [], args: {}, limits: {}, human: { question: 'Ship it?', choices: ['yes', 'no'] }, ...fields }
}

test('a human step waits across a restart of executor and store, then decide() finishes the run', async () => {
  let h = await harness()
  try {
    const ship = await writeModule(h.root, 'ship', 'export default class { eval (p, d) { return { shipped: d.previous_outputs.approve.choice === "yes" } } }')
    const dag = dagOf([humanStep(), callStep(ship, { after: ['approve'] })])
    const runId = await h.executor.submit(dag, {}, { modules: { ship } })
    const waiting = await h.executor.wait(runId, { untilWaiting: true })
    assert.equal(waiting.state, 'waiting-human')

    h = await h.reopen()
    assert.deepEqual(await h.executor.resumeAll(), [runId])
    const again = await h.executor.wait(runId, { untilWaiting: true })
    assert.equal(again.state, 'waiting-human')
    const { steps } = await h.executor.get(runId)
    const approve = steps.find(s => s.key === 'approve')
    assert.equal(approve?.state, 'waiting-human')
    assert.deepEqual(approve?.waiting?.choices, ['yes', 'no'])

    await assert.rejects(h.executor.decide(runId, 'approve', 'maybe'), { name: 'InvalidDecisionError' })
    await assert.rejects(h.executor.decide(runId, 'ship', 'yes'), { name: 'DecisionNotPendingError' })
    await h.executor.decide(runId, 'approve', 'yes')
    const done = await h.executor.wait(runId)
    assert.equal(done.state, 'succeeded', JSON.stringify(done.error))
    assert.deepEqual(await h.executor.output(done), { shipped: true })
  } finally {
    await h.close()
  }
})

test('a decision given while no executor runs the run is applied when it resumes', async () => {
  let h = await harness()
  try {
    const dag = dagOf([humanStep()])
    const runId = await h.executor.submit(dag, {})
    await h.executor.wait(runId, { untilWaiting: true })
    h = await h.reopen()
    // decide on a journaled (not active) run: the executor resumes it
    await h.executor.decide(runId, 'approve', 'no')
    const done = await h.executor.wait(runId)
    assert.equal(done.state, 'succeeded')
    assert.deepEqual(await h.executor.output(done), { choice: 'no' })
  } finally {
    await h.close()
  }
})

for (const kind of ['js', 'py'] as const) {
  test(`context.human.ask in a ${kind} module waits, survives a restart, and the re-run gets the journaled answer`, async () => {
    // the wall limit runs on this clock: the test moves it past the limit while the step waits
    const clock = new ManualClock()
    let h = await harness({ clock })
    try {
      const src = kind === 'js'
        ? `export default class { async eval (p, d, context) {
             const a = await context.human.ask({ question: 'Which colour?', choices: ['red', 'blue'] })
             return { colour: a }
           } }`
        : 'class Ask:\n    def __init__(self, *a):\n        pass\n\n    def eval(self, p, d, context):\n        a = context.human.ask({"question": "Which colour?", "choices": ["red", "blue"]})\n        return {"colour": a}\n'
      const asker = await writeModule(h.root, 'asker', src, kind)
      const runId = await h.executor.submit(dagOf([callStep(asker, { limits: { wall_ms: 400 } })]), {}, { modules: { asker } })
      const w = await h.executor.wait(runId, { untilWaiting: true })
      assert.equal(w.state, 'waiting-human')
      const view = (await h.executor.get(runId)).steps.find(s => s.key === 'asker')
      assert.equal(view?.waiting?.question, 'Which colour?')

      h = await h.reopen()
      await h.executor.resumeAll()
      assert.equal((await h.executor.wait(runId, { untilWaiting: true })).state, 'waiting-human')
      // waiting does not count against the step's 400 ms wall limit
      clock.advance(500)
      await h.executor.decide(runId, 'asker', 'blue')
      const done = await h.executor.wait(runId)
      assert.equal(done.state, 'succeeded', JSON.stringify(done.error))
      assert.deepEqual(await h.executor.output(done), { colour: 'blue' })
    } finally {
      await h.close()
    }
  })
}

test('a human step timeout follows its policy: fail, or take a default choice', async () => {
  const h = await harness()
  try {
    const failing = await h.executor.wait(await h.executor.submit(dagOf([humanStep({ human: { question: 'Ok?', choices: ['yes', 'no'], timeout_ms: 150 } })]), {}))
    assert.equal(failing.state, 'failed')
    assert.equal(failing.error?.name, 'HumanTimeoutError')
    assert.match(failing.error?.message ?? '', /within 150 ms/)

    const defaulted = await h.executor.wait(await h.executor.submit(dagOf([humanStep({ human: { question: 'Ok?', choices: ['yes', 'no'], timeout_ms: 150, on_timeout: 'no' } })]), {}))
    assert.equal(defaulted.state, 'succeeded')
    assert.deepEqual(await h.executor.output(defaulted), { choice: 'no' })
  } finally {
    await h.close()
  }
})

test('hundreds of concurrent waits on one run (a gateway under load) resolve without piling listeners on the executor', async () => {
  const h = await harness()
  const warnings: Error[] = []
  const onWarning = (w: Error): void => { warnings.push(w) }
  process.on('warning', onWarning)
  try {
    const runId = await h.executor.submit(dagOf([humanStep()]), {})
    const listenersBefore = h.executor.listenerCount('event')
    const untilWaiting = Array.from({ length: 200 }, async () => await h.executor.wait(runId, { untilWaiting: true }))
    const untilDone = Array.from({ length: 200 }, async () => await h.executor.wait(runId))
    assert.ok(h.executor.listenerCount('event') <= listenersBefore, 'waits add no listener to the executor\'s emitter')
    for (const r of await Promise.all(untilWaiting)) assert.equal(r.state, 'waiting-human')
    await h.executor.decide(runId, 'approve', 'yes')
    for (const r of await Promise.all(untilDone)) assert.equal(r.state, 'succeeded')
    // an aborted wait stops waiting and leaves nothing behind
    const other = await h.executor.submit(dagOf([humanStep()]), {})
    await h.executor.wait(other, { untilWaiting: true })
    const ac = new AbortController()
    const aborted = h.executor.wait(other, { signal: ac.signal })
    ac.abort(new Error('caller gave up'))
    await assert.rejects(aborted, /caller gave up/)
    await h.executor.decide(other, 'approve', 'no')
    assert.equal((await h.executor.wait(other)).state, 'succeeded')
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(warnings.filter(w => w.name === 'MaxListenersExceededWarning').map(w => w.message), [])
  } finally {
    process.off('warning', onWarning)
    await h.close()
  }
})
