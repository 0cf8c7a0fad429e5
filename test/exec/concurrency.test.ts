/**
 * Executor calls racing on one run: resume twice, cancel during a resume,
 * two answers to one question.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ModuleSpec } from '../../src/core/index.js'
import type { Step } from '../../src/workflow/index.js'
import { callStep, dagOf, harness, writeModule, type Harness } from './helpers.js'

async function lines (file: string): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).split('\n').filter(l => l !== '')
  } catch {
    return []
  }
}

/** A run of one slow step, stopped while the step runs: the journal keeps it resumable. */
async function interruptedRun (h: Harness, log: string): Promise<{ h: Harness, id: string, spec: ModuleSpec }> {
  const spec = await writeModule(h.root, 'slow', `import { appendFileSync } from 'node:fs'\nexport default class { async eval (p, d, ctx) { appendFileSync(${JSON.stringify(log)}, 'attempt\\n'); await new Promise(r => setTimeout(r, 300)); return { ok: true } } }`)
  const id = await h.executor.submit(dagOf([callStep(spec)]), {}, { modules: { slow: spec } })
  while ((await lines(log)).length === 0) await new Promise(resolve => setTimeout(resolve, 10))
  return { h: await h.reopen(), id, spec }
}

test('two concurrent resume() calls of one run execute it once', async () => {
  const first = await harness()
  const log = join(first.root, 'slow.log')
  const { h, id } = await interruptedRun(first, log)
  try {
    await Promise.all([h.executor.resume(id), h.executor.resume(id)])
    const run = await h.executor.wait(id)
    assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
    assert.equal((await lines(log)).length, 2, 'the interrupted attempt and one resumed attempt')
  } finally {
    await h.close()
  }
})

test('cancel() while a resume is starting cancels the run instead of being overwritten', async () => {
  const first = await harness()
  const log = join(first.root, 'slow.log')
  const { h, id } = await interruptedRun(first, log)
  try {
    const [resumed, cancelled] = await Promise.allSettled([h.executor.resume(id), h.executor.cancel(id)])
    assert.equal(resumed.status, 'fulfilled')
    assert.equal(cancelled.status, 'fulfilled')
    assert.equal(cancelled.status === 'fulfilled' ? cancelled.value.state : '', 'cancelled')
    assert.equal(h.executor.isActive(id), false)
    assert.equal((await h.executor.get(id)).run.state, 'cancelled')
  } finally {
    await h.close()
  }
})

test('two concurrent decisions for one question: the first wins, the second fails with DecisionNotPendingError', async () => {
  const h = await harness()
  try {
    const ask: Step = { id: 'h', kind: 'human', parameters: {}, settings: {}, after: [], args: {}, limits: {}, human: { question: 'ship?', choices: ['yes', 'no'] } }
    const id = await h.executor.submit(dagOf([ask], { source: { format: 'dsl' } }), {})
    await h.executor.wait(id, { untilWaiting: true })
    const [a, b] = await Promise.allSettled([h.executor.decide(id, 'h', 'yes'), h.executor.decide(id, 'h', 'no')])
    assert.equal(a.status, 'fulfilled')
    assert.equal(b.status, 'rejected')
    assert.equal(b.status === 'rejected' ? (b.reason as Error).name : '', 'DecisionNotPendingError')
    const run = await h.executor.wait(id)
    assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
    assert.deepEqual(await h.executor.output(run), { choice: 'yes' })
  } finally {
    await h.close()
  }
})

test('get() answers a snapshot: a run read as succeeded has its steps succeeded, and an earlier answer does not change under its reader', async () => {
  const h = await harness()
  const log = join(h.root, 'slow.log')
  try {
    const spec = await writeModule(h.root, 'slow', `import { appendFileSync } from 'node:fs'\nexport default class { async eval (p, d, ctx) { appendFileSync(${JSON.stringify(log)}, 'attempt\\n'); await new Promise(r => setTimeout(r, 100)); return { ok: true } } }`)
    const id = await h.executor.submit(dagOf([callStep(spec)]), {}, { modules: { slow: spec } })
    while ((await lines(log)).length === 0) await new Promise(resolve => setTimeout(resolve, 10))
    const during = await h.executor.get(id)
    assert.equal(during.run.state, 'running')
    // poll while it ends: never a succeeded run beside an unfinished step
    for (;;) {
      const v = await h.executor.get(id)
      if (v.run.state === 'running') continue
      assert.equal(v.run.state, 'succeeded', JSON.stringify(v.run.error))
      assert.deepEqual(v.steps.map(s => s.state), ['succeeded'])
      break
    }
    await h.executor.wait(id)
    assert.equal(during.run.state, 'running', 'the earlier answer is a copy, not the live record')
    assert.equal(during.run.ended, undefined)
  } finally {
    await h.close()
  }
})
