/**
 * Retries, worker separation by memory limit, deadlines and cancellation.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ExecEvent } from '../../src/exec/types.js'
import { ModulePool } from '../../src/exec/pool.js'
import { ManualClock, callStep, dagOf, harness, survivors, writeModule } from './helpers.js'

/** A module that fails retryably on its first two attempts (counted in the file `counter`) and returns `{ attempt: 3 }` on the third. */
async function flakyModule (root: string): Promise<{ flaky: Awaited<ReturnType<typeof writeModule>>, counter: string }> {
  const counter = join(root, 'attempts.txt')
  const flaky = await writeModule(root, 'flaky', `
    import { appendFileSync, readFileSync } from 'node:fs'
    export default class {
      eval () {
        appendFileSync(${JSON.stringify(counter)}, 'x')
        const n = readFileSync(${JSON.stringify(counter)}, 'utf8').length
        if (n < 3) throw Object.assign(new Error('busy, try again'), { retryable: true })
        return { attempt: n }
      }
    }`)
  return { flaky, counter }
}

test('retryable errors are retried with backoff (default 2 retries), then the step succeeds', async () => {
  const h = await harness({ retry: { max: 2, backoff_ms: 20 } })
  try {
    const { flaky } = await flakyModule(h.root)
    const events: ExecEvent[] = []
    h.executor.on('event', (e: ExecEvent) => { events.push(e) })
    const run = await h.executor.wait(await h.executor.submit(dagOf([callStep(flaky)]), {}, { modules: { flaky } }))
    assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
    assert.deepEqual(await h.executor.output(run), { attempt: 3 })
    const { steps } = await h.executor.get(run.id)
    assert.equal(steps[0].attempts, 3)
    const failed = events.filter(e => e.type === 'pl:step:failed')
    assert.deepEqual(failed.map(f => [f.attempt, f.willRetry]), [[1, true], [2, true]])
    assert.equal(failed[0].error.retryable, true)
  } finally {
    await h.close()
  }
})

test('a retryable error that keeps failing stops after max retries; a limit breach is never retried', async () => {
  const h = await harness({ retry: { max: 2, backoff_ms: 5 } })
  try {
    const counter = join(h.root, 'always.txt')
    const always = await writeModule(h.root, 'always', `
      import { appendFileSync } from 'node:fs'
      export default class { eval () { appendFileSync(${JSON.stringify(counter)}, 'x'); throw Object.assign(new Error('still busy'), { retryable: true }) } }`)
    const run = await h.executor.wait(await h.executor.submit(dagOf([callStep(always)]), {}, { modules: { always } }))
    assert.equal(run.state, 'failed')
    assert.equal(await readFile(counter, 'utf8'), 'xxx', 'first attempt + 2 retries')

    const slowCounter = join(h.root, 'slow.txt')
    const slow = await writeModule(h.root, 'slow', `
      import { appendFileSync } from 'node:fs'
      export default class { async eval () { appendFileSync(${JSON.stringify(slowCounter)}, 'x'); await new Promise(r => setTimeout(r, 60_000)) } }`)
    const r2 = await h.executor.wait(await h.executor.submit(dagOf([callStep(slow, { limits: { wall_ms: 200 }, retry: { max: 3, backoff_ms: 5 } })]), {}, { modules: { slow } }))
    assert.equal(r2.error?.name, 'WallTimeExceededError')
    assert.equal(await readFile(slowCounter, 'utf8'), 'x')
  } finally {
    await h.close()
  }
})

test('steps with different memory limits never share a worker: one pool per heap limit, LRU-closed (isolation: thread)', async () => {
  const pool = new ModulePool({ js: { maxPools: 2 }, sandbox: { isolation: 'thread' } })
  const h = await harness({ pool })
  try {
    const probe = await writeModule(h.root, 'probe', `
      import { resourceLimits, threadId } from 'node:worker_threads'
      export default class { eval () { return { heap: resourceLimits.maxOldGenerationSizeMb, thread: threadId } } }`)
    const seen: Record<number, Set<number>> = {}
    for (const mem of [64, 96, 64, 128, 96]) {
      const run = await h.executor.wait(await h.executor.submit(dagOf([callStep(probe, { limits: { mem_mb: mem } })]), {}, { modules: { probe } }))
      const out = await h.executor.output(run) as { heap: number, thread: number }
      assert.equal(out.heap, mem, `a step with mem_mb ${mem} ran in a worker with heap limit ${out.heap}`)
      for (const [m, threads] of Object.entries(seen)) if (Number(m) !== mem) assert.ok(!threads.has(out.thread), `worker ${out.thread} served limits ${m} and ${mem}`)
      ;(seen[mem] ??= new Set()).add(out.thread)
      assert.ok(pool.js.openPools().length <= 2, `open pools: ${pool.js.openPools().join(', ')}`)
    }
    assert.deepEqual(pool.js.openPools(), [128, 96])
  } finally {
    await h.close()
    await pool.close()
  }
})

