/**
 * Nothing a step starts may outlive it: processes a JS or Python module
 * spawns die when the step is killed at its wall limit, when it ends, and
 * (Python, in a real pl-node) when the daemon itself is SIGKILLed. Wall
 * limits expire on a ManualClock once the module has reported its children,
 * so no test depends on how fast this machine starts a process.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { ModulePool } from '../../src/exec/pool.js'
import type { ModuleCall, ModuleResult } from '../../src/exec/types.js'
import { ControlClient } from '../../src/api/client.js'
import { makeBundleTemp, packBundle, sweepBundleTemps } from '../../src/workflow/index.js'
import { PL, runCli, startNodeProcess, type NodeProcess } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/mesh.js'
import { ManualClock, killAll, sandboxFsConfig, survivors, writeModule } from './helpers.js'

function call (limits: ModuleCall['limits']): ModuleCall {
  return { parameters: {}, settings: {}, globalSettings: {}, globalParameters: {}, inputData: {}, limits }
}

async function failure (p: Promise<ModuleResult>): Promise<Error & { details?: Record<string, unknown> }> {
  try {
    await p
  } catch (err) {
    return err as Error & { details?: Record<string, unknown> }
  }
  assert.fail('the call succeeded')
}

/** Resolves with the pids a module reports as the message of a progress event. */
function reportedPids (): { onProgress: (n: number, total?: number, message?: string) => void, pids: Promise<number[]> } {
  let resolve: (pids: number[]) => void = () => {}
  const pids = new Promise<number[]>((_resolve) => { resolve = _resolve })
  return { pids, onProgress: (_n, _t, message) => { if (message != null) resolve(JSON.parse(message).pids) } }
}

/**
 * Python source that starts `python3 -c` children reporting their host pid
 * (inside a PID namespace `Popen.pid` is the namespace's own number).
 */
const PY_CHILD = `import os, subprocess, sys, time
def child(**kw):
    p = subprocess.Popen([sys.executable, "-c", "import os, sys, time; print(os.readlink('/proc/self'), flush=True); sys.stdout.close(); time.sleep(600)"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, **kw)
    pid = int(p.stdout.readline())
    p.stdout.close()
    return pid
`

test('a JS module\'s child process and its grandchild die with the step at the wall limit (isolation: thread)', async () => {
  const tmp = await tempDir('pl-contain-')
  const clock = new ManualClock()
  const pool = new ModulePool({ clock, sandbox: { isolation: 'thread' } })
  let pids: number[] = []
  try {
    const mod = await writeModule(tmp.dir, 'spawner', `import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
export default class {
  async eval (p, d, ctx) {
    const sh = spawn('sh', ['-c', 'sleep 600 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] })
    const [line] = await createInterface({ input: sh.stdout })[Symbol.asyncIterator]().next().then(r => [r.value])
    ctx.progress(1, 1, JSON.stringify({ pids: [sh.pid, Number(line)] }))
    await new Promise(() => {})
  }
}
`)
    const reported = reportedPids()
    const running = failure(pool.runModule(mod, call({ wall_ms: 5000, mem_mb: 128 }), { onProgress: reported.onProgress }))
    pids = await reported.pids
    clock.advance(5000)
    const err = await running
    assert.equal(err.name, 'WallTimeExceededError', err.message)
    assert.deepEqual(await survivors(pids), [], 'processes the JS module started outlived its step')
  } finally {
    killAll(pids)
    await pool.close()
    await tmp.cleanup()
  }
})

test('a JS module\'s background child is killed when the step returns (isolation: thread)', async () => {
  const tmp = await tempDir('pl-contain-')
  const pool = new ModulePool({ sandbox: { isolation: 'thread' } })
  let pids: number[] = []
  try {
    const mod = await writeModule(tmp.dir, 'leaver', `import { spawn } from 'node:child_process'
export default class {
  eval () {
    const c = spawn('sleep', ['600'], { stdio: 'ignore', detached: true })
    c.unref()
    return { pid: c.pid }
  }
}
`)
    const { output } = await pool.runModule(mod, call({ wall_ms: 60_000, mem_mb: 128 }))
    pids = [(output as { pid: number }).pid]
    assert.deepEqual(await survivors(pids), [], 'the child the JS step left running outlived it')
  } finally {
    killAll(pids)
    await pool.close()
    await tmp.cleanup()
  }
})

