/**
 * The bundled daemon (dist/bundle/pl-node.mjs, scripts/build-bundle.mjs) is
 * what users and the other process tests run: here it starts, answers its
 * control API and runs workflows, with the files it loads from the tsc
 * output at run time — the precompiled validators, the JS worker, the
 * Python runner — found from dist/bundle.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { startNodeProcess, runCli, PL_NODE } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { ControlClient } from '../../src/api/client.js'
import { FIXTURES, sandboxFsConfig } from '../exec/helpers.js'

test('the bundled pl-node starts, serves its control API and runs JS and Python workflows, loading validators and workers from dist/src', async () => {
  assert.match(PL_NODE, /\/bundle\/pl-node\.mjs$/)
  const { dir, cleanup } = await tempDir('pl-bundle-')
  const dataDir = join(dir, 'data')
  const env = { PL_LOG_LEVEL: 'warn', PL_CONFIG: await sandboxFsConfig(await mkdtemp(join(tmpdir(), 'pl-bundle-config-')), tmpdir()) }
  // NODE_DEBUG=module: Node logs every CommonJS file it loads (the bundle's ESM code is one file)
  const node = await startNodeProcess(['--data-dir', dataDir], { ...env, NODE_DEBUG: 'module' })
  try {
    // read at once: the helper keeps only the last part of a long stderr
    const loaded = node.stderr()
    assert.match(loaded, /load "[^"]*\/src\/spec\/validators\.generated\.cjs"/, 'the precompiled validators load from the tsc output')
    assert.doesNotMatch(loaded, /load "[^"]*\/ajv\/dist\/2020\.js"/, 'no schema is compiled at run time')
    const cmdline = (await readFile(`/proc/${node.proc.pid as number}/cmdline`, 'utf8')).split('\0')
    assert.ok(cmdline.includes(PL_NODE), `the process runs the bundle: ${cmdline.join(' ')}`)
    const health = await (await ControlClient.fromDataDir(dataDir)).request<{ peerId: string }>('GET', '/health')
    assert.equal(health.peerId, node.info.peerId)
    for (const kind of ['js', 'py']) {
      const res = await runCli(['run', join(FIXTURES, 'workflows', `diamond-${kind}`), '--input', '{"number":5}', '--data-dir', dataDir], { env })
      assert.equal(res.code, 0, res.stderr)
      assert.deepEqual(JSON.parse(res.stdout), { number: 18 })
      assert.match(res.stderr, /on the pl-node of/, 'the run went to the bundled daemon')
    }
  } finally {
    assert.equal(await node.stop(), 0)
    await cleanup()
  }
})

test('the code a node loads is ASCII: one other character makes V8 hold a whole file as UTF-16, twice its size', async () => {
  const bundle = dirname(PL_NODE)
  const files = [...(await readdir(bundle)).filter(f => f.endsWith('.mjs')).map(f => join(bundle, f)), join(bundle, '..', 'src', 'spec', 'validators.generated.cjs')]
  assert.ok(files.length > 10, `bundle files: ${files.join(', ')}`)
  for (const file of files) {
    const bytes = await readFile(file)
    const at = bytes.findIndex(b => b > 0x7f)
    assert.equal(at, -1, `${file} has a non-ASCII byte at ${at}: …${bytes.subarray(Math.max(0, at - 60), at + 20).toString()}…`)
  }
})
