/**
 * ModulePool without a DAG: hostile output volumes, pools opened under load,
 * processes a module leaves behind, and modules changed in place.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { moduleSpecOf, type ModuleSpec } from '../../src/core/index.js'
import { ModulePool } from '../../src/exec/pool.js'
import type { ModuleCall, ModuleResult } from '../../src/exec/types.js'
import { tempDir } from '../helpers/tmp.js'
import { ManualClock, isAlive, survivors, writeModule } from './helpers.js'

function call (limits: ModuleCall['limits'], inputData: Record<string, unknown> = {}): ModuleCall {
  return { parameters: {}, settings: {}, globalSettings: {}, globalParameters: {}, inputData, limits }
}

async function failure (p: Promise<ModuleResult>): Promise<Error & { details?: Record<string, unknown> }> {
  try {
    await p
  } catch (err) {
    return err as Error & { details?: Record<string, unknown> }
  }
  assert.fail('the call succeeded')
}

const goodPy = 'class Good:\n    def __init__(self, *a):\n        pass\n\n    def eval(self, p, d, c):\n        return {"ok": d["x"] + 1}\n'

test('a Python module writing 600 MiB to stdout without a newline does not crash the node; the next step works', async () => {
  const tmp = await tempDir('pl-pools-')
  const pool = new ModulePool()
  try {
    const spew = await writeModule(tmp.dir, 'spew', 'import os\nclass Spew:\n    def __init__(self, *a):\n        pass\n\n    def eval(self, p, d, c):\n        chunk = b"x" * (1 << 20)\n        for _ in range(600):\n            os.write(1, chunk)\n        return {"ok": True}\n', 'py')
    const out = await pool.runModule(spew, call({ wall_ms: 60_000, mem_mb: 256 }))
    assert.deepEqual(out.output, { ok: true })
    const good = await writeModule(tmp.dir, 'good', goodPy, 'py')
    assert.deepEqual((await pool.runModule(good, call({ wall_ms: 10_000, mem_mb: 256 }, { x: 41 }))).output, { ok: 42 })
  } finally {
    await pool.close()
    await tmp.cleanup()
  }
})

test('a Python output over maxMessageBytes kills its process with InvalidOutputError naming size and limit', async () => {
  const tmp = await tempDir('pl-pools-')
  const pool = new ModulePool({ python: { maxMessageBytes: 4096 } })
  try {
    const big = await writeModule(tmp.dir, 'big', 'class Big:\n    def __init__(self, *a):\n        pass\n\n    def eval(self, p, d, c):\n        return {"s": "x" * 100000}\n', 'py')
    const err = await failure(pool.runModule(big, call({ wall_ms: 10_000, mem_mb: 256 })))
    assert.equal(err.name, 'InvalidOutputError', err.message)
    assert.match(err.message, /of \d+ bytes .*over the limit of 4096 bytes/)
    assert.equal(err.details?.limit_value, 4096)
    assert.ok(Number(err.details?.measured) > 100000)
    const good = await writeModule(tmp.dir, 'good', goodPy, 'py')
    assert.deepEqual((await pool.runModule(good, call({ wall_ms: 10_000, mem_mb: 256 }, { x: 1 }))).output, { ok: 2 })
  } finally {
    await pool.close()
    await tmp.cleanup()
  }
})

test('opening a JS pool while every other pool is busy never closes the new pool under its own call', async () => {
  const tmp = await tempDir('pl-pools-')
  const pool = new ModulePool({ js: { maxPools: 4 }, sandbox: { isolation: 'thread' } })
  try {
    const slow = await writeModule(tmp.dir, 'slow', 'export default class { async eval (p, d) { await new Promise(r => setTimeout(r, 300)); return { mem: d.mem } } }')
    const mems = [100, 110, 120, 130, 140]
    const res = await Promise.allSettled(mems.map(async mem => await pool.runModule(slow, call({ wall_ms: 10_000, mem_mb: mem }, { mem }))))
    for (const [i, r] of res.entries()) {
      assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? `${String((r.reason as Error).name)}: ${String((r.reason as Error).message)}` : '')
      assert.deepEqual(r.value.output, { mem: mems[i] })
    }
    assert.ok(pool.js.openPools().length <= 4, 'idle pools beyond maxPools are closed once the calls end')
  } finally {
    await pool.close()
    await tmp.cleanup()
  }
})

test('a subprocess started by a Python module dies with its runner at the wall limit', async () => {
  const tmp = await tempDir('pl-pools-')
  // the wall limit expires on a manual clock once the module reported its subprocess, however slowly Python started
  const clock = new ManualClock()
  const pool = new ModulePool({ clock })
  let pid: number | undefined
  try {
    // the subprocess reports its own pid as this node sees it (Popen.pid is the PID namespace's number)
    const fork = await writeModule(tmp.dir, 'fork', `import subprocess, sys, time\nclass Fork:\n    def __init__(self, *a):\n        pass\n\n    def eval(self, p, d, c):\n        child = subprocess.Popen([sys.executable, "-c", "import os, time; print(os.readlink('/proc/self'), flush=True); time.sleep(60)"], stdout=subprocess.PIPE)\n        c.progress(1, 1, child.stdout.readline().decode().strip())\n        time.sleep(100)\n        return {}\n`, 'py')
    let reported: (pid: number) => void = () => {}
    const childPid = new Promise<number>((resolve) => { reported = resolve })
    const running = failure(pool.runModule(fork, call({ wall_ms: 500, mem_mb: 256 }), { onProgress: (_n, _t, message) => { reported(Number(message)) } }))
    pid = await childPid
    assert.ok(pid > 0)
    clock.advance(500)
    const err = await running
    assert.equal(err.name, 'WallTimeExceededError', err.message)
    assert.deepEqual(await survivors([pid]), [], 'the module\'s subprocess was killed with its runner')
  } finally {
    if (pid != null && await isAlive(pid)) process.kill(pid, 'SIGKILL')
    await pool.close()
    await tmp.cleanup()
  }
})

test('a JS module changed in place runs its new code under its new CID in the same worker', async () => {
  const tmp = await tempDir('pl-pools-')
  const pool = new ModulePool({ js: { maxThreads: 1 }, sandbox: { isolation: 'thread' } })
  try {
    const v1: ModuleSpec = await writeModule(tmp.dir, 'ver', 'export default class { eval () { return { v: 1 } } }')
    assert.deepEqual((await pool.runModule(v1, call({ wall_ms: 10_000, mem_mb: 64 }))).output, { v: 1 })
    await writeFile(v1.entry, 'export default class { eval () { return { v: 2 } } }')
    const v2 = await moduleSpecOf('ver', v1.dir)
    assert.notEqual(v2.cid, v1.cid)
    assert.deepEqual((await pool.runModule(v2, call({ wall_ms: 10_000, mem_mb: 64 }))).output, { v: 2 })
  } finally {
    await pool.close()
    await tmp.cleanup()
  }
})

test('a JS module that asks a question, ignores it and keeps computing is killed at its wall limit', async () => {
  const tmp = await tempDir('pl-pools-')
  const pool = new ModulePool()
  try {
    const spin = await writeModule(tmp.dir, 'spin', 'export default class { async eval (p, d, ctx) { ctx.human.ask({ question: "q" }).catch(() => {}); await new Promise(r => setTimeout(r, 20)); for (;;) {} } }')
    const err = await failure(pool.runModule(spin, call({ wall_ms: 1000, mem_mb: 64 }), { ask: async () => await new Promise<string>(() => {}) }))
    assert.equal(err.name, 'WallTimeExceededError', err.message)
    assert.equal(err.details?.limit_value, 1000)
  } finally {
    await pool.close()
    await tmp.cleanup()
  }
})

for (const kind of ['js', 'py'] as const) {
  test(`a ${kind} module idle while its question is open is not killed by the wall limit`, async () => {
    const tmp = await tempDir('pl-pools-')
    const clock = new ManualClock()
    const pool = new ModulePool({ clock })
    try {
      const source = kind === 'js'
        ? 'export default class { async eval (p, d, ctx) { return { choice: await ctx.human.ask({ question: "q", choices: ["yes"] }) } } }'
        : 'class Asker:\n    def __init__(self, *a):\n        pass\n\n    def eval(self, p, d, c):\n        return {"choice": c.human.ask("q", ["yes"])}\n'
      const asker = await writeModule(tmp.dir, 'asker', source, kind)
      // the answer arrives after twice the wall limit has passed on the step's clock
      const out = await pool.runModule(asker, call({ wall_ms: 300, mem_mb: 256 }), { ask: async () => { clock.advance(600); return 'yes' } })
      assert.deepEqual(out.output, { choice: 'yes' })
    } finally {
      await pool.close()
      await tmp.cleanup()
    }
  })
}

test('idle Python runners exit after idleMs on the pool\'s clock (a FakeClock moves it), not on the machine\'s time', async () => {
  const tmp = await tempDir('pl-pools-')
  const clock = new ManualClock()
  const pool = new ModulePool({ clock, python: { idleMs: 1_000 } })
  try {
    const good = await writeModule(tmp.dir, 'good', goodPy, 'py')
    assert.deepEqual((await pool.runModule(good, call({ wall_ms: 10_000, mem_mb: 256 }, { x: 1 }))).output, { ok: 2 })
    assert.equal(pool.py.size, 1, 'the runner is kept idle for the next step')
    clock.advance(1_000)
    assert.equal(pool.py.size, 1, 'idle for exactly idleMs: still kept')
    clock.advance(1_000)
    assert.equal(pool.py.size, 0, 'idle past idleMs: closed by the sweep')
    assert.equal(clock.pending, 0, 'with no runner left the sweep stops')
  } finally {
    await pool.close()
    await tmp.cleanup()
  }
})

test('a JS step\'s CPU time is counted in a worker thread and in a sandboxed runner (the step\'s own thread clock), never above its wall time', async () => {
  const tmp = await tempDir('pl-pools-')
  const pool = new ModulePool()
  try {
    // a fixed amount of work: its CPU time does not depend on the machine's load, only its wall time does
    const busy = await writeModule(tmp.dir, 'busy', 'export default class { eval () { let x = 0; for (let i = 0; i < 3e7; i++) x += i % 7; return { x } } }')
    for (const isolation of ['thread', 'sandbox'] as const) {
      const { usage } = await pool.runModule(busy, { ...call({ wall_ms: 60_000, mem_mb: 128 }), sandbox: { isolation } })
      assert.ok(usage.cpu_ms >= 5, `${isolation}: cpu_ms ${usage.cpu_ms}`)
      assert.ok(usage.cpu_ms <= usage.wall_ms + 1, `${isolation}: cpu_ms ${usage.cpu_ms} > wall_ms ${usage.wall_ms}`)
    }
  } finally {
    await pool.close()
    await tmp.cleanup()
  }
})
