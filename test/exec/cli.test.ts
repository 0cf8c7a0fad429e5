/**
 * `pl run` end to end, as real child processes: the fixture diamonds print
 * {"number": 18}; a SIGKILLed run resumes without re-running finished steps
 * (side-effect counters prove it); human decisions across processes; and
 * the same commands through a running node's control API.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PL, runCli } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/mesh.js'
import { PlNode } from '../../src/node.js'
import { exec, type ExecService } from '../../src/exec/index.js'
import { Store } from '../../src/store/index.js'
import { Journal } from '../../src/exec/journal.js'
import { FIXTURES, sandboxFsConfig } from './helpers.js'

// the counter bundle's modules write files in the tests' temp folders: the config lets sandboxed modules do so
const env = { PL_LOG_LEVEL: 'warn', PL_CONFIG: await sandboxFsConfig(await mkdtemp(join(tmpdir(), 'pl-cli-config-')), tmpdir()) }

for (const kind of ['js', 'py'] as const) {
  test(`pl run diamond-${kind} --input '{"number":5}' prints {"number": 18}`, async () => {
    const { dir, cleanup } = await tempDir('pl-cli-')
    try {
      const res = await runCli(['run', join(FIXTURES, 'workflows', `diamond-${kind}`), '--input', '{"number":5}', '--data-dir', join(dir, 'data')], { env })
      assert.equal(res.code, 0, res.stderr)
      assert.deepEqual(JSON.parse(res.stdout), { number: 18 })
      assert.match(res.stderr, /sum: done/)
      if (kind === 'py') return
      const list = await runCli(['runs', 'list', '--json', '--data-dir', join(dir, 'data')], { env })
      const runs = JSON.parse(list.stdout)
      assert.equal(runs.length, 1)
      assert.equal(runs[0].state, 'succeeded')
      const show = await runCli(['runs', 'show', runs[0].id, '--data-dir', join(dir, 'data')], { env })
      const view = JSON.parse(show.stdout)
      assert.deepEqual(view.output, { number: 18 })
      assert.equal(view.steps.length, 4)
      assert.ok(view.steps.every((s: { usage?: unknown }) => s.usage != null))
    } finally {
      await cleanup()
    }
  })
}

/** A 3-step bundle a → b → c; each appends its name to `counter`; b then waits for `go` to exist. */
async function counterBundle (root: string): Promise<{ bundle: string, counter: string, go: string }> {
  const bundle = join(root, 'bundle')
  const counter = join(root, 'counter.txt')
  const go = join(root, 'go')
  const mod = (name: string, wait: boolean): string => `import { appendFileSync, existsSync } from 'node:fs'
export default class {
  async eval (p, d) {
    appendFileSync(${JSON.stringify(counter)}, '${name}')
    ${wait ? `while (!existsSync(${JSON.stringify(go)})) await new Promise(r => setTimeout(r, 20))` : ''}
    return { path: (d.previous_outputs.${name === 'a' ? 'none' : name === 'b' ? 'a' : 'b'}?.path ?? '') + '${name}' }
  }
}
`
  for (const [name, wait] of [['a', false], ['b', true], ['c', false]] as const) {
    await mkdir(join(bundle, `module_${name}`), { recursive: true })
    await writeFile(join(bundle, `module_${name}`, 'function.mjs'), mod(name, wait))
  }
  await writeFile(join(bundle, 'workflow.json'), JSON.stringify({
    workflow_id: 'counter',
    name: 'counter',
    version: { version: '1.0.0', releaseTag: 'test' },
    description: 'a, then b (which waits for a go file), then c',
    tags: [],
    globalSettings: {},
    globalParameters: {},
    modules: Object.fromEntries(['a', 'b', 'c'].map(k => [k, { codePath: `module_${k}`, settings: {}, parameters: {}, name: k, description: '', tags: [], resource_requirements: {} }])),
    graph: { a: ['b'], b: ['c'], c: [] }
  }))
  return { bundle, counter, go }
}

