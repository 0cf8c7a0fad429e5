/**
 * The JS sandbox (src/exec/sandbox): modules run in Node runner processes,
 * each the PID 1 of its own PID namespace, under Node's permission model.
 * What the permission model refuses fails typed and the pool keeps serving;
 * a granted child process (even in a new session) dies with its step; a
 * Python module's `start_new_session` child dies with its step; per-step
 * temp folders are removed after the step (also one that threw or was
 * killed; a JS step that never reads `context.tmpdir` gets none) and swept
 * after a crash.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ModulePool } from '../../src/exec/pool.js'
import type { ModuleSpec } from '../../src/core/index.js'
import type { ModuleResult } from '../../src/exec/types.js'
import { tempDir } from '../helpers/tmp.js'
import { ManualClock, killAll, survivors, writeModule } from './helpers.js'
import { call, failure, pidsWith } from './sandbox-helpers.js'

/** A unique `sleep` argument: the sleeper is found by it in /proc. */
function sleeperMarker (): string {
  return String(100_000 + Math.floor(Math.random() * 800_000))
}

test('the permission model refuses a child process, a read outside the module folder and a write outside the temp folder: SandboxAccessDeniedError, and the pool keeps serving', async () => {
  const tmp = await tempDir('pl-sandbox-')
  const pool = new ModulePool()
  try {
    const mod = await writeModule(tmp.dir, 'probe', `import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
export default class {
  eval (p) {
    if (p.what === 'spawn') spawn('sleep', ['1'])
    if (p.what === 'read') readFileSync('/etc/hostname')
    if (p.what === 'write') writeFileSync(${JSON.stringify(join(tmp.dir, 'escape'))}, 'x')
    return { ok: true }
  }
}
`)
    const expected: Record<string, string> = { spawn: 'ChildProcess', read: 'FileSystemRead', write: 'FileSystemWrite' }
    for (const [what, permission] of Object.entries(expected)) {
      const err = await failure(pool.runModule(mod, call(undefined, { parameters: { what } })))
      assert.equal(err.name, 'SandboxAccessDeniedError', `${what}: ${err.name}: ${err.message}`)
      assert.equal(err.details?.permission, permission)
    }
    assert.equal(existsSync(join(tmp.dir, 'escape')), false)
    const ok = await pool.runModule(mod, call(undefined, { parameters: { what: 'nothing' } }))
    assert.deepEqual(ok.output, { ok: true })
    assert.equal(ok.isolation, 'sandbox')
  } finally {
    await pool.close()
    await tmp.cleanup()
  }
})

test('a module asking for child processes the operator did not grant fails with SandboxGrantRefusedError before it runs', async () => {
  const tmp = await tempDir('pl-sandbox-')
  const pool = new ModulePool({ sandbox: { grants: { other: ['child-process'] } } })
  try {
    const mod: ModuleSpec = { ...await writeModule(tmp.dir, 'asker', 'export default class { eval () { return {} } }'), permissions: ['child-process'] }
    const err = await failure(pool.runModule(mod, call()))
    assert.equal(err.name, 'SandboxGrantRefusedError')
    assert.deepEqual(err.details?.refused, ['child-process'])
    assert.equal(pool.sandbox.size, 0, 'no runner was started')
  } finally {
    await pool.close()
    await tmp.cleanup()
  }
})

/** Runs a module that starts `sleep <marker>` and returns: the sleeper must not outlive the step. */
async function returnsLeavingNothing (pool: ModulePool, mod: ModuleSpec, marker: string): Promise<ModuleResult> {
  const out = await pool.runModule(mod, call())
  assert.deepEqual(out.output, { spawned: true })
  assert.deepEqual(await survivors(await pidsWith(marker)), [], 'the sleeper outlived its step')
  return out
}

/** A JS module that starts `sleep <marker>` in a new session (detached) and reports when it runs; with `hang` it never returns. */
function sleeperModule (marker: string, hang: boolean): string {
  return `import { spawn } from 'node:child_process'
export default class {
  async eval (p, d, ctx) {
    const child = spawn('sleep', [${JSON.stringify(marker)}], { detached: true, stdio: 'ignore' })
    child.unref()
    await new Promise((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject) })
    ctx.progress(1, 1, 'spawned')
    ${hang ? 'await new Promise(() => {})' : ''}
    return { spawned: true }
  }
}
`
}

test('granted child processes: a sleeper in its own session dies when the step returns', async () => {
  const tmp = await tempDir('pl-sandbox-')
  const pool = new ModulePool({ sandbox: { grants: { leaver: ['child-process'] } } })
  const marker = sleeperMarker()
  try {
    // the module returns once its sleeper runs
    const mod: ModuleSpec = { ...await writeModule(tmp.dir, 'leaver', sleeperModule(marker, false)), permissions: ['child-process'] }
    const out = await returnsLeavingNothing(pool, mod, marker)
    assert.deepEqual(out.permissions, ['child-process'], 'the granted permissions are reported (they go in the receipt)')
  } finally {
    killAll(await pidsWith(marker))
    await pool.close()
    await tmp.cleanup()
  }
})

