/**
 * docs/SPEC.md walks the five seed steps of an attached provider in Python
 * and in Go as copy-paste shell blocks (info strings `sh walkthrough-py`,
 * `sh walkthrough-go`). This test extracts them and runs each verbatim with
 * bash in a temp folder — real `pl` / `pl-node` (the compiled CLI), a real
 * detached node, python3, go — so the doc cannot rot. The block's processes
 * are bounded: the script runs in its own process group under a time limit,
 * and the node (which detaches into its own session) is stopped afterwards.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { tempDir } from '../helpers/tmp.js'
import { PL, PL_NODE } from '../helpers/proc.js'
import { goAvailable, GO_SKIP, ROOT } from './helpers.js'

/** generous: a detached node start, a go build and a plan on a loaded machine; nothing here measures time */
const BLOCK_MS = 8 * 60_000

/** The fenced blocks of docs/SPEC.md whose info string is `sh <tag>`. */
function walkthroughBlocks (markdown: string): Map<string, string> {
  const out = new Map<string, string>()
  const re = /^```sh (walkthrough-[a-z]+)\n([\s\S]*?)^```$/gm
  for (let m = re.exec(markdown); m != null; m = re.exec(markdown)) out.set(m[1], m[2])
  return out
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  return port
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

interface BlockRun { code: number | null, signal: string | null, stdout: string, stderr: string, dir: string }

/** Runs one block verbatim: `bash -e -o pipefail` in a temp folder with pl and pl-node on the PATH. */
async function runBlock (tag: string, block: string, t: { after: (fn: () => Promise<void>) => void }): Promise<BlockRun> {
  const tmp = await tempDir(`pl-walkthrough-${tag}-`)
  const dir = tmp.dir
  const bin = join(dir, '.bin')
  const dataDir = join(dir, '.pl-node')
  await mkdir(bin)
  for (const [name, entry] of [['pl', PL], ['pl-node', PL_NODE]]) {
    await writeFile(join(bin, name), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(entry)} "$@"\n`)
    await chmod(join(bin, name), 0o755)
  }
  await symlink(join(ROOT, 'examples'), join(dir, 'examples'))
  // keep Go's build cache (HOME moves to the temp folder) and build offline
  const goCache = goAvailable() ? spawnSync('go', ['env', 'GOCACHE'], { encoding: 'utf8' }).stdout.trim() : ''
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH ?? ''}`,
    HOME: dir,
    PL_DATA_DIR: dataDir,
    PL_API_LISTEN: `127.0.0.1:${await freePort()}`,
    PYTHONDONTWRITEBYTECODE: '1',
    GOPROXY: 'off',
    GOTOOLCHAIN: 'local',
    GOFLAGS: '-mod=mod',
    ...(goCache !== '' ? { GOCACHE: goCache } : {})
  }
  const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', block], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(async () => {
    // the block's own processes (the provider it started with &) share its process group
    try { process.kill(-(child.pid as number), 'SIGKILL') } catch {}
    // the node detached into its own session: stop it, then make sure
    const pidFile = join(dataDir, 'pl-node.pid')
    if (existsSync(pidFile)) {
      spawnSync(process.execPath, [PL_NODE, 'stop', '--data-dir', dataDir], { env, stdio: 'ignore', timeout: 120_000 })
      const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim())
      if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL')
    }
    await tmp.cleanup()
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => { try { process.kill(-(child.pid as number), 'SIGKILL') } catch {} }, BLOCK_MS)
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => { child.once('exit', (c, s) => { resolve([c, s]) }) })
  clearTimeout(timer)
  return { code, signal, stdout, stderr, dir }
}

async function blocks (): Promise<Map<string, string>> {
  return walkthroughBlocks(await readFile(join(ROOT, 'docs', 'SPEC.md'), 'utf8'))
}

test('docs/SPEC.md holds the Python and the Go walkthrough, each with the five seed steps', async () => {
  const found = await blocks()
  assert.deepEqual([...found.keys()].sort(), ['walkthrough-go', 'walkthrough-py'])
  for (const [tag, block] of found) {
    for (const step of ['# 1. ', '# 2. ', '# 3. ', '# 4. ', '# 5. ']) assert.ok(block.includes(step), `${tag} has step ${step.trim()}`)
    assert.match(block, /pl receipts verify run\.json/, tag)
  }
})

test('the Python walkthrough of docs/SPEC.md runs verbatim against a real node', async (t) => {
  const block = (await blocks()).get('walkthrough-py') as string
  const res = await runBlock('py', block, t)
  const log = `exit ${String(res.code)} ${String(res.signal)}\n--- stdout\n${res.stdout}\n--- stderr\n${res.stderr}`
  assert.equal(res.code, 0, log)
  assert.match(res.stdout, /"summary": "attached providers close the loop"/, log)
  assert.match(res.stdout, /ok: 1 receipt of run \S+ verify/, log)
  assert.match(res.stdout, /ok: the generated Python checker agrees/, log)
  const export_ = JSON.parse(await readFile(join(res.dir, 'run.json'), 'utf8'))
  assert.equal(export_.receipts[0].receipt.via.kind, 'attached', 'an attached provider served the step')
})

test('the Go walkthrough of docs/SPEC.md runs verbatim against a real node', async (t) => {
  if (!goAvailable()) { t.skip(GO_SKIP); return }
  const block = (await blocks()).get('walkthrough-go') as string
  const res = await runBlock('go', block, t)
  const log = `exit ${String(res.code)} ${String(res.signal)}\n--- stdout\n${res.stdout}\n--- stderr\n${res.stderr}`
  assert.equal(res.code, 0, log)
  assert.match(res.stdout, /"summary": "attached providers close the loop"/, log)
  assert.match(res.stdout, /ok: 1 receipt of run \S+ verify/, log)
  assert.match(res.stdout, /ok: 1 receipts verify with the generated Go checker/, log)
  const export_ = JSON.parse(await readFile(join(res.dir, 'run.json'), 'utf8'))
  assert.equal(export_.receipts[0].receipt.via.kind, 'attached', 'an attached provider served the step')
})
