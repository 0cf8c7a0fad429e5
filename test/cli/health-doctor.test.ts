/**
 * `pl-node health` (the containers' readiness probe) and `pl-node doctor`
 * (environment checks, each problem with its fix), against real pl-node
 * processes and real files.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startNodeProcess, runCli, PL_NODE } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { packageRoot } from '../../src/core/paths.js'
import { createIdentity } from '../../src/core/index.js'

const START_MS = 120_000
const CLI_MS = 120_000
const SUMMARIZE = join(packageRoot(), 'examples', 'capabilities', 'summarize', 'capability.yaml')

async function plNode (args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await runCli(args, { entry: PL_NODE, timeoutMs: CLI_MS, env })
}

test('pl-node health fails while no node runs, passes once the node publishes its configured capabilities', { timeout: 300_000 }, async (t) => {
  const { dir, cleanup } = await tempDir('pl-health-')
  t.after(cleanup)
  const config = join(dir, 'node.yaml')
  await writeFile(config, `services:\n  capabilities:\n    - file: ${SUMMARIZE}\n`)
  const before = await plNode(['health', '--data-dir', dir, '--config', config])
  assert.equal(before.code, 1)
  assert.match(before.stderr, /unhealthy:\n {2}- no pl-node answers on /)

  const node = await startNodeProcess(['--data-dir', dir, '--config', config], {}, START_MS)
  t.after(async () => { await node.stop() })
  const ok = await plNode(['health', '--data-dir', dir, '--config', config])
  assert.equal(ok.code, 0, ok.stderr)
  assert.equal(ok.stdout, 'healthy: 0 peers, 1 configured capability published\n')

  // asking for a peer it does not have, or a capability it does not publish, is unhealthy
  const peers = await plNode(['health', '--data-dir', dir, '--config', config, '--min-peers', '1', '--json'])
  assert.equal(peers.code, 1)
  const report = JSON.parse(peers.stdout)
  assert.equal(report.healthy, false)
  assert.equal(report.problems.length, 1)
  assert.match(report.problems[0], /^0 peers, need 1( \(no peers \d+ s after start .*\))?$/)
  const other = join(dir, 'other.yaml')
  await writeFile(other, `services:\n  capabilities:\n    - file: ${join(packageRoot(), 'examples', 'capabilities', 'fetch-sections', 'capability.yaml')}\n`)
  const missing = await plNode(['health', '--data-dir', dir, '--config', other])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /capability FetchSections@[^ ]+ is configured but not published/)

  const bad = await plNode(['health', '--data-dir', dir, '--min-peers', 'many'])
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /^error: TypeError: --min-peers must be a whole number/)
})

test('pl-node health of a node whose bootstrap is unreachable names the bootstrap problem', { timeout: 300_000 }, async (t) => {
  const { dir, cleanup } = await tempDir('pl-health-boot-')
  t.after(cleanup)
  const ghost = (await createIdentity()).id
  const bootstrap = `/ip4/127.0.0.1/tcp/1/p2p/${ghost}`
  const node = await startNodeProcess(['--data-dir', dir, '--bootstrap', bootstrap], {}, START_MS)
  t.after(async () => { await node.stop() })
  // the first dial's failure is reported once it happened; poll the probe like a container engine does
  let res = await plNode(['health', '--data-dir', dir], { PL_BOOTSTRAP: bootstrap })
  for (let i = 0; i < 60 && !res.stderr.includes('unreachable'); i++) res = await plNode(['health', '--data-dir', dir], { PL_BOOTSTRAP: bootstrap })
  assert.equal(res.code, 1)
  assert.match(res.stderr, /0 peers, need 1 \(bootstrap \/ip4\/127\.0\.0\.1\/tcp\/1\/p2p\/\w+: unreachable: ECONNREFUSED/)

  const doctor = await plNode(['doctor', '--data-dir', dir], { PL_BOOTSTRAP: bootstrap })
  assert.equal(doctor.code, 1, doctor.stdout)
  assert.match(doctor.stdout, /FAIL {2}reachability +bootstrap \/ip4\/127\.0\.0\.1\/tcp\/1\/p2p\/\w+ not joined after \d+ attempt\(s\): unreachable: ECONNREFUSED/)
  assert.match(doctor.stdout, /fix: check that the bootstrap runs and that its port is open/)
  assert.match(doctor.stdout, /ok {4}clock skew +no envelope from a peer was rejected for clock skew/)
})

test('pl-node doctor names a directory where the key should be, a key readable by others, and a busy port — each with its fix', { timeout: 300_000 }, async (t) => {
  const { dir, cleanup } = await tempDir('pl-doctor-')
  t.after(cleanup)
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(() => { server.close() })
  const port = (server.address() as { port: number }).port
  const listen = `/ip4/127.0.0.1/tcp/${port}`

  await mkdir(join(dir, 'identity.key'))
  const first = await plNode(['doctor', '--data-dir', dir], { PL_LISTEN: listen })
  assert.equal(first.code, 1)
  assert.match(first.stdout, /FAIL {2}identity key +\S+identity\.key is a directory \(a bind mount of a missing file makes one\)\n +fix: rm -r \S+identity\.key/)
  assert.match(first.stdout, new RegExp(`FAIL {2}ports +/ip4/127\\.0\\.0\\.1/tcp/${port} is in use by another process\\n +fix: stop it .* or pass --listen /ip4/127\\.0\\.0\\.1/tcp/0`))
  assert.match(first.stdout, /ok {4}data dir +\S+ is writable; no pl-node runs on it/)
  assert.match(first.stdout, /warn {2}reachability +no pl-node runs on/)

  await import('node:fs/promises').then(async fs => { await fs.rm(join(dir, 'identity.key'), { recursive: true }) })
  await writeFile(join(dir, 'identity.key'), 'not read by doctor')
  await chmod(join(dir, 'identity.key'), 0o644)
  const json = await plNode(['doctor', '--data-dir', dir, '--json'], { PL_LISTEN: '/ip4/127.0.0.1/tcp/0' })
  assert.equal(json.code, 1)
  const findings = JSON.parse(json.stdout) as Array<{ check: string, level: string, message: string, fix?: string }>
  const key = findings.find(f => f.check === 'identity key')
  assert.equal(key?.level, 'fail')
  assert.match(key?.message ?? '', /has mode 644: readable by others/)
  assert.equal(key?.fix, `chmod 600 ${join(dir, 'identity.key')}`)
  assert.equal(findings.find(f => f.check === 'ports')?.level, 'ok')
  assert.ok(findings.some(f => f.check === 'python3'))
})
