import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startNodeProcess, runCli, PL_NODE } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { ControlClient } from '../../src/api/client.js'
import { waitFor } from '../helpers/mesh.js'

test('two pl-node processes find each other via --bootstrap and stop on SIGTERM', async () => {
  const a = await tempDir(); const b = await tempDir()
  const na = await startNodeProcess(['--data-dir', a.dir])
  let nb
  try {
    nb = await startNodeProcess(['--data-dir', b.dir, '--bootstrap', na.info.addrs[0]])
    const client = await ControlClient.fromDataDir(b.dir)
    await waitFor(async () => (await client.request<any[]>('GET', '/peers')).some(p => p.peerId === na.info.peerId), 20_000, 'B connected to A')
    const health = await (await ControlClient.fromDataDir(a.dir)).request('GET', '/health')
    assert.equal(health.peerId, na.info.peerId)
    assert.ok(health.peers >= 1)
  } finally {
    const codes = await Promise.all([nb?.stop(), na.stop()])
    assert.deepEqual(codes.filter(c => c !== undefined), [0, 0])
    await a.cleanup(); await b.cleanup()
  }
})

test('a second pl-node start on the same data dir exits with a one-line explanation', async () => {
  const a = await tempDir()
  const na = await startNodeProcess(['--data-dir', a.dir])
  try {
    const second = await runCli(['start', '--data-dir', a.dir, '--listen', '/ip4/127.0.0.1/tcp/0'], { entry: PL_NODE })
    assert.equal(second.code, 1)
    assert.match(second.stderr, /^error: DataDirLockedError: another pl-node is using the data dir .*\n$/)
  } finally {
    assert.equal(await na.stop(), 0)
    await a.cleanup()
  }
})

test('the control API refuses requests without the token', async () => {
  const a = await tempDir()
  const na = await startNodeProcess(['--data-dir', a.dir])
  try {
    const res = await fetch(na.info.control + '/health')
    assert.equal(res.status, 401)
    assert.match(na.info.control ?? '', /^http:\/\/127\.0\.0\.1:/)
  } finally {
    await na.stop()
    await a.cleanup()
  }
})

test('pl-node id prints the peer id and stays the same across runs', async () => {
  const a = await tempDir()
  try {
    const one = await runCli(['id', '--data-dir', a.dir, '--json'], { entry: PL_NODE })
    const two = await runCli(['id', '--data-dir', a.dir, '--json'], { entry: PL_NODE })
    assert.equal(one.code, 0, one.stderr)
    assert.equal(JSON.parse(one.stdout).peerId, JSON.parse(two.stdout).peerId)
    assert.match(JSON.parse(one.stdout).peerId, /^12D3KooW/)
    assert.equal(JSON.parse(one.stdout).running, false)
    // with a node running on the data dir, id shows its actual addresses (the real port, not tcp/0)
    const node = await startNodeProcess(['--data-dir', a.dir])
    try {
      const live = JSON.parse((await runCli(['id', '--data-dir', a.dir, '--json'], { entry: PL_NODE })).stdout)
      assert.equal(live.running, true)
      assert.deepEqual(live.listen, node.info.addrs)
      assert.equal(live.listen.some((addr: string) => /\/tcp\/0\//.test(addr)), false)
    } finally { await node.stop() }
  } finally { await a.cleanup() }
})

test('bad configuration is refused with a clear message', async () => {
  const a = await tempDir()
  try {
    const r = await runCli(['start', '--data-dir', a.dir, '--listen', 'localhost:4001'], { entry: PL_NODE })
    assert.equal(r.code, 1)
    assert.match(r.stderr, /ConfigError: --listen: listen entry "localhost:4001" is not a multiaddr/)
    const r2 = await runCli(['start', '--data-dir', a.dir], { entry: PL_NODE, env: { PL_CONTROL_PORT: 'abc' } })
    assert.match(r2.stderr, /ConfigError: environment PL_CONTROL_PORT: controlPort must be a port number/)
    // a typo in a service section is an error, not a silently ignored setting
    const file = join(a.dir, 'node.yaml')
    await writeFile(file, 'services:\n  exec:\n    concurency: 4\n')
    const r3 = await runCli(['start', '--data-dir', a.dir, '--config', file], { entry: PL_NODE })
    assert.equal(r3.code, 1)
    assert.match(r3.stderr, /ConfigError: services.exec: unknown key "concurency"/)
    await writeFile(file, 'services:\n  capabilities:\n    - { price: 1 }\n')
    const r4 = await runCli(['start', '--data-dir', a.dir, '--config', file], { entry: PL_NODE })
    assert.match(r4.stderr, /OfferConfigError: services.capabilities\[0\] needs a descriptor file/)
  } finally { await a.cleanup() }
})