test('SIGKILL of pl run between steps: pl run --resume finishes without re-running finished steps', async () => {
  const { dir, cleanup } = await tempDir('pl-cli-kill-')
  try {
    const { bundle, counter, go } = await counterBundle(dir)
    const dataDir = join(dir, 'data')
    const child = spawn(process.execPath, [PL, 'run', bundle, '--data-dir', dataDir], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const exited = new Promise<NodeJS.Signals | null>((resolve) => { child.once('exit', (_code, sig) => { resolve(sig) }) })
    try {
      // a is journaled as done once b has started (b waits for the go file); each module starts its own sandboxed runner
      await waitFor(async () => (await readFile(counter, 'utf8').catch(() => '')) === 'ab', 60_000, 'step b to start')
    } finally {
      child.kill('SIGKILL')
    }
    assert.equal(await exited, 'SIGKILL')
    const runId = /run (\S+) started/.exec(stderr)?.[1]
    assert.ok(runId != null, `run id on stderr: ${stderr}`)

    await writeFile(go, '')
    const res = await runCli(['run', '--resume', runId, '--data-dir', dataDir], { env })
    assert.equal(res.code, 0, res.stderr)
    assert.deepEqual(JSON.parse(res.stdout), { path: 'abc' })
    // a ran once; b was interrupted and ran again; c ran once
    assert.equal(await readFile(counter, 'utf8'), 'abbc')
    assert.match(res.stderr, /a: done \(from the journal\)/)
    const store = await Store.open(dataDir)
    try {
      const journal = new Journal(store)
      assert.equal((await journal.getRun(runId))?.state, 'succeeded')
      assert.equal((await journal.getStep(runId, 'a'))?.attempts, 1)
      assert.equal((await journal.getStep(runId, 'b'))?.attempts, 2)
    } finally {
      await store.close()
    }

    const again = await runCli(['run', '--resume', runId, '--data-dir', dataDir], { env })
    assert.equal(again.code, 1)
    assert.match(again.stderr, /RunNotResumableError/)
  } finally {
    await cleanup()
  }
})

test('a failing run exits 1 with the error name and message on stderr; bad --input is refused', async () => {
  const { dir, cleanup } = await tempDir('pl-cli-fail-')
  try {
    await mkdir(join(dir, 'wf', 'module_boom'), { recursive: true })
    await writeFile(join(dir, 'wf', 'module_boom', 'function.mjs'), 'export default class { eval () { throw new Error("kaboom") } }')
    await writeFile(join(dir, 'wf', 'workflow.json'), JSON.stringify({ workflow_id: 'b', name: 'b', version: { version: '1', releaseTag: 'x' }, description: '', tags: [], globalSettings: {}, globalParameters: {}, modules: { boom: { codePath: 'module_boom', settings: {}, parameters: {}, name: 'boom', description: '', tags: [], resource_requirements: {} } }, graph: { boom: [] } }))
    const res = await runCli(['run', join(dir, 'wf'), '--data-dir', join(dir, 'data')], { env })
    assert.equal(res.code, 1)
    assert.match(res.stderr, /error: ModuleError: kaboom/)
    assert.equal(res.stdout, '')
    const bad = await runCli(['run', join(dir, 'wf'), '--input', '[1,2', '--data-dir', join(dir, 'data')], { env })
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /InvalidRequestError: --input is not valid JSON/)
  } finally {
    await cleanup()
  }
})

