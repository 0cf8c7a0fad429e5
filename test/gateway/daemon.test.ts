/**
 * The README's two commands against real processes: `pl-node start
 * --api-listen`, then `pl api-key create`; keys made while no node runs are
 * written to the data dir, and every key survives a restart.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startNodeProcess, runCli } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { http } from './helpers.js'

test('pl api-key create through the running node, offline on the data dir, and keys that survive a restart', async () => {
  const d = await tempDir('pl-gw-daemon-')
  let node = await startNodeProcess(['--data-dir', d.dir, '--api-listen', '127.0.0.1:0'], {}, 120_000)
  try {
    const base = (node.info as { gateway?: string }).gateway as string
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/)
    const made = await runCli(['api-key', 'create', '--name', 'alice', '--scopes', 'read,submit', '--json', '--data-dir', d.dir])
    assert.equal(made.code, 0, made.stderr)
    const alice = JSON.parse(made.stdout)
    assert.deepEqual(Object.keys(alice).sort(), ['key', 'name', 'scopes'])
    assert.deepEqual(alice.scopes, ['read', 'submit'])
    assert.equal((await http(base, 'GET', '/runs', { key: alice.key })).status, 200)
    const plain = await runCli(['api-key', 'create', '--name', 'bob', '--scopes', 'read', '--data-dir', d.dir])
    assert.match(plain.stdout, /^plk_\S+\n$/)
    const bad = await runCli(['api-key', 'create', '--name', 'carol', '--scopes', 'root', '--data-dir', d.dir])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /InvalidApiKeyError/)
    assert.equal(await node.stop(), 0)

    // no node runs: the CLI writes the data dir's LevelDB
    const offline = await runCli(['api-key', 'create', '--name', 'dave', '--scopes', 'read', '--json', '--data-dir', d.dir])
    assert.equal(offline.code, 0, offline.stderr)
    const dave = JSON.parse(offline.stdout)
    const revoked = await runCli(['api-key', 'revoke', 'bob', '--data-dir', d.dir])
    assert.equal(revoked.code, 0, revoked.stderr)

    node = await startNodeProcess(['--data-dir', d.dir], { PL_API_LISTEN: '127.0.0.1:0' }, 120_000)
    const again = (node.info as { gateway?: string }).gateway as string
    assert.equal((await http(again, 'GET', '/runs', { key: alice.key })).status, 200, 'a key made before the restart still works')
    assert.equal((await http(again, 'GET', '/runs', { key: dave.key })).status, 200, 'a key made offline works')
    assert.equal((await http(again, 'GET', '/runs', { key: plain.stdout.trim() })).status, 401, 'a revoked key stays revoked')
    const list = await runCli(['api-key', 'list', '--json', '--data-dir', d.dir])
    assert.deepEqual(JSON.parse(list.stdout).map((k: { name: string }) => k.name).sort(), ['alice', 'dave'])
  } finally {
    await node.stop()
    await d.cleanup()
  }
})

test('pl-node refuses a bad --api-listen with a one-line error', async () => {
  const d = await tempDir('pl-gw-daemon-')
  try {
    const { PL_NODE } = await import('../helpers/proc.js')
    const res = await runCli(['start', '--data-dir', d.dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--api-listen', 'nonsense'], { entry: PL_NODE })
    assert.equal(res.code, 1)
    assert.match(res.stderr, /GatewayConfigError: gateway listen address must be HOST:PORT/)
  } finally {
    await d.cleanup()
  }
})