test('granted child processes: a sleeper in its own session dies with the step at the wall limit', async () => {
  const tmp = await tempDir('pl-sandbox-')
  const clock = new ManualClock()
  const pool = new ModulePool({ clock, sandbox: { grants: { hanger: ['child-process'] } } })
  const marker = sleeperMarker()
  let pids: number[] = []
  try {
    const mod: ModuleSpec = { ...await writeModule(tmp.dir, 'hanger', sleeperModule(marker, true)), permissions: ['child-process'] }
    let spawned: () => void = () => {}
    const running = new Promise<void>((resolve) => { spawned = resolve })
    const result = failure(pool.runModule(mod, call({ wall_ms: 1000, mem_mb: 128 }), { onProgress: () => { spawned() } }))
    await running
    pids = await pidsWith(marker)
    assert.equal(pids.length, 1, 'the sleeper runs')
    clock.advance(1000)
    const err = await result
    assert.equal(err.name, 'WallTimeExceededError', err.message)
    assert.deepEqual(await survivors(pids), [], 'the sleeper outlived its step')
  } finally {
    killAll(pids)
    await pool.close()
    await tmp.cleanup()
  }
})

test('a Python module\'s Popen(start_new_session=True) sleeper dies when the step returns', async () => {
  const tmp = await tempDir('pl-sandbox-')
  const pool = new ModulePool()
  const marker = sleeperMarker()
  try {
    const mod = await writeModule(tmp.dir, 'setsid', `import subprocess
class Setsid:
    def __init__(self, *a):
        pass

    def eval(self, p, d, c):
        subprocess.Popen(["sleep", ${JSON.stringify(marker)}], start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        c.progress(1, 1, "spawned")
        return {"spawned": True}
`, 'py')
    assert.equal((await returnsLeavingNothing(pool, mod, marker)).isolation, 'process')
  } finally {
    killAll(await pidsWith(marker))
    await pool.close()
    await tmp.cleanup()
  }
})

for (const kind of ['js', 'py'] as const) {
  test(`a ${kind} step gets its own temp folder (context.tmpdir), removed after the step`, async () => {
    const tmp = await tempDir('pl-sandbox-')
    const tmpRoot = join(tmp.dir, 'steps')
    const pool = new ModulePool({ tmpRoot })
    try {
      const mod = kind === 'js'
        ? await writeModule(tmp.dir, 'tmpjs', `import { writeFileSync, readFileSync } from 'node:fs'
export default class { eval (p, d, ctx) { writeFileSync(ctx.tmpdir + '/scratch', 'kept during the step'); return { dir: ctx.tmpdir, back: readFileSync(ctx.tmpdir + '/scratch', 'utf8') } } }`)
        : await writeModule(tmp.dir, 'tmppy', `import os
class T:
    def __init__(self, *a):
        pass

    def eval(self, p, d, c):
        with open(os.path.join(c.tmpdir, "scratch"), "w") as f:
            f.write("kept during the step")
        with open(os.path.join(c.tmpdir, "scratch")) as f:
            return {"dir": c.tmpdir, "back": f.read()}
`, 'py')
      const dirs: string[] = []
      for (let i = 0; i < 2; i++) {
        const { output } = await pool.runModule(mod, call())
        const out = output as { dir: string, back: string }
        assert.equal(out.back, 'kept during the step')
        assert.ok(out.dir.startsWith(join(tmpRoot, String(process.pid))), out.dir)
        assert.equal(existsSync(out.dir), false, 'the step folder is removed after the step')
        dirs.push(out.dir)
      }
      assert.notEqual(dirs[0], dirs[1], 'each step has a fresh folder')
    } finally {
      await pool.close()
      await tmp.cleanup()
    }
  })
}

/** Step folders (`step-*`) anywhere under `root`. */
async function stepFolders (root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true }).catch(() => [] as string[])
  return entries.filter(e => /(^|\/)step-[^/]*$/.test(e))
}

for (const isolation of ['sandbox', 'thread'] as const) {
  test(`a JS step (${isolation}) that made its temp folder and then threw, or was killed at its wall limit, leaves no folder; one that never read context.tmpdir gets none`, async () => {
    const tmp = await tempDir('pl-sandbox-')
    const tmpRoot = join(tmp.dir, 'steps')
    const pool = new ModulePool({ tmpRoot })
    const extra = { sandbox: { isolation } }
    try {
      const mod = await writeModule(tmp.dir, 'tmpfail', `import { readdirSync, writeFileSync } from 'node:fs'
export default class {
  eval (p, d, ctx) {
    // the step folders that exist while this step runs (a thread may read anywhere; the sandbox may not)
    if (p.what === 'none') return { steps: p.root == null ? null : readdirSync(p.root, { recursive: true }).filter(e => /step-/.test(e)) }
    writeFileSync(ctx.tmpdir + '/scratch', 'x')
    if (p.what === 'throw') throw new Error('failed in ' + ctx.tmpdir)
    for (;;) {}
  }
}`)
      const none = await pool.runModule(mod, call(undefined, { ...extra, parameters: { what: 'none', ...(isolation === 'thread' ? { root: tmpRoot } : {}) } }))
      assert.deepEqual(none.output, { steps: isolation === 'thread' ? [] : null }, 'no folder is made for a step that does not read context.tmpdir')
      assert.deepEqual(await stepFolders(tmpRoot), [])
      const thrown = await failure(pool.runModule(mod, call(undefined, { ...extra, parameters: { what: 'throw' } })))
      const dir = /failed in (\S+)/.exec(thrown.message)?.[1] ?? ''
      assert.ok(dir.startsWith(join(tmpRoot, String(process.pid))), thrown.message)
      assert.equal(existsSync(dir), false, 'the folder of a step that threw is removed')
      const killed = await failure(pool.runModule(mod, call({ wall_ms: 500, mem_mb: 128 }, { ...extra, parameters: { what: 'loop' } })))
      assert.equal(killed.name, 'WallTimeExceededError')
      assert.deepEqual(await stepFolders(tmpRoot), [], 'no step folder is left after a kill')
    } finally {
      await pool.close()
      await tmp.cleanup()
    }
  })
}