test('through a running node: pl run submits to its control API, waits on a human step, and pl decide finishes it', async () => {
  const { dir, cleanup } = await tempDir('pl-cli-daemon-')
  const dataDir = join(dir, 'data')
  // the counter modules write in the test folder: the operator lets sandboxed modules do so
  const node = await PlNode.create({ dataDir, controlApi: true, gossip: false, services: { exec: exec({ poolInit: { sandbox: { fs: { write: [dir] } } } }) } })
  try {
    await node.start()
    const { bundle } = await counterBundle(dir)
    await writeFile(join(dir, 'go'), '')
    const res = await runCli(['run', bundle, '--data-dir', dataDir], { env })
    assert.equal(res.code, 0, res.stderr)
    assert.deepEqual(JSON.parse(res.stdout), { path: 'abc' })
    assert.match(res.stderr, /on the pl-node of/)
    const executor = node.service<ExecService>('exec').executor
    assert.equal((await executor.list()).length, 1, 'the run went to the daemon, not an in-process executor')

    // a run waiting on a human step, answered through the API by pl decide
    const client = await (await import('../../src/api/client.js')).ControlClient.fromDataDir(dataDir)
    const dag = {
      v: 1, name: 'approval', source: { format: 'dsl' }, mode: 'dag', inputs: {}, constraints: {}, policies: [], select: [], globalSettings: {}, globalParameters: {},
      steps: { ok: { id: 'ok', kind: 'human', parameters: {}, settings: {}, after: [], args: {}, limits: {}, human: { question: 'Go?', choices: ['go', 'stop'] } } },
      outputs: ['ok']
    } as const
    const runId = await executor.submit(structuredClone(dag) as any, {})
    await executor.wait(runId, { untilWaiting: true })
    const view = await client.request('GET', `/runs/${runId}`)
    assert.deepEqual(view.waiting, [{ key: 'ok', question: 'Go?', choices: ['go', 'stop'] }])
    const wrong = await runCli(['decide', runId, 'ok', 'maybe', '--data-dir', dataDir], { env })
    assert.equal(wrong.code, 1)
    assert.match(wrong.stderr, /InvalidDecisionError/)
    const decided = await runCli(['decide', runId, 'ok', 'go', '--data-dir', dataDir], { env })
    assert.equal(decided.code, 0, decided.stderr)
    assert.deepEqual(JSON.parse(decided.stdout), { choice: 'go' })
    const events = await client.request('GET', `/runs/${runId}/events?since=0`)
    assert.ok(events.events.some((e: { type: string }) => e.type === 'pl:run:waiting-human'))
    assert.equal(events.events.at(-1).type, 'pl:run:finished')
    await assert.rejects(client.request('POST', '/runs', { input: {} }), { name: 'InvalidRequestError' })
  } finally {
    await node.stop()
    await cleanup()
  }
})

test('pl run exits 2 on a human step and pl decide continues it in a new process', async () => {
  const { dir, cleanup } = await tempDir('pl-cli-human-')
  try {
    // the human step comes from a workflow module calling context.human.ask
    await mkdir(join(dir, 'wf', 'module_ask'), { recursive: true })
    await writeFile(join(dir, 'wf', 'module_ask', 'function.mjs'), 'export default class { async eval (p, d, c) { return { answer: await c.human.ask({ question: "Deploy?", choices: ["yes", "no"] }) } } }')
    await writeFile(join(dir, 'wf', 'workflow.json'), JSON.stringify({ workflow_id: 'h', name: 'h', version: { version: '1', releaseTag: 'x' }, description: '', tags: [], globalSettings: {}, globalParameters: {}, modules: { ask: { codePath: 'module_ask', settings: {}, parameters: {}, name: 'ask', description: '', tags: [], resource_requirements: {} } }, graph: { ask: [] } }))
    const dataDir = join(dir, 'data')
    const first = await runCli(['run', join(dir, 'wf'), '--data-dir', dataDir], { env })
    assert.equal(first.code, 2, first.stderr)
    const m = /pl decide (\S+) (\S+) <choice>/.exec(first.stderr)
    assert.ok(m != null, first.stderr)
    assert.equal(m[2], 'ask')
    const second = await runCli(['decide', m[1], 'ask', 'yes', '--data-dir', dataDir], { env })
    assert.equal(second.code, 0, second.stderr)
    assert.deepEqual(JSON.parse(second.stdout), { answer: 'yes' })
  } finally {
    await cleanup()
  }
})
