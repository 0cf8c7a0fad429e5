/**
 * How a run's journal writes are batched (docs/PERFORMANCE.md, executor
 * third pass): the run record with the `running` records of its first
 * steps, the last step's success with the run's final record; and what a
 * resume does with a step whose records a crash left out.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Journal } from '../../src/exec/journal.js'
import type { ExecEvent, StepRunner } from '../../src/exec/types.js'
import type { Step } from '../../src/workflow/index.js'
import { callStep, dagOf, harness, writeModule } from './helpers.js'

const counting = (log: string, name: string): string => `import { appendFileSync } from 'node:fs'
export default class { eval (p, d) { appendFileSync(${JSON.stringify(log)}, '${name}'); return { ran: '${name}' } } }`

test('a 1-step run takes two journal batches: the run record with its step\'s running record, then the step\'s output and success with the run\'s final record', async () => {
  const h = await harness({ poolInit: { sandbox: { isolation: 'thread' } } })
  try {
    const log = join(h.root, 'ran.log')
    const a = await writeModule(h.root, 'a', counting(log, 'a'))
    const events: string[] = []
    h.executor.on('event', (ev: ExecEvent) => { events.push(ev.type) })
    const before = h.store.commits.stats.batches
    const run = await h.executor.wait(await h.executor.submit(dagOf([callStep(a)]), {}, { modules: { a } }))
    assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
    assert.equal(h.store.commits.stats.batches - before, 2)
    assert.deepEqual(events, ['pl:step:started', 'pl:step:finished', 'pl:run:finished'])
    // all of it is in the journal, the output blocks too
    const { run: journaled, steps } = await h.executor.get(run.id)
    assert.equal(journaled.state, 'succeeded')
    assert.deepEqual(await h.executor.output(journaled), { ran: 'a' })
    assert.deepEqual(steps.map(s => [s.key, s.state, s.attempts]), [['a', 'succeeded', 1]])
    assert.deepEqual(await h.store.blocks.get(steps[0].output as string), { ran: 'a' })
  } finally {
    await h.close()
  }
})

test('a remote step\'s receipt block goes in its step record\'s batch: a 2-step run of remote steps takes four batches, not six', async () => {
  // a runner that answers as the RemoteRunner does (on another node, its own slots) with a receipt per step
  const remote: StepRunner = {
    name: 'remote',
    ownSlots: true,
    outOfProcess: () => true,
    canRun: (step) => step.capability?.name === 'Elsewhere',
    run: async (step) => ({ output: { step: step.id }, usage: { cpu_ms: 0, wall_ms: 0, mem_peak_mb: 0 }, receipt: { receipt: { step: step.id }, sig: 'x' } })
  }
  const h = await harness({ runners: [remote] })
  try {
    const stepOf = (id: string, after: string[] = []): Step => ({ id, kind: 'call', capability: { name: 'Elsewhere' }, parameters: {}, settings: {}, after, args: {}, limits: {} })
    const before = h.store.commits.stats.batches
    const run = await h.executor.wait(await h.executor.submit(dagOf([stepOf('a'), stepOf('b', ['a'])]), {}))
    assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
    // run + a's running record; a's receipt, output and success; b's running record; b's receipt, output and success + the
    // run's end (a group commit may merge two of them, never split one: at most four; a receipt in a batch of its own made six)
    const batches = h.store.commits.stats.batches - before
    assert.ok(batches <= 4, `batches: ${batches}`)
    const { steps } = await h.executor.get(run.id)
    for (const s of steps) {
      assert.equal(s.state, 'succeeded')
      assert.deepEqual(await h.store.blocks.get(s.receipt as string), { receipt: { step: s.key }, sig: 'x' }, `the receipt block of ${s.key} is stored`)
    }
  } finally {
    await h.close()
  }
})

test('a run whose record cannot be written runs no step, leaves nothing in the journal, and its submit fails', async () => {
  const h = await harness()
  const original = Journal.prototype.putRun
  // fault injection: the journal refuses the record of a new run
  Journal.prototype.putRun = async function (this: Journal, ...args: Parameters<Journal['putRun']>) {
    if (args[0].state === 'running' && args[0].ended == null) throw Object.assign(new Error('disk full'), { name: 'DiskFullError' })
    return await original.apply(this, args)
  }
  try {
    const log = join(h.root, 'ran.log')
    const a = await writeModule(h.root, 'a', counting(log, 'a'))
    const b = await writeModule(h.root, 'b', counting(log, 'b'))
    const events: ExecEvent[] = []
    h.executor.on('event', (ev: ExecEvent) => { events.push(ev) })
    await assert.rejects(h.executor.submit(dagOf([callStep(a), callStep(b)]), {}, { modules: { a, b } }), { name: 'DiskFullError' })
    assert.deepEqual(await h.executor.list(), [])
    const steps: unknown[] = []
    for await (const s of h.store.json('exec-steps').values()) steps.push(s)
    assert.deepEqual(steps, [])
    assert.equal(await readFile(log, 'utf8').catch(() => ''), '', 'no step ran')
    assert.deepEqual(events, [])
  } finally {
    Journal.prototype.putRun = original
    await h.close()
  }
})

test('resume runs a step that has no record (a crash before its running record was written) again, never skips it', async () => {
  let h = await harness({ poolInit: { sandbox: { isolation: 'thread' } } })
  try {
    const log = join(h.root, 'ran.log')
    const a = await writeModule(h.root, 'a', counting(log, 'a'))
    const b = await writeModule(h.root, 'b', counting(log, 'b'))
    const c = await writeModule(h.root, 'c', counting(log, 'c'))
    const dag = dagOf([callStep(a), callStep(b, { after: ['a'] }), callStep(c, { after: ['a'] })])
    const runId = await h.executor.submit(dag, {}, { modules: { a, b, c } })
    assert.equal((await h.executor.wait(runId)).state, 'succeeded')
    const ran = await readFile(log, 'utf8')
    assert.equal(ran.length, 3)
    await h.stop()
    // the journal as a crash would leave it: the run unfinished, b with no record at all, c with only its running record
    const { Store } = await import('../../src/store/index.js')
    const store = await Store.open(h.dataDir)
    const journal = new Journal(store)
    const run = await journal.getRun(runId)
    const cRec = await journal.getStep(runId, 'c')
    await journal.putRun({ ...run!, state: 'running', output: undefined, ended: undefined })
    await journal.putStep({ run: runId, step: 'c', key: 'c', state: 'running', attempts: 1, started: cRec!.started })
    await store.json('exec-steps').del(`${runId}/b`)
    await store.close()

    h = await h.reopen()
    assert.deepEqual(await h.executor.resumeAll(), [runId])
    const done = await h.executor.wait(runId)
    assert.equal(done.state, 'succeeded', JSON.stringify(done.error))
    // a replayed, b and c ran again
    assert.deepEqual([...(await readFile(log, 'utf8')).slice(3)].sort(), ['b', 'c'])
    const steps = (await h.executor.get(runId)).steps
    assert.deepEqual(steps.map(s => [s.key, s.state, s.attempts]).sort(), [['a', 'succeeded', 1], ['b', 'succeeded', 1], ['c', 'succeeded', 2]])
  } finally {
    await h.close()
  }
})

test('a step whose running record cannot be written fails with the journal\'s error; in a worker thread (this process) it never starts, in its own process it ran meanwhile', async () => {
  for (const isolation of ['thread', 'sandbox'] as const) {
    const h = await harness({ poolInit: { sandbox: { isolation } } })
    const original = Journal.prototype.putStep
    // fault injection: the journal refuses b's running record
    Journal.prototype.putStep = async function (this: Journal, ...args: Parameters<Journal['putStep']>) {
      if (args[0].key === 'b' && args[0].state === 'running') throw Object.assign(new Error('disk full'), { name: 'DiskFullError' })
      return await original.apply(this, args)
    }
    try {
      const log = join(h.root, 'ran.log')
      const a = await writeModule(h.root, 'a', counting(log, 'a'))
      const b = await writeModule(h.root, 'b', counting(log, 'b'))
      const run = await h.executor.wait(await h.executor.submit(dagOf([callStep(a), callStep(b, { after: ['a'] })]), {}, { modules: { a, b } }))
      assert.equal(run.state, 'failed', isolation)
      assert.equal(run.error?.name, 'DiskFullError', isolation)
      assert.equal(await readFile(log, 'utf8'), isolation === 'thread' ? 'a' : 'ab', isolation)
    } finally {
      Journal.prototype.putStep = original
      await h.close()
    }
  }
})
