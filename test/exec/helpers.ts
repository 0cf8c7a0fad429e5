/**
 * Test helpers for the executor: fixture bundles copied to temp dirs,
 * modules written from source text, hand-built DAGs, and an Executor on a
 * fresh Store that is closed by `close()`.
 */
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { moduleSpecOf, type ModuleSpec } from '../../src/core/index.js'
import { Store } from '../../src/store/index.js'
import { loadFolder, type Step, type TaskDag } from '../../src/workflow/index.js'
import { Executor, type ExecutorInit } from '../../src/exec/executor.js'
import { FakeClock } from '../../src/core/clock.js'
import { tempDir } from '../helpers/tmp.js'
import { fixture } from '../workflow/util.js'

export { FIXTURES } from '../workflow/util.js'

/** Copies a fixture workflow folder into `into` and loads it. */
export async function fixtureBundle (name: string, into: string): Promise<{ dir: string, dag: TaskDag, modules: Record<string, ModuleSpec> }> {
  const dir = join(into, name)
  await cp(fixture('workflows', name), dir, { recursive: true })
  const { dag, modules } = await loadFolder(dir)
  return { dir, dag, modules }
}

/** Writes a module folder with one entry file and describes it. */
export async function writeModule (root: string, key: string, source: string, kind: 'js' | 'py' = 'js'): Promise<ModuleSpec> {
  const dir = join(root, `module_${key}`)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, kind === 'js' ? 'function.mjs' : 'function.py'), source)
  return await moduleSpecOf(key, dir)
}

/** A call step running module `key` (pinned to its CID). */
export function callStep (spec: ModuleSpec, fields: Partial<Step> = {}): Step {
  return { id: spec.key, kind: 'call', module: { key: spec.key, cid: spec.cid }, capability: { name: spec.key }, parameters: {}, settings: {}, after: [], args: {}, limits: {}, ...fields }
}

export function dagOf (steps: Step[], fields: Partial<TaskDag> = {}): TaskDag {
  const sinks = steps.filter(s => s.parent == null && !steps.some(o => o.after.includes(s.id))).map(s => s.id)
  return {
    v: 1,
    name: 'test',
    source: { format: 'workflow.json' },
    mode: 'dag',
    inputs: {},
    constraints: {},
    policies: [],
    select: [],
    globalSettings: {},
    globalParameters: {},
    steps: Object.fromEntries(steps.map(s => [s.id, s])),
    outputs: sinks,
    ...fields
  }
}

export interface Harness {
  root: string
  dataDir: string
  store: Store
  executor: Executor
  /** stops the executor and closes the store (the data dir stays for `reopen`) */
  stop: () => Promise<void>
  /** a new Executor on the same data dir */
  reopen: (init?: Partial<ExecutorInit>) => Promise<Harness>
  close: () => Promise<void>
}

export async function harness (init: Partial<ExecutorInit> = {}, existing?: { root: string, cleanup: () => Promise<void> }): Promise<Harness> {
  const tmp = existing ?? await (async () => { const t = await tempDir('pl-exec-'); return { root: t.dir, cleanup: t.cleanup } })()
  const dataDir = join(tmp.root, 'data')
  const store = await Store.open(dataDir)
  // test modules coordinate through files in the test's folder: the operator lets sandboxed modules use it
  const executor = new Executor({ store, concurrency: 4, ...init, poolInit: { ...init.poolInit, sandbox: { fs: { write: [tmp.root] }, ...init.poolInit?.sandbox } } })
  executor.start()
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await executor.stop()
    await store.close()
  }
  return {
    root: tmp.root,
    dataDir,
    store,
    executor,
    stop,
    reopen: async (more = {}) => { await stop(); return await harness({ ...init, ...more }, tmp) },
    close: async () => { await stop(); await tmp.cleanup() }
  }
}

/**
 * A clock the test moves by hand, starting at 0: wall limits and run
 * deadlines expire when the test says so (after the module signalled it
 * started), never because the machine was slow.
 */
export class ManualClock extends FakeClock {
  constructor () { super(0) }
}

/** Alive and not a zombie (a SIGKILLed process stays a zombie until whoever inherited it reaps it). */
export async function isAlive (pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

/** Waits until every pid is dead (SIGKILL is asynchronous); returns those still alive after `timeoutMs`. */
export async function survivors (pids: number[], timeoutMs = 10_000): Promise<number[]> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const alive: number[] = []
    for (const pid of pids) if (await isAlive(pid)) alive.push(pid)
    if (alive.length === 0 || Date.now() > until) return alive
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

/** SIGKILLs whatever a failed test left running. */
export function killAll (pids: number[]): void {
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
}

/**
 * A config file (for PL_CONFIG) letting sandboxed modules read and write
 * `folder`: test modules that coordinate through files (counters, go files)
 * run in daemons and `pl run` as the operator allowed.
 */
export async function sandboxFsConfig (dir: string, folder: string): Promise<string> {
  const file = join(dir, 'pl-sandbox-fs.json')
  await writeFile(file, JSON.stringify({ services: { exec: { poolInit: { sandbox: { fs: { write: [folder] } } } } } }))
  return file
}

/** workflow.json of a bundle with one module `key` in `module_<key>`, run as a single step. */
export function oneStepWorkflow (key: string, description: string): string {
  const module = { codePath: `module_${key}`, settings: {}, parameters: {}, name: key, description: '', tags: [], resource_requirements: {} }
  return JSON.stringify({ workflow_id: key, name: key, version: { version: '1.0.0', releaseTag: 'test' }, description, tags: [], globalSettings: {}, globalParameters: {}, modules: { [key]: module }, graph: { [key]: [] } })
}