test('a Python step that never reads context.tmpdir gets no folder; one that made it and then raised, or was killed at its wall limit, leaves none', async () => {
  const tmp = await tempDir('pl-sandbox-')
  const tmpRoot = join(tmp.dir, 'steps')
  const pool = new ModulePool({ tmpRoot })
  try {
    const mod = await writeModule(tmp.dir, 'tmppyfail', `import os
class T:
    def __init__(self, *a):
        pass

    def eval(self, p, d, c):
        if p.get("what") == "none":
            return {"steps": [n for _, dirs, _ in os.walk(p["root"]) for n in dirs if n.startswith("step-")]}
        with open(os.path.join(c.tmpdir, "scratch"), "w") as f:
            f.write("x")
        if p.get("what") == "raise":
            raise ValueError("failed in " + c.tmpdir)
        while True:
            pass
`, 'py')
    const none = await pool.runModule(mod, call(undefined, { parameters: { what: 'none', root: tmpRoot } }))
    assert.deepEqual(none.output, { steps: [] }, 'no folder is made for a step that does not read context.tmpdir')
    const raised = await failure(pool.runModule(mod, call(undefined, { parameters: { what: 'raise' } })))
    const dir = /failed in (\S+)/.exec(raised.message)?.[1] ?? ''
    assert.ok(dir.startsWith(join(tmpRoot, String(process.pid))), raised.message)
    assert.equal(existsSync(dir), false, 'the folder of a step that raised is removed')
    const killed = await failure(pool.runModule(mod, call({ wall_ms: 500, mem_mb: 128 }, { parameters: { what: 'loop' } })))
    assert.equal(killed.name, 'WallTimeExceededError')
    assert.deepEqual(await stepFolders(tmpRoot), [], 'no step folder is left after a kill')
  } finally {
    await pool.close()
    await tmp.cleanup()
  }
})

test('start() sweeps the step folders of a node process that is gone and keeps those of live ones', async () => {
  const tmp = await tempDir('pl-sandbox-')
  const tmpRoot = join(tmp.dir, 'steps')
  // a pid no process has: above the kernel's pid_max
  const deadPid = Number((await readFile('/proc/sys/kernel/pid_max', 'utf8')).trim()) + 1
  const dead = join(tmpRoot, String(deadPid), 'js1', 'step-left')
  const live = join(tmpRoot, String(process.ppid), 'js1', 'step-live')
  await mkdir(dead, { recursive: true })
  await mkdir(live, { recursive: true })
  await writeFile(join(dead, 'f'), 'left by a crash')
  const pool = new ModulePool({ tmpRoot })
  try {
    await pool.start()
    assert.equal(existsSync(join(tmpRoot, String(deadPid))), false, 'the crashed node\'s folders are swept')
    assert.equal(existsSync(live), true, 'a live node\'s folders are kept')
  } finally {
    await pool.close()
    await tmp.cleanup()
  }
})

test('isolation: thread runs a trusted module in the worker-thread pool; the default and network: none use the sandbox', async () => {
  const tmp = await tempDir('pl-sandbox-')
  const pool = new ModulePool({ sandbox: { thread: ['trusted'] } })
  try {
    const source = 'export default class { eval () { return { pid: process.pid } } }'
    const trusted = await writeModule(tmp.dir, 'trusted', source)
    const other = await writeModule(tmp.dir, 'other', source)
    const inThread = await pool.runModule(trusted, call())
    assert.equal(inThread.isolation, 'thread')
    assert.deepEqual(inThread.output, { pid: process.pid })
    const sandboxed = await pool.runModule(other, call())
    assert.equal(sandboxed.isolation, 'sandbox')
    assert.deepEqual(sandboxed.output, { pid: 1 }, 'the runner is the init of its own PID namespace')
    const netless = await pool.runModule(trusted, call(undefined, { sandbox: { network: 'none' } }))
    assert.equal(netless.isolation, 'sandbox-no-net', 'a trusted module under network: none still runs in the sandbox')
  } finally {
    await pool.close()
    await tmp.cleanup()
  }
})
