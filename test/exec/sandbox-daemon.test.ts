/**
 * SIGKILL of a real pl-node mid-step: the sandboxed JS runner running the
 * step (PID 1 of its own namespace, behind setpriv/unshare) and every other
 * process the daemon had started die with it. Checked through /proc: the
 * daemon's whole process tree is read while the step runs, and none of it
 * may survive.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PL, startNodeProcess, type NodeProcess } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/mesh.js'
import { killAll, oneStepWorkflow, sandboxFsConfig, survivors } from './helpers.js'

/** Every descendant of `pid` (children of each of its threads, recursively). */
async function descendants (pid: number): Promise<number[]> {
  const out: number[] = []
  let frontier = [pid]
  while (frontier.length > 0) {
    const next: number[] = []
    for (const p of frontier) {
      let tids: string[] = []
      try { tids = await readdir(`/proc/${p}/task`) } catch {}
      for (const tid of tids) {
        try {
          next.push(...(await readFile(`/proc/${p}/task/${tid}/children`, 'utf8')).split(' ').map(Number).filter(n => n > 0))
        } catch {}
      }
    }
    out.push(...next)
    frontier = next
  }
  return out
}

async function waitingBundle (root: string, started: string): Promise<string> {
  const dir = join(root, 'bundle')
  await mkdir(join(dir, 'module_hold'), { recursive: true })
  await writeFile(join(dir, 'module_hold', 'function.mjs'), `import { writeFileSync } from 'node:fs'
export default class {
  async eval () {
    writeFileSync(${JSON.stringify(started)}, 'y')
    await new Promise(() => {})
  }
}
`)
  await writeFile(join(dir, 'workflow.json'), oneStepWorkflow('hold', 'one sandboxed JS step that never returns'))
  return dir
}

test('SIGKILL of pl-node mid-step: the sandboxed JS runner and every other process of the daemon die with it', async () => {
  const tmp = await tempDir('pl-sandbox-daemon-')
  const started = join(tmp.dir, 'started')
  const env = { PL_LOG_LEVEL: 'warn', TMPDIR: join(tmp.dir, 'tmp'), PL_CONFIG: await sandboxFsConfig(tmp.dir, tmp.dir) }
  await mkdir(env.TMPDIR)
  let node: NodeProcess | undefined
  let tree: number[] = []
  let run: ReturnType<typeof spawn> | undefined
  try {
    const bundle = await waitingBundle(tmp.dir, started)
    const dataDir = join(tmp.dir, 'data')
    node = await startNodeProcess(['--data-dir', dataDir], env)
    run = spawn(process.execPath, [PL, 'run', bundle, '--data-dir', dataDir], { env: { ...process.env, ...env }, stdio: 'ignore' })
    await waitFor(async () => await readFile(started, 'utf8').then(() => true, () => false), 60_000, 'the sandboxed step to start')
    const daemon = node.proc.pid as number
    tree = await descendants(daemon)
    const cmdlines = await Promise.all(tree.map(async p => await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')))
    assert.ok(cmdlines.some(c => c.includes('sandbox/runner.js') && c.includes('--permission')), `no sandboxed runner among the daemon's processes:\n${cmdlines.join('\n')}`)
    node.proc.kill('SIGKILL')
    assert.equal(await node.stop(), null)
    assert.deepEqual(await survivors(tree), [], 'processes of the daemon outlived its SIGKILL')
    // the step's temp folder is left by the crash; the next start sweeps it
    const steps = join(env.TMPDIR, 'pl-steps', String(daemon))
    assert.ok(await readdir(steps).then(() => true, () => false), 'the crashed step left its temp folder')
    node = await startNodeProcess(['--data-dir', dataDir], env)
    await waitFor(async () => await readdir(steps).then(() => false, () => true), 60_000, 'the restarted node to sweep the crashed node\'s step folders')
  } finally {
    if (run?.exitCode == null) run?.kill('SIGKILL')
    killAll(tree)
    await node?.stop('SIGKILL')
    await tmp.cleanup()
  }
})
