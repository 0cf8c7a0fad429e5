/**
 * Parent-death watchdog: a swarm launcher killed with SIGKILL (no chance to
 * stop its nodes) leaves no pl-node behind — each node runs with
 * --exit-with-parent and stops once its parent is gone.
 */
import test from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { tempDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/mesh.js'

const LAUNCHER = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'swarm', 'launcher.js')

/** Alive and not a zombie (a reparented child may wait for its new parent to reap it). */
function running (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

test('a SIGKILLed swarm launcher leaves no pl-node running', { timeout: 240_000 }, async (t) => {
  const { dir, cleanup } = await tempDir('pl-watchdog-')
  const pids: number[] = []
  t.after(async () => {
    for (const pid of pids) if (running(pid)) process.kill(pid, 'SIGKILL')
    await cleanup()
  })
  const script = `
    const { Swarm } = await import(${JSON.stringify(LAUNCHER)})
    const swarm = await Swarm.start({ nodes: 2, root: ${JSON.stringify(dir)}, logLevel: 'warn', startTimeoutMs: 120000 })
    process.stdout.write(JSON.stringify({ pids: swarm.members.map(m => m.proc.pid) }) + '\\n')
    setInterval(() => {}, 1000)
  `
  const launcher = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => { if (launcher.exitCode == null && launcher.signalCode == null) launcher.kill('SIGKILL') })
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: launcher.stdout }).once('line', resolve)
    launcher.once('exit', (code) => { reject(new Error(`launcher exited with ${String(code)} before its swarm started`)) })
  })
  pids.push(...(JSON.parse(line) as { pids: number[] }).pids)
  assert.equal(pids.length, 2)
  assert.ok(pids.every(running), 'both nodes run')
  launcher.kill('SIGKILL')
  await waitFor(() => pids.every(pid => !running(pid)), 60_000, 'every pl-node of the killed launcher to exit')
})
