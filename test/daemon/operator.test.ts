/**
 * What a new operator meets first: starting a node in the background and
 * stopping it, `pl` racing a node that is still starting, bootstrap
 * addresses that do not lead anywhere, and ports that are taken. Real
 * `pl-node` processes throughout.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:net'
import { existsSync } from 'node:fs'
import { copyFile, readFile, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { startNodeProcess, runCli, PL_NODE, PL } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/mesh.js'
import { ControlClient } from '../../src/api/client.js'
import { PlNode } from '../../src/node.js'
import { createIdentity } from '../../src/core/index.js'

/** generous: the test machines are shared and loaded; nothing here measures time */
const START_MS = 120_000
const CLI_MS = 120_000

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

async function busyPort (): Promise<{ port: number, server: Server }> {
  const server = createServer()
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  return { port: (server.address() as any).port, server }
}

test('pl-node start --detach returns once the node answers, and pl-node stop stops it', async () => {
  const a = await tempDir()
  let pid: number | undefined
  try {
    const started = await runCli(['start', '--detach', '--data-dir', a.dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--local-swarm'], { entry: PL_NODE, timeoutMs: CLI_MS })
    assert.equal(started.code, 0, started.stderr)
    assert.match(started.stdout, /^pl-node started in the background \(pid \d+\)\npeer id  12D3Koo\w+\naddr     \/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3Koo/)
    pid = Number(/pid (\d+)/.exec(started.stdout)![1])
    assert.equal(Number((await readFile(join(a.dir, 'pl-node.pid'), 'utf8')).trim()), pid)
    // no race: the node is ready the moment --detach returns
    const list = await runCli(['cap', 'list', '--data-dir', a.dir], { timeoutMs: CLI_MS })
    assert.equal(list.code, 0, list.stderr)
    assert.equal(list.stdout, 'this node publishes no capability\n')
    const stopped = await runCli(['stop', '--data-dir', a.dir], { entry: PL_NODE, timeoutMs: CLI_MS })
    assert.equal(stopped.code, 0, stopped.stderr)
    assert.equal(stopped.stdout, `stopped pl-node (pid ${pid}) on ${a.dir}\n`)
    assert.equal(alive(pid), false)
    assert.equal(existsSync(join(a.dir, 'pl-node.pid')), false)
    assert.equal(existsSync(join(a.dir, 'control.json')), false)
    assert.match(await readFile(join(a.dir, 'pl-node.log'), 'utf8'), /pl-node stopped/)
  } finally {
    if (pid != null && alive(pid)) process.kill(pid, 'SIGKILL')
    await a.cleanup()
  }
})

test('pl-node start --detach reports the error of a node that cannot start', async () => {
  const a = await tempDir()
  try {
    const res = await runCli(['start', '--detach', '--data-dir', a.dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', '/ip4/127.0.0.1/tcp/4001'], { entry: PL_NODE, timeoutMs: CLI_MS })
    assert.equal(res.code, 1)
    assert.match(res.stderr, /^error: DaemonStartError: pl-node exited with 1 while starting: InvalidBootstrapAddressError: bootstrap address \/ip4\/127\.0\.0\.1\/tcp\/4001 has no peer id/)
  } finally {
    await a.cleanup()
  }
})

test('pl waits for a node that holds the data dir but has not written control.json yet, and says so', async () => {
  const real = await tempDir(); const starting = await tempDir()
  const node = await startNodeProcess(['--data-dir', real.dir], {}, START_MS)
  // a live process named by the pid file, and no control.json: a node in the middle of starting
  const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  const pl = spawn(process.execPath, [PL, 'cap', 'list', '--data-dir', starting.dir], { stdio: ['ignore', 'pipe', 'pipe'] })
  try {
    await mkdir(starting.dir, { recursive: true })
    await writeFile(join(starting.dir, 'pl-node.pid'), `${holder.pid!}\n`)
    let stderr = ''; let stdout = ''
    pl.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    const exited = new Promise<number | null>((resolve) => { pl.once('exit', resolve) })
    await new Promise<void>((resolve, reject) => {
      pl.stderr.on('data', (d: Buffer) => { stderr += d.toString(); if (stderr.includes('is starting; waiting')) resolve() })
      void exited.then(() => { reject(new Error(`pl exited without waiting: ${stderr}`)) })
    })
    assert.match(stderr, new RegExp(`^pl-node \\(pid ${holder.pid!}\\) on ${starting.dir} is starting; waiting up to \\d+ s for its control API`))
    // the node "finishes starting": its control API appears
    await copyFile(join(real.dir, 'control.json'), join(starting.dir, 'control.json'))
    assert.equal(await exited, 0, stderr)
    assert.equal(stdout, 'this node publishes no capability\n')
  } finally {
    pl.kill('SIGKILL'); holder.kill('SIGKILL')
    await node.stop()
    await real.cleanup(); await starting.cleanup()
  }
})

test('a --bootstrap address without /p2p/<peerId> is refused with one line', async () => {
  const a = await tempDir()
  try {
    const res = await runCli(['start', '--data-dir', a.dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', '/ip4/127.0.0.1/tcp/4001'], { entry: PL_NODE, timeoutMs: CLI_MS })
    assert.equal(res.code, 1)
    assert.match(res.stderr, /error: InvalidBootstrapAddressError: bootstrap address \/ip4\/127\.0\.0\.1\/tcp\/4001 has no peer id: append \/p2p\/<peerId>/)
    assert.doesNotMatch(res.stderr, /\n\s+at /)
  } finally {
    await a.cleanup()
  }
})

test('a bootstrap address whose peer id is wrong is logged with both ids and shown in /health warnings', async () => {
  const a = await tempDir(); const b = await tempDir()
  const na = await startNodeProcess(['--data-dir', a.dir], {}, START_MS)
  let nb
  try {
    const wrong = (await createIdentity()).id
    const tcp = na.info.addrs[0].replace(/\/p2p\/\w+$/, '')
    const unreachable = `/ip4/127.0.0.1/tcp/${(await busyPortClosed())}/p2p/${wrong}`
    nb = await startNodeProcess(['--data-dir', b.dir, '--bootstrap', `${tcp}/p2p/${wrong}`, '--bootstrap', unreachable], { PL_LOG_LEVEL: 'warn' }, START_MS)
    const client = await ControlClient.fromDataDir(b.dir)
    await waitFor(async () => ((await client.request<{ warnings: string[] }>('GET', '/health')).warnings ?? []).length === 2, 90_000, 'two bootstrap warnings')
    const { warnings } = await client.request<{ warnings: string[] }>('GET', '/health')
    assert.ok(warnings.includes(`bootstrap ${tcp}/p2p/${wrong}: peer id mismatch: expected ${wrong}, remote is ${na.info.peerId}`), warnings.join('\n'))
    assert.ok(warnings.some(w => w.startsWith(`bootstrap ${unreachable}: unreachable: ECONNREFUSED`)), warnings.join('\n'))
    assert.match(nb.stderr(), /"level":40.*peer id mismatch: expected/)
  } finally {
    await nb?.stop(); await na.stop()
    await a.cleanup(); await b.cleanup()
  }
})

/** A port that was free a moment ago and has nobody listening now. */
async function busyPortClosed (): Promise<number> {
  const { port, server } = await busyPort()
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  return port
}

test('a node with no peer some time after start says so in its warnings; stop clears the timer', async () => {
  const a = await tempDir()
  const wrong = (await createIdentity()).id
  const node = await PlNode.create({ dataDir: a.dir, controlApi: false, noPeersWarnMs: 50, bootstrap: [`/ip4/127.0.0.1/tcp/${await busyPortClosed()}/p2p/${wrong}`] })
  try {
    await node.start()
    await waitFor(() => node.warnings().some(w => w.startsWith('no peers 0 s after start; bootstrap /ip4/127.0.0.1/tcp/')), 90_000, 'no-peers warning')
  } finally {
    await node.stop()
    await a.cleanup()
  }
})

test('a busy --listen port gives one ListenAddressInUseError line, no stack', async () => {
  const a = await tempDir()
  const { port, server } = await busyPort()
  try {
    const res = await runCli(['start', '--data-dir', a.dir, '--listen', `/ip4/127.0.0.1/tcp/${port}`], { entry: PL_NODE, timeoutMs: CLI_MS })
    assert.equal(res.code, 1)
    assert.match(res.stderr, new RegExp(`(^|\\n)error: ListenAddressInUseError: /ip4/127\\.0\\.0\\.1/tcp/${port} is in use \\(another pl-node\\?\\); use --listen /ip4/127\\.0\\.0\\.1/tcp/0 or another port\\n$`))
    assert.doesNotMatch(res.stderr, /UnsupportedListenAddressesError|\n\s+at /)
  } finally {
    server.close()
    await a.cleanup()
  }
})

test('a busy --control-port is named as the control port', async () => {
  const a = await tempDir()
  const { port, server } = await busyPort()
  try {
    const res = await runCli(['start', '--data-dir', a.dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--control-port', String(port)], { entry: PL_NODE, timeoutMs: CLI_MS })
    assert.equal(res.code, 1)
    assert.match(res.stderr, new RegExp(`(^|\\n)error: ListenAddressInUseError: control port 127\\.0\\.0\\.1:${port} is in use \\(another pl-node\\?\\); use --control-port 0 or another port\\n$`))
  } finally {
    server.close()
    await a.cleanup()
  }
})
