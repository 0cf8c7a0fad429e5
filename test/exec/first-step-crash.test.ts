/**
 * A node SIGKILLed while the first step of an accepted run runs, with a real
 * LevelDB and a restarted executor (docs/EXECUTOR.md, Durability): the run
 * whose submit returned is in the journal and resumes, its interrupted step
 * counted and run again.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { waitFor } from '../helpers/mesh.js'
import { callStep, dagOf, harness, writeModule } from './helpers.js'
import type { ModuleSpec } from '../../src/core/index.js'

const src = (path: string): string => new URL(`../../src/${path}`, import.meta.url).href

/** A node of its own: submits a 1-step run in worker threads, prints its id once submit returned, and waits to be killed. */
function nodeScript (dataDir: string, spec: ModuleSpec): string {
  const dag = dagOf([callStep(spec)])
  return `
const { Store } = await import(${JSON.stringify(src('store/index.js'))})
const { Executor } = await import(${JSON.stringify(src('exec/index.js'))})
const store = await Store.open(${JSON.stringify(dataDir)})
const executor = new Executor({ store, poolInit: { sandbox: { isolation: 'thread' } } })
executor.start()
const id = await executor.submit(${JSON.stringify(dag)}, {}, { modules: { ${JSON.stringify(spec.key)}: ${JSON.stringify(spec)} } })
process.stdout.write('submitted ' + id + '\\n')
await new Promise(() => {})
`
}

/** Starts the node, waits for `ready(lines)`, then SIGKILLs it. */
async function crashNode (root: string, script: string, ready: (lines: string[]) => Promise<boolean>): Promise<string[]> {
  const file = join(root, 'node.mjs')
  await writeFile(file, script)
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines: string[] = []
  createInterface({ input: child.stdout }).on('line', (l) => { lines.push(l) })
  const exited = new Promise(resolve => child.once('exit', resolve))
  try {
    await waitFor(async () => await ready(lines), 20_000, 'the node to reach the crash point')
  } finally {
    child.kill('SIGKILL')
    await exited
  }
  return lines
}

const waitingModule = (log: string, go: string): string => `import { appendFileSync, existsSync } from 'node:fs'
export default class { async eval () {
  appendFileSync(${JSON.stringify(log)}, 'a')
  while (!existsSync(${JSON.stringify(go)})) await new Promise(r => setTimeout(r, 20))
  return { done: true }
} }`

test('a node killed while the first step of an accepted run runs: the restarted executor finds the run and the step running, and runs the step again', async () => {
  let h = await harness({ poolInit: { sandbox: { isolation: 'thread' } } })
  try {
    const log = join(h.root, 'ran.log')
    const go = join(h.root, 'go')
    const a = await writeModule(h.root, 'a', waitingModule(log, go))
    await h.stop()
    const lines = await crashNode(h.root, nodeScript(h.dataDir, a), async (l) => l.some(x => x.startsWith('submitted ')) && (await readFile(log, 'utf8').catch(() => '')) === 'a')
    const runId = (lines.find(x => x.startsWith('submitted ')) as string).slice('submitted '.length)

    h = await h.reopen()
    const { run, steps } = await h.executor.get(runId)
    assert.equal(run.state, 'running')
    assert.deepEqual(steps.map(s => [s.key, s.state, s.attempts]), [['a', 'running', 1]])
    await writeFile(go, '')
    assert.deepEqual(await h.executor.resumeAll(), [runId])
    const done = await h.executor.wait(runId)
    assert.equal(done.state, 'succeeded', JSON.stringify(done.error))
    assert.deepEqual(await h.executor.output(done), { done: true })
    assert.equal(await readFile(log, 'utf8'), 'aa')
    assert.deepEqual((await h.executor.get(runId)).steps.map(s => [s.key, s.state, s.attempts]), [['a', 'succeeded', 2]])
  } finally {
    await h.close()
  }
})
