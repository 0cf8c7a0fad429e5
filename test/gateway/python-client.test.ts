/**
 * Runs the Python client's tests (clients/python, standard library only)
 * against a real pl-node process with the gateway and the workflow registry on.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join, resolve } from 'node:path'
import { startNodeProcess, runCli } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'

test('the Python client passes its tests against a real pl-node', async () => {
  const d = await tempDir('pl-gw-py-')
  const node = await startNodeProcess(['--data-dir', join(d.dir, 'node'), '--api-listen', '127.0.0.1:0'], {}, 120_000)
  try {
    const made = await runCli(['api-key', 'create', '--name', 'py', '--scopes', 'read,submit,publish', '--json', '--data-dir', join(d.dir, 'node')])
    assert.equal(made.code, 0, made.stderr)
    const reader = await runCli(['api-key', 'create', '--name', 'py-reader', '--scopes', 'read', '--json', '--data-dir', join(d.dir, 'node')])
    assert.equal(reader.code, 0, reader.stderr)
    // the bundle the README's agent uploads, packed by the CLI
    const zip = join(d.dir, 'diamond.zip')
    const packed = await runCli(['workflow', 'pack', resolve('examples/workflows/diamond-js'), '-o', zip])
    assert.equal(packed.code, 0, packed.stderr)
    const env = {
      ...process.env,
      PL_GATEWAY_URL: (node.info as { gateway?: string }).gateway,
      PL_GATEWAY_KEY: JSON.parse(made.stdout).key,
      PL_GATEWAY_READ_KEY: JSON.parse(reader.stdout).key,
      PL_BUNDLE_ZIP: zip
    }
    const { code, out } = await new Promise<{ code: number | null, out: string }>((resolve) => {
      const p = spawn('python3', ['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-v'], { env })
      let out = ''
      p.stdout.on('data', (b: Buffer) => { out += b.toString() })
      p.stderr.on('data', (b: Buffer) => { out += b.toString() })
      p.on('exit', (c) => { resolve({ code: c, out }) })
    })
    assert.equal(code, 0, out)
    assert.match(out, /Ran 11 tests/)
    assert.doesNotMatch(out, /skipped/)
  } finally {
    await node.stop()
    await d.cleanup()
  }
})
