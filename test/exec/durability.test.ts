/**
 * Durable runs in-process: stop the executor mid-run, reopen, resume —
 * finished steps are replayed from the journal, not run again.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Journal } from '../../src/exec/journal.js'
import { waitFor } from '../helpers/mesh.js'
import { callStep, dagOf, harness, writeModule } from './helpers.js'

async function counterModules (root: string): Promise<{ counter: string, go: string, a: any, b: any, c: any }> {
  const counter = join(root, 'counter.txt')
  const go = join(root, 'go')
  const mod = (name: string, wait: boolean): string => `import { appendFileSync, existsSync } from 'node:fs'
    export default class { async eval () {
      appendFileSync(${JSON.stringify(counter)}, '${name}')
      ${wait ? `while (!existsSync(${JSON.stringify(go)})) await new Promise(r => setTimeout(r, 20))` : ''}
      return '${name}'
    } }`
  return { counter, go, a: await writeModule(root, 'a', mod('a', false)), b: await writeModule(root, 'b', mod('b', true)), c: await writeModule(root, 'c', mod('c', false)) }
}

test('stopping the executor mid-run keeps the run resumable; resume replays finished steps without running them', async () => {
  let h = await harness()
  try {
    const { counter, go, a, b, c } = await counterModules(h.root)
    const dag = dagOf([callStep(a), callStep(b, { after: ['a'] }), callStep(c, { after: ['b'] })])
    const runId = await h.executor.submit(dag, {}, { modules: { a, b, c } })
    await waitFor(async () => (await readFile(counter, 'utf8').catch(() => '')) === 'ab', 10_000, 'step b to start')
    await assert.rejects(Promise.all([h.executor.wait(runId), h.executor.stop()]), { name: 'ExecutorStoppedError' })

    h = await h.reopen()
    const { run, steps } = await h.executor.get(runId)
    assert.equal(run.state, 'running')
    assert.deepEqual(steps.map(s => [s.key, s.state, s.attempts]).sort(), [['a', 'succeeded', 1], ['b', 'running', 0]])
    await writeFile(go, '')
    assert.deepEqual(await h.executor.resumeAll(), [runId])
    const done = await h.executor.wait(runId)
    assert.equal(done.state, 'succeeded', JSON.stringify(done.error))
    assert.equal(await h.executor.output(done), 'c')
    assert.equal(await readFile(counter, 'utf8'), 'abbc')
    assert.deepEqual(await h.executor.resumeAll(), [], 'nothing left to resume')
  } finally {
    await h.close()
  }
})

test('a step interrupted more often than its retry policy allows fails with StepInterruptedError on resume', async () => {
  let h = await harness()
  try {
    const { counter, a, b, c } = await counterModules(h.root)
    const dag = dagOf([callStep(a), callStep(b, { after: ['a'], retry: { max: 1, backoff_ms: 5 } }), callStep(c, { after: ['b'] })])
    const runId = await h.executor.submit(dag, {}, { modules: { a, b, c } })
    await waitFor(async () => (await readFile(counter, 'utf8').catch(() => '')) === 'ab', 10_000, 'step b to start')
    await h.stop()
    // as if the process had died twice while b was running (a crash leaves no chance to write)
    const { Store } = await import('../../src/store/index.js')
    const store = await Store.open(h.dataDir)
    const journal = new Journal(store)
    const rec = await journal.getStep(runId, 'b')
    await journal.putStep({ ...rec!, state: 'running', attempts: 2 })
    await store.close()

    h = await h.reopen()
    await h.executor.resume(runId)
    const done = await h.executor.wait(runId)
    assert.equal(done.state, 'failed')
    assert.equal(done.error?.name, 'StepInterruptedError')
    assert.match(done.error?.message ?? '', /interrupted 2 times/)
  } finally {
    await h.close()
  }
})

test('resume refuses a bundle whose module changed since the run started (ModuleChangedError)', async () => {
  let h = await harness()
  try {
    const { counter, a, b, c } = await counterModules(h.root)
    const dag = dagOf([callStep(a), callStep(b, { after: ['a'] }), callStep(c, { after: ['b'] })])
    const runId = await h.executor.submit(dag, {}, { modules: { a, b, c } })
    await waitFor(async () => (await readFile(counter, 'utf8').catch(() => '')) === 'ab', 10_000, 'step b to start')
    h = await h.reopen()
    await writeFile(join(c.dir, 'function.mjs'), 'export default class { eval () { return "changed" } }')
    await assert.rejects(h.executor.resume(runId), { name: 'ModuleChangedError' })
    await assert.rejects(h.executor.get('nope'), { name: 'RunNotFoundError' })
  } finally {
    await h.close()
  }
})

test('an unfinished run that served a call (a composite\'s inner run) is cancelled at resumeAll with RunOrphanedError; the other runs resume', async () => {
  let h = await harness()
  try {
    const { counter, go, a, b, c } = await counterModules(h.root)
    const dag = dagOf([callStep(a), callStep(b, { after: ['a'] }), callStep(c, { after: ['b'] })])
    const inner = await h.executor.submit(dag, {}, { modules: { a, b, c }, serves: 'r-outer/brief' })
    await waitFor(async () => (await readFile(counter, 'utf8').catch(() => '')).includes('b'), 10_000, 'step b to start')
    const plain = await h.executor.submit(dagOf([callStep(b)]), {}, { modules: { b } })
    await waitFor(async () => (await readFile(counter, 'utf8').catch(() => '')).split('b').length >= 3, 10_000, 'the plain run\'s step to start')
    await h.executor.stop()
    h = await h.reopen()
    await writeFile(go, '')
    assert.deepEqual(await h.executor.resumeAll(), [plain])
    const orphan = (await h.executor.get(inner)).run
    assert.equal(orphan.state, 'cancelled')
    assert.equal(orphan.error?.name, 'RunOrphanedError')
    assert.match(orphan.error?.message ?? '', /r-outer\/brief/)
    assert.equal((await h.executor.wait(plain)).state, 'succeeded')
    // its remaining step never ran: a then b, once each, before the stop; b once more for the plain run
    assert.equal((await readFile(counter, 'utf8')).includes('c'), false)
  } finally {
    await h.close()
  }
})