test('a Python module\'s child in its own session (start_new_session) dies with the step at the wall limit', async () => {
  const tmp = await tempDir('pl-contain-')
  const clock = new ManualClock()
  const pool = new ModulePool({ clock })
  let pids: number[] = []
  try {
    const mod = await writeModule(tmp.dir, 'session', `${PY_CHILD}
class Session:
    def __init__(self, *a):
        pass

    def eval(self, p, d, c):
        pids = [child(start_new_session=True), child()]
        c.progress(1, 1, '{"pids": [%d, %d]}' % tuple(pids))
        time.sleep(1000)
`, 'py')
    const reported = reportedPids()
    const running = failure(pool.runModule(mod, call({ wall_ms: 5000, mem_mb: 256 }), { onProgress: reported.onProgress }))
    pids = await reported.pids
    clock.advance(5000)
    const err = await running
    assert.equal(err.name, 'WallTimeExceededError', err.message)
    assert.deepEqual(await survivors(pids), [], 'processes the Python module started outlived its step')
  } finally {
    killAll(pids)
    await pool.close()
    await tmp.cleanup()
  }
})

test('a warm Python runner kills what a finished step left running and serves the next step', async () => {
  const tmp = await tempDir('pl-contain-')
  const pool = new ModulePool()
  const pids: number[] = []
  try {
    const mod = await writeModule(tmp.dir, 'leaver', `${PY_CHILD}
class Leaver:
    def __init__(self, *a):
        pass

    def eval(self, p, d, c):
        return {"child": child(start_new_session=True), "runner": int(os.readlink("/proc/self"))}
`, 'py')
    const first = (await pool.runModule(mod, call({ wall_ms: 60_000, mem_mb: 256 }))).output as { child: number, runner: number }
    pids.push(first.child)
    assert.deepEqual(await survivors([first.child]), [], 'the child the Python step left running outlived it')
    const second = (await pool.runModule(mod, call({ wall_ms: 60_000, mem_mb: 256 }))).output as { child: number, runner: number }
    pids.push(second.child)
    assert.equal(second.runner, first.runner, 'the runner was reused')
    assert.equal(pool.py.size, 1)
    assert.deepEqual(await survivors([second.child]), [])
  } finally {
    killAll(pids)
    await pool.close()
    await tmp.cleanup()
  }
})

test('without a PID namespace (process-group fallback) a warm runner kills its group\'s leftovers after a step and says which mode it runs in', async () => {
  const tmp = await tempDir('pl-contain-')
  const pool = new ModulePool({ python: { containment: 'process-group' } })
  const pids: number[] = []
  try {
    assert.deepEqual((await pool.start()).python, { mode: 'process-group', reason: 'configured' })
    const mod = await writeModule(tmp.dir, 'leaver', `${PY_CHILD}
class Leaver:
    def __init__(self, *a):
        pass

    def eval(self, p, d, c):
        if p.get("orphan"):
            # sh starts sleep in the background and exits: sleep is an orphan of the step, still in its group
            out = subprocess.run(["sh", "-c", "sleep 600 </dev/null >/dev/null 2>&1 & echo $!"], capture_output=True, text=True)
            return {"child": int(out.stdout), "runner": os.getpid()}
        return {"child": child(), "runner": os.getpid()}
`, 'py')
    const first = (await pool.runModule(mod, call({ wall_ms: 60_000, mem_mb: 256 }))).output as { child: number, runner: number }
    pids.push(first.child)
    assert.deepEqual(await survivors([first.child]), [], 'the child the Python step left in its process group outlived it')
    const second = (await pool.runModule(mod, call({ wall_ms: 60_000, mem_mb: 256 }))).output as { child: number, runner: number }
    pids.push(second.child)
    assert.equal(second.runner, first.runner, 'the runner was reused')
    // an orphan: the runner (a child subreaper) inherits it, so it does not skip its walk over /proc
    const orphan = (await pool.runModule(mod, { ...call({ wall_ms: 60_000, mem_mb: 256 }), parameters: { orphan: true } })).output as { child: number, runner: number }
    pids.push(orphan.child)
    assert.deepEqual(await survivors([orphan.child]), [], 'the orphan a Python step left in its process group outlived it')
  } finally {
    killAll(pids)
    await pool.close()
    await tmp.cleanup()
  }
})

/** A one-module workflow folder; the Python module writes its children's pids to `pidFile`, then waits for `go`. */
async function pyBundle (root: string, pidFile: string, go: string): Promise<string> {
  const dir = join(root, 'bundle')
  await mkdir(join(dir, 'module_spawn'), { recursive: true })
  await writeFile(join(dir, 'module_spawn', 'function.py'), `${PY_CHILD}
class Spawn:
    def __init__(self, *a):
        pass

    def eval(self, p, d, c):
        pids = [child(), child(start_new_session=True)]
        with open(${JSON.stringify(pidFile)} + ".tmp", "w") as f:
            f.write(" ".join(str(x) for x in pids))
        os.rename(${JSON.stringify(pidFile)} + ".tmp", ${JSON.stringify(pidFile)})
        while not os.path.exists(${JSON.stringify(go)}):
            time.sleep(0.02)
        return {"done": True}
`)
  await writeFile(join(dir, 'workflow.json'), JSON.stringify({
    workflow_id: 'spawn',
    name: 'spawn',
    version: { version: '1.0.0', releaseTag: 'test' },
    description: 'one Python step that starts subprocesses',
    tags: [],
    globalSettings: {},
    globalParameters: {},
    modules: { spawn: { codePath: 'module_spawn', settings: {}, parameters: {}, name: 'spawn', description: '', tags: [], resource_requirements: {} } },
    graph: { spawn: [] }
  }))
  return dir
}

