import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ExecEvent } from '../../src/exec/types.js'
import { Journal } from '../../src/exec/journal.js'
import { callStep, dagOf, harness, writeModule } from './helpers.js'

test('a journal write that fails while a step fails is surfaced (event, metric outcome, run record), not swallowed; the run still fails with the step\'s error', async () => {
  const h = await harness()
  const original = Journal.prototype.putStep
  // fault injection: the journal refuses to record failed steps
  Journal.prototype.putStep = async function (this: Journal, ...args: Parameters<Journal['putStep']>) {
    if (args[0].state === 'failed') throw Object.assign(new Error('disk full'), { name: 'DiskFullError' })
    return await original.apply(this, args)
  }
  try {
    const boom = await writeModule(h.root, 'boom', 'export default class { eval () { throw new Error("module broke") } }')
    const events: ExecEvent[] = []
    h.executor.on('event', (ev: ExecEvent) => { events.push(ev) })
    const runId = await h.executor.submit(dagOf([callStep(boom)]), {}, { modules: { boom } })
    const run = await h.executor.wait(runId)
    assert.equal(run.state, 'failed')
    assert.match(run.error?.message ?? '', /module broke/)
    const failed = events.filter(e => e.type === 'pl:step:journal-failed')
    assert.equal(failed.length, 1, JSON.stringify(events.map(e => e.type)))
    assert.equal((failed[0] as { error: { name: string } }).error.name, 'DiskFullError')
    // the run record says so too, also once it is read back from the journal
    assert.equal(run.journal_failures, 1)
    assert.equal((await h.executor.get(runId)).run.journal_failures, 1)
  } finally {
    Journal.prototype.putStep = original
    await h.close()
  }
})
