/**
 * Remote steps and the executor's slots: a runner that bounds its own steps
 * (`ownSlots`, as the RemoteRunner does) runs them beside the executor's
 * `concurrency` limit, which is sized for local CPU work; any other runner's
 * steps still take a slot each.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { StepRunner } from '../../src/exec/types.js'
import type { Step } from '../../src/workflow/index.js'
import { RemoteRunner } from '../../src/negotiation/remote-runner.js'
import { silentLogger } from '../../src/core/logger.js'
import { dagOf, harness } from '../exec/helpers.js'
import { remoteDelegate } from '../../src/services.js'

function stepOf (id: string): Step {
  return { id, kind: 'call', capability: { name: 'Elsewhere' }, parameters: {}, settings: {}, after: [], args: {}, limits: {} }
}

/** A runner of `Elsewhere` steps that records how many of its steps run at once; `gate` decides when a step may end. */
function countingRunner (ownSlots: boolean, gate: (running: number) => Promise<void>): StepRunner & { max: number } {
  let running = 0
  const r = {
    name: 'counting',
    ownSlots,
    max: 0,
    canRun: (step: Step) => step.capability?.name === 'Elsewhere',
    run: async (step: Step) => {
      running++
      r.max = Math.max(r.max, running)
      try {
        await gate(running)
        return { output: { step: step.id }, usage: { cpu_ms: 0, wall_ms: 0, mem_peak_mb: 0 } }
      } finally {
        running--
      }
    }
  }
  return r
}

test('the RemoteRunner bounds its own steps', () => {
  // only the flag is read here: the runner is never started
  const runner = new RemoteRunner({ logger: silentLogger() } as unknown as ConstructorParameters<typeof RemoteRunner>[0], {} as unknown as ConstructorParameters<typeof RemoteRunner>[1])
  assert.equal(runner.ownSlots, true)
})

test('steps of a runner with ownSlots run beside a concurrency of 1', async () => {
  // each step ends only once all three run at the same time: with one executor slot each this would never finish
  const all = Promise.withResolvers<void>()
  const runner = countingRunner(true, async (running) => { if (running === 3) all.resolve(); await all.promise })
  const h = await harness({ concurrency: 1, runners: [runner] })
  try {
    const id = await h.executor.submit(dagOf([stepOf('a'), stepOf('b'), stepOf('c')]), {})
    const run = await h.executor.wait(id)
    assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
    assert.equal(runner.max, 3)
  } finally {
    await h.close()
  }
})

test('the daemon\'s remote delegate carries its runner\'s ownSlots and outOfProcess', () => {
  const runner = new RemoteRunner({ logger: silentLogger() } as unknown as ConstructorParameters<typeof RemoteRunner>[0], {} as unknown as ConstructorParameters<typeof RemoteRunner>[1])
  const delegate = remoteDelegate({ negotiation: { runner } })
  assert.equal(delegate.ownSlots, true)
  assert.equal(delegate.outOfProcess?.(stepOf('a'), { runId: 'r', dag: dagOf([stepOf('a')]), modules: {} }), true)
  // before negotiation is up: no runner, nothing claimed
  const early = remoteDelegate({})
  assert.equal(early.ownSlots, false)
})

test('a daemon-configured executor runs more remote steps at once than its concurrency', async () => {
  // the executor is wired as daemonServices wires it: its only runner is the remote delegate, here over a
  // runner that bounds its own steps (as the RemoteRunner does); each step ends only once all four run together
  const all = Promise.withResolvers<void>()
  const runner = countingRunner(true, async (running) => { if (running === 4) all.resolve(); await all.promise })
  const h = await harness({ concurrency: 2, runners: [remoteDelegate({ negotiation: { runner: runner as unknown as RemoteRunner } })] })
  try {
    const id = await h.executor.submit(dagOf([stepOf('a'), stepOf('b'), stepOf('c'), stepOf('d')]), {})
    const run = await h.executor.wait(id)
    assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
    assert.equal(runner.max, 4)
  } finally {
    await h.close()
  }
})

test('steps of any other runner take one of the executor slots each', async () => {
  const runner = countingRunner(false, async () => { for (let i = 0; i < 5; i++) await new Promise(resolve => setImmediate(resolve)) })
  const h = await harness({ concurrency: 1, runners: [runner] })
  try {
    const id = await h.executor.submit(dagOf([stepOf('a'), stepOf('b'), stepOf('c')]), {})
    const run = await h.executor.wait(id)
    assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
    assert.equal(runner.max, 1)
  } finally {
    await h.close()
  }
})
