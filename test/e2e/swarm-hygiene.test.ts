/**
 * A swarm launcher that dies, by Ctrl-C or by SIGKILL, takes its pl-node
 * processes with it, and removes its temp folder unless told to keep it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { CLI_DIR } from '../helpers/proc.js'
import { waitFor } from '../helpers/mesh.js'

const SWARM_CLI = join(CLI_DIR, '..', 'swarm', 'cli.js')

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

interface Launched { proc: ChildProcess, pids: number[], root: string, out: () => string, exited: Promise<number | null> }

async function launch (args: string[]): Promise<Launched> {
  const proc = spawn(process.execPath, [SWARM_CLI, '--nodes', '2', '--log-level', 'warn', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  proc.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | null>((resolve) => { proc.once('exit', (code) => { resolve(code) }) })
  const pids: number[] = []
  let root = ''
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout }).on('line', (line) => {
      out += line + '\n'
      const pid = /^node \d+ +\S+ +pid (\d+)/.exec(line)
      if (pid != null) pids.push(Number(pid[1]))
      const r = /^root: (\S+)/.exec(line)
      if (r != null) root = r[1]
      if (line === 'Ctrl-C to stop.') resolve()
    })
    void exited.then(() => { reject(new Error(`swarm exited while starting:\n${out}\n${err}`)) })
  })
  return { proc, pids, root, out: () => out, exited }
}

test('SIGKILL of the swarm launcher: its pl-node processes exit by themselves', async () => {
  const s = await launch([])
  try {
    assert.equal(s.pids.length, 2, s.out())
    assert.ok(s.pids.every(alive))
    s.proc.kill('SIGKILL')
    await s.exited
    await waitFor(() => s.pids.every(p => !alive(p)), 90_000, 'the nodes exit after their launcher died')
  } finally {
    for (const p of s.pids) if (alive(p)) process.kill(p, 'SIGKILL')
    await rm(s.root, { recursive: true, force: true }) // nobody is left to remove it after a SIGKILL
  }
})

test('SIGINT stops the swarm and removes its temp folder', async () => {
  const s = await launch([])
  try {
    assert.ok(existsSync(s.root))
    s.proc.kill('SIGINT')
    assert.equal(await s.exited, 0)
    assert.ok(s.pids.every(p => !alive(p)), 'every node stopped before the launcher exited')
    assert.equal(existsSync(s.root), false, `${s.root} removed`)
  } finally {
    for (const p of s.pids) if (alive(p)) process.kill(p, 'SIGKILL')
    if (s.proc.exitCode == null) s.proc.kill('SIGKILL')
    await rm(s.root, { recursive: true, force: true })
  }
})

test('--keep keeps the temp folder and prints its path', async () => {
  const s = await launch(['--keep'])
  try {
    s.proc.kill('SIGTERM')
    assert.equal(await s.exited, 0)
    assert.ok(s.out().includes(`kept ${s.root}\n`), s.out())
    assert.ok(existsSync(join(s.root, 'node-0.log')))
  } finally {
    for (const p of s.pids) if (alive(p)) process.kill(p, 'SIGKILL')
    if (s.proc.exitCode == null) s.proc.kill('SIGKILL')
    await rm(s.root, { recursive: true, force: true })
  }
})