/** Starts `pl run` against the node on `dataDir` in the background (it follows the run until the node goes away). */
function submit (path: string, dataDir: string, env: NodeJS.ProcessEnv): { kill: () => void } {
  const child = spawn(process.execPath, [PL, 'run', path, '--data-dir', dataDir], { env: { ...process.env, ...env }, stdio: 'ignore' })
  return { kill: () => { if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL') } }
}

test('SIGKILL of pl-node mid-step: the subprocesses of its Python module die with it', async () => {
  const tmp = await tempDir('pl-contain-daemon-')
  const pidFile = join(tmp.dir, 'pids')
  const env = { PL_LOG_LEVEL: 'warn', TMPDIR: join(tmp.dir, 'tmp') }
  await mkdir(env.TMPDIR)
  let node: NodeProcess | undefined
  let pids: number[] = []
  let run: { kill: () => void } | undefined
  try {
    const bundle = await pyBundle(tmp.dir, pidFile, join(tmp.dir, 'go'))
    const dataDir = join(tmp.dir, 'data')
    node = await startNodeProcess(['--data-dir', dataDir], env)
    // the operator sees how steps are contained (python once the pool has probed, right after start)
    const client = await ControlClient.fromDataDir(dataDir)
    type Report = { python?: { mode: string }, js?: { isolation: string, mode: string } }
    let report: Report = {}
    await waitFor(async () => { report = await client.request<Report>('GET', '/exec/containment'); return report.python != null && report.js != null }, 30_000, 'the module pool to start')
    assert.deepEqual(report, { python: { mode: 'pid-namespace' }, js: { isolation: 'sandbox', mode: 'pid-namespace' } })
    run = submit(bundle, dataDir, env)
    await waitFor(async () => await readFile(pidFile, 'utf8').then(() => true, () => false), 60_000, 'the Python step to start its children')
    pids = (await readFile(pidFile, 'utf8')).split(' ').map(Number)
    assert.equal(pids.length, 2)
    node.proc.kill('SIGKILL')
    assert.equal(await node.stop(), null)
    assert.deepEqual(await survivors(pids), [], 'subprocesses of a step outlived the SIGKILLed daemon')
  } finally {
    run?.kill()
    killAll(pids)
    await node?.stop('SIGKILL')
    await tmp.cleanup()
  }
})


/** A ZIP bundle of one JS step that writes `started`, then waits for the file `go`. */
async function waitingZip (root: string, started: string, go: string): Promise<string> {
  const dir = join(root, 'zipsrc')
  await mkdir(join(dir, 'module_wait'), { recursive: true })
  await writeFile(join(dir, 'module_wait', 'function.mjs'), `import { existsSync, writeFileSync } from 'node:fs'
export default class {
  async eval () {
    writeFileSync(${JSON.stringify(started)}, 'y')
    while (!existsSync(${JSON.stringify(go)})) await new Promise(r => setTimeout(r, 20))
    return { done: true }
  }
}
`)
  await writeFile(join(dir, 'workflow.json'), JSON.stringify({
    workflow_id: 'wait',
    name: 'wait',
    version: { version: '1.0.0', releaseTag: 'test' },
    description: 'one JS step that waits for a go file',
    tags: [],
    globalSettings: {},
    globalParameters: {},
    modules: { wait: { codePath: 'module_wait', settings: {}, parameters: {}, name: 'wait', description: '', tags: [], resource_requirements: {} } },
    graph: { wait: [] }
  }))
  const zip = join(root, 'wait.zip')
  await writeFile(zip, await packBundle(dir))
  return zip
}

async function bundleTemps (dir: string): Promise<string[]> {
  return (await readdir(dir)).filter(n => n.startsWith('pl-bundle-'))
}

test('ZIP bundle temp folders: swept after a SIGKILLed pl-node restarts, removed when the resumed run ends and at a graceful stop', async () => {
  const tmp = await tempDir('pl-contain-zip-')
  const started = join(tmp.dir, 'started')
  const go = join(tmp.dir, 'go')
  const env = { PL_LOG_LEVEL: 'warn', TMPDIR: join(tmp.dir, 'tmp'), PL_CONFIG: await sandboxFsConfig(tmp.dir, tmp.dir) }
  await mkdir(env.TMPDIR)
  const dataDir = join(tmp.dir, 'data')
  let node: NodeProcess | undefined
  const runs: Array<{ kill: () => void }> = []
  try {
    const zip = await waitingZip(tmp.dir, started, go)
    node = await startNodeProcess(['--data-dir', dataDir], env)
    runs.push(submit(zip, dataDir, env))
    await waitFor(async () => await readFile(started).then(() => true, () => false), 60_000, 'the step to start')
    assert.equal((await bundleTemps(env.TMPDIR)).length, 1, 'the running ZIP bundle is unpacked in TMPDIR')
    node.proc.kill('SIGKILL')
    await node.stop()
    assert.equal((await bundleTemps(env.TMPDIR)).length, 1, 'a SIGKILLed node cannot clean up')

    // restart: the dead node's folder is swept, the resumed run unpacks the ZIP again and removes it when it ends
    node = await startNodeProcess(['--data-dir', dataDir], env)
    const list = await runCli(['runs', 'list', '--json', '--data-dir', dataDir], { env })
    const [run] = JSON.parse(list.stdout) as Array<{ id: string }>
    await writeFile(go, '')
    const state = async (): Promise<string | undefined> => (JSON.parse((await runCli(['runs', 'list', '--json', '--data-dir', dataDir], { env })).stdout) as Array<{ id: string, state: string }>).find(r => r.id === run.id)?.state
    await waitFor(async () => await state() !== 'running', 60_000, 'the resumed run to end')
    assert.equal(await state(), 'succeeded')
    await waitFor(async () => (await bundleTemps(env.TMPDIR)).length === 0, 30_000, 'no bundle temp folder left after the resumed run')

    // a graceful stop mid-run removes the run's folder (a resume unpacks the ZIP again)
    await rm(go)
    await rm(started)
    runs.push(submit(zip, dataDir, env))
    await waitFor(async () => await readFile(started).then(() => true, () => false), 60_000, 'the second run to start')
    assert.equal((await bundleTemps(env.TMPDIR)).length, 1)
    assert.equal(await node.stop('SIGTERM'), 0)
    assert.deepEqual(await bundleTemps(env.TMPDIR), [], 'the stopped node left its bundle temp folder')
  } finally {
    for (const r of runs) r.kill()
    await node?.stop('SIGKILL')
    await tmp.cleanup()
  }
})

test('pl run of a ZIP bundle in its own process removes the bundle temp folder when SIGTERM stops it', async () => {
  const tmp = await tempDir('pl-contain-zip-')
  const started = join(tmp.dir, 'started')
  const env = { PL_LOG_LEVEL: 'warn', TMPDIR: join(tmp.dir, 'tmp'), PL_CONFIG: await sandboxFsConfig(tmp.dir, tmp.dir) }
  await mkdir(env.TMPDIR)
  let child: ReturnType<typeof spawn> | undefined
  try {
    const zip = await waitingZip(tmp.dir, started, join(tmp.dir, 'go'))
    // no pl-node on this data dir: pl run executes the workflow itself
    child = spawn(process.execPath, [PL, 'run', zip, '--data-dir', join(tmp.dir, 'data')], { env: { ...process.env, ...env }, stdio: 'ignore' })
    const exited = new Promise<number | null>((resolve) => { child?.once('exit', (code) => { resolve(code) }) })
    await waitFor(async () => await readFile(started).then(() => true, () => false), 60_000, 'the step to start')
    assert.equal((await bundleTemps(env.TMPDIR)).length, 1)
    child.kill('SIGTERM')
    await exited
    assert.deepEqual(await bundleTemps(env.TMPDIR), [], 'pl run left its bundle temp folder')
  } finally {
    if (child?.exitCode == null && child?.signalCode == null) child?.kill('SIGKILL')
    await tmp.cleanup()
  }
})

test('sweepBundleTemps removes folders of processes that are gone and keeps those of live ones', async () => {
  const tmp = await tempDir('pl-contain-sweep-')
  try {
    const mine = await makeBundleTemp(tmp.dir)
    // a process that has exited: its pid names a folder no live process owns
    const child = spawn('true')
    const pid = child.pid as number
    await new Promise((resolve) => child.once('exit', resolve))
    const dead = join(tmp.dir, `pl-bundle-${pid}.1-abcDEF`)
    await mkdir(join(dead, 'bundle'), { recursive: true })
    // a reused pid: this process's pid with another start time
    const reused = join(tmp.dir, `pl-bundle-${process.pid}.1-abc123`)
    await mkdir(reused)
    const foreign = join(tmp.dir, 'pl-bundle-XyZ123')
    await mkdir(foreign)
    assert.deepEqual((await sweepBundleTemps(tmp.dir)).sort(), [dead, reused].sort())
    assert.deepEqual((await readdir(tmp.dir)).sort(), [basename(foreign), basename(mine)].sort())
  } finally {
    await tmp.cleanup()
  }
})