test('the run deadline kills running steps and fails the run with DeadlineExceededError', async () => {
  // the deadline expires on a manual clock once both steps said they run: however slow Python starts, both are running when it fires
  const clock = new ManualClock()
  const h = await harness({ clock })
  try {
    const marker = join(h.root, 'after-deadline.txt')
    // sleepy runs for a minute: under load a Python interpreter may take several seconds to start, and both must be running at the deadline
    const sleepy = await writeModule(h.root, 'sleepy', `
      import { writeFileSync } from 'node:fs'
      export default class { async eval (p, d, ctx) { ctx.progress(1, 1, 'running'); for (let i = 0; i < 1200; i++) await new Promise(r => setTimeout(r, 50)); writeFileSync(${JSON.stringify(marker)}, 'ran on') } }`)
    const spin = await writeModule(h.root, 'spin', 'import os\nclass S:\n    def __init__(self, *a):\n        pass\n\n    def eval(self, p, d, c):\n        c.progress(1, 1, os.readlink("/proc/self"))\n        while True:\n            pass\n', 'py')
    const running = new Map<string, string>()
    let bothRunning: () => void = () => {}
    const started = new Promise<void>((resolve) => { bothRunning = resolve })
    const onEvent = (ev: ExecEvent): void => {
      if (ev.type !== 'pl:step:progress') return
      running.set(ev.step, ev.message ?? '')
      if (running.size === 2) bothRunning()
    }
    h.executor.on('event', onEvent)
    const dag = dagOf([callStep(sleepy), callStep(spin)], { constraints: { deadline_ms: 1500 } })
    const runId = await h.executor.submit(dag, {}, { modules: { sleepy, spin } })
    await started
    h.executor.off('event', onEvent)
    clock.advance(1500)
    const run = await h.executor.wait(runId)
    assert.equal(run.state, 'failed')
    assert.equal(run.error?.name, 'DeadlineExceededError')
    const { steps } = await h.executor.get(run.id)
    for (const s of steps) {
      assert.equal(s.state, 'failed', `${s.key} is ${s.state}`)
      assert.equal(s.error?.name, 'DeadlineExceededError')
    }
    assert.equal(h.executor.pool.py.busy, 0, 'no Python process still runs a step')
    assert.deepEqual(await survivors([Number(running.get('spin'))]), [], 'the spinning Python process was killed')
    await new Promise(r => setTimeout(r, 200))
    await assert.rejects(readFile(marker), /ENOENT/, 'the JS step kept running after the deadline')
  } finally {
    await h.close()
  }
})

test('cancelling a run kills its running steps; the run ends cancelled and later steps never start', async () => {
  const h = await harness()
  try {
    const started = join(h.root, 'started.txt')
    const long = await writeModule(h.root, 'long', `
      import { writeFileSync } from 'node:fs'
      export default class { eval () { writeFileSync(${JSON.stringify(started)}, 'y'); for (;;) {} } }`)
    const next = await writeModule(h.root, 'next', 'export default class { eval () { return 1 } }')
    const runId = await h.executor.submit(dagOf([callStep(long), callStep(next, { after: ['long'] })]), {}, { modules: { long, next } })
    for (let i = 0; i < 200; i++) {
      if (await readFile(started).then(() => true, () => false)) break
      await new Promise(r => setTimeout(r, 25))
    }
    const run = await h.executor.cancel(runId)
    assert.equal(run.state, 'cancelled')
    assert.equal(run.error?.name, 'RunCancelledError')
    const { steps } = await h.executor.get(runId)
    assert.deepEqual(steps.map(s => [s.key, s.state]), [['long', 'failed']])
    await assert.rejects(h.executor.resume(runId), { name: 'RunNotResumableError' })
    // the pool still serves
    const ok = await h.executor.wait(await h.executor.submit(dagOf([callStep(next)]), {}, { modules: { next } }))
    assert.equal(ok.state, 'succeeded')
  } finally {
    await h.close()
  }
})

test('retry backoff waits on the executor\'s clock: the next attempt starts only once the clock passed it (jittered, at least half the doubled ceiling)', async () => {
  const clock = new ManualClock()
  // a minute's backoff: on the wall clock this test would time out
  const h = await harness({ clock, retry: { max: 2, backoff_ms: 60_000 } })
  try {
    const { flaky, counter } = await flakyModule(h.root)
    const failures: Array<Extract<ExecEvent, { type: 'pl:step:failed' }>> = []
    let onFailure: () => void = () => {}
    h.executor.on('event', (e: ExecEvent) => { if (e.type === 'pl:step:failed') { failures.push(e); onFailure() } })
    const nextFailure = async (n: number): Promise<void> => { while (failures.length < n) await new Promise<void>(resolve => { onFailure = resolve }) }
    const runId = await h.executor.submit(dagOf([callStep(flaky)]), {}, { modules: { flaky } })
    const attempts = async (): Promise<number> => (await readFile(counter, 'utf8').catch(() => '')).length
    for (const [n, ceiling] of [[1, 60_000], [2, 120_000]]) {
      await nextFailure(n)
      // the backoff timer is armed when the failure is emitted; half of it is fixed
      clock.advance(ceiling / 2 - 1)
      assert.equal(await attempts(), n, `attempt ${n + 1} must not start before half the backoff ceiling`)
      clock.advance(ceiling / 2 + 1)
    }
    const run = await h.executor.wait(runId)
    assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
    assert.deepEqual(await h.executor.output(run), { attempt: 3 })
  } finally {
    await h.close()
  }
})
