/**
 * A runner process reused for many steps must not keep what each finished
 * step held (its options: signal, callbacks, logger). Each step used to chain
 * `exited.then(...)` on the long-lived process, so every step's closures
 * stayed reachable until the process exited: the providers' heap grew per
 * step in the 5 runs/s soak (docs/PERFORMANCE.md "Soak tail, issue 16 fourth
 * pass", RSS).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { gcFunction } from '../../src/cli/index.js'
import { ModulePool } from '../../src/exec/pool.js'
import type { ModuleCall, ModuleCallOptions } from '../../src/exec/types.js'
import type { ModuleSpec } from '../../src/core/index.js'
import { tempDir } from '../helpers/tmp.js'
import { writeModule } from './helpers.js'

function call (x: number): ModuleCall {
  return { parameters: {}, settings: {}, globalSettings: {}, globalParameters: {}, inputData: { x }, limits: { wall_ms: 30_000, mem_mb: 256 } }
}

/** Runs one step with its own options object; returns a weak reference to those options and the runner's pid. */
async function stepWithOptions (pool: ModulePool, spec: ModuleSpec, x: number): Promise<{ ref: WeakRef<ModuleCallOptions>, pid: unknown }> {
  const options: ModuleCallOptions = { signal: new AbortController().signal, onProgress: () => {} }
  const out = await pool.runModule(spec, call(x), options)
  assert.equal((out.output as { y: number }).y, x + 1)
  return { ref: new WeakRef(options), pid: (out.output as { pid: unknown }).pid }
}

async function assertOptionsReleased (pool: ModulePool, spec: ModuleSpec): Promise<void> {
  const first = await stepWithOptions(pool, spec, 1)
  const second = await stepWithOptions(pool, spec, 2)
  assert.equal(second.pid, first.pid, 'both steps ran in the same runner process (it was reused)')
  // let the steps' last microtasks and the current job end: WeakRef targets are kept alive until then
  await new Promise((resolve) => { setImmediate(resolve) })
  gcFunction()()
  assert.equal(first.ref.deref(), undefined, 'the first step\'s options were collected while its runner lives on')
  assert.equal(second.ref.deref(), undefined, 'the second step\'s options were collected while its runner lives on')
}

test('a reused Python runner does not hold a finished step\'s options until it exits', async () => {
  const tmp = await tempDir('pl-retention-')
  const pool = new ModulePool()
  try {
    const spec = await writeModule(tmp.dir, 'inc', 'import os\nclass Inc:\n    def __init__(self, *a):\n        pass\n\n    def eval(self, p, d, c):\n        return {"y": d["x"] + 1, "pid": os.getpid()}\n', 'py')
    await assertOptionsReleased(pool, spec)
  } finally {
    await pool.close()
    await tmp.cleanup()
  }
})

test('a reused sandboxed JS runner does not hold a finished step\'s options until it exits', async () => {
  const tmp = await tempDir('pl-retention-')
  const pool = new ModulePool({ sandbox: { isolation: 'sandbox' } })
  try {
    const spec = await writeModule(tmp.dir, 'inc', 'export default class { eval (p, d) { return { y: d.x + 1, pid: process.pid } } }')
    await assertOptionsReleased(pool, spec)
  } finally {
    await pool.close()
    await tmp.cleanup()
  }
})
