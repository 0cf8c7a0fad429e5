/**
 * `pl ui` against a real pl-node process: a one-time login link to the
 * gateway's console (token in the URL fragment, never a key), exchanged once
 * for a session key with the asked scopes; a node without a gateway gets a
 * typed error. No browser here (test/ui/console.test.ts drives Chromium).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startNodeProcess, runCli } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { http } from '../gateway/helpers.js'
import { onPath } from '../../src/cli/commands/ui.js'

test('pl ui prints a one-time login link; the link signs in once with the asked scopes; no gateway is a typed error', async () => {
  const d = await tempDir('pl-ui-cli-')
  const bare = await tempDir('pl-ui-cli-bare-')
  const node = await startNodeProcess(['--data-dir', d.dir, '--api-listen', '127.0.0.1:0'], {}, 120_000)
  const plain = await startNodeProcess(['--data-dir', bare.dir], {}, 120_000)
  try {
    const base = (node.info as { gateway?: string }).gateway as string
    const res = await runCli(['ui', '--data-dir', d.dir, '--scopes', 'read,submit', '--json'])
    assert.equal(res.code, 0, res.stderr)
    const link = JSON.parse(res.stdout)
    assert.deepEqual(link.scopes, ['read', 'submit'])
    const url = new URL(link.url)
    assert.equal(`${url.protocol}//${url.host}`, base)
    assert.equal(url.pathname, '/ui/')
    assert.equal(url.search, '', 'nothing secret in the query string (servers log it)')
    const token = /^#login=(pll_[A-Za-z0-9_-]+)$/.exec(url.hash)?.[1]
    assert.ok(token != null, url.hash)
    assert.ok(link.expires - Date.now() <= 60_000)
    const page = await fetch(`${base}/ui/`)
    assert.equal(page.status, 200)
    const session = await http(base, 'POST', '/ui/session', { body: { token } })
    assert.equal(session.status, 200, JSON.stringify(session.body))
    assert.deepEqual(session.body.scopes, ['read', 'submit'])
    assert.equal((await http(base, 'GET', '/runs', { key: session.body.key })).status, 200)
    assert.equal((await http(base, 'GET', '/api-keys', { key: session.body.key })).status, 403, 'the session has only the asked scopes')
    assert.equal((await http(base, 'POST', '/ui/session', { body: { token } })).body.error.name, 'InvalidLoginTokenError')

    const human = await runCli(['ui', '--data-dir', d.dir])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /^http:\/\/127\.0\.0\.1:\d+\/ui\/#login=pll_\S+\n$/)
    assert.match(human.stderr, /admin session; it expires at .* and works once/)

    const badScope = await runCli(['ui', '--data-dir', d.dir, '--scopes', 'root'])
    assert.equal(badScope.code, 1)
    assert.match(badScope.stderr, /InvalidApiKeyError/)
    const noGateway = await runCli(['ui', '--data-dir', bare.dir])
    assert.equal(noGateway.code, 1)
    assert.match(noGateway.stderr, /GatewayNotListeningError/)
  } finally {
    await node.stop()
    await plain.stop()
    await d.cleanup()
    await bare.cleanup()
  }
})

test('--open looks for xdg-open on PATH only', () => {
  assert.equal(onPath('xdg-open', ''), undefined)
  assert.equal(onPath('sh', '/nonexistent:/bin'), '/bin/sh')
})
