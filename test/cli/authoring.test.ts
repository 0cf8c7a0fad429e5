/**
 * Capability authoring end to end: `pl spec scaffold` writes a descriptor
 * that `pl cap publish <folder>` takes as is; a descriptor without a module
 * is warned about; a module edited after publish is reported.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { startNodeProcess, runCli } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'

/** generous: the test machines are shared and loaded; nothing here measures time */
const START_MS = 120_000
const CLI_MS = 120_000

test('pl spec scaffold writes a capability.yaml that pl cap publish <folder> publishes; an edited module shows INACTIVE', async () => {
  const t = await tempDir()
  const node = await startNodeProcess(['--data-dir', join(t.dir, 'node')], {}, START_MS)
  try {
    const folder = join(t.dir, 'summarize')
    const sc = await runCli(['spec', 'scaffold', 'examples/specs/Summarize.v1.json', '--lang', 'ts', '-o', folder], { timeoutMs: CLI_MS })
    assert.equal(sc.code, 0, sc.stderr)
    const specCid = (await runCli(['spec', 'id', 'examples/specs/Summarize.v1.json'], { timeoutMs: CLI_MS })).stdout.trim().split(/\s+/)[0]
    const descriptor = parseYaml(await readFile(join(folder, 'capability.yaml'), 'utf8'))
    assert.equal(descriptor.name, 'Summarize')
    assert.equal(descriptor.version, '1.0.0')
    assert.equal(descriptor.impl, '.')
    assert.deepEqual(descriptor.io, { input: { $ref: `cid:${specCid}#/properties/input` }, output: { $ref: `cid:${specCid}#/properties/output` } })

    const pub = await runCli(['cap', 'publish', folder, '--data-dir', join(t.dir, 'node')], { timeoutMs: CLI_MS })
    assert.equal(pub.code, 0, pub.stderr)
    assert.match(pub.stdout, /^bafy\w+\n$/)
    assert.equal(pub.stderr, '')
    const list = await runCli(['cap', 'list', '--data-dir', join(t.dir, 'node')], { timeoutMs: CLI_MS })
    assert.equal(list.stdout, `Summarize@1.0.0  ${pub.stdout.trim()}  js ${folder}\n`)

    await appendFile(join(folder, 'function.mjs'), '\n// edited after publish\n')
    const after = await runCli(['cap', 'list', '--data-dir', join(t.dir, 'node')], { timeoutMs: CLI_MS })
    assert.match(after.stdout, new RegExp(`^Summarize@1\\.0\\.0 {2}${pub.stdout.trim()} {2}js ${folder} {2}INACTIVE: module folder ${folder} changed since publish \\(now bafy\\w+, published bafy\\w+\\); the node still runs the published code: publish it again\\n$`))
  } finally {
    await node.stop()
    await t.cleanup()
  }
})

test('pl cap publish warns about a descriptor without a module', async () => {
  const t = await tempDir()
  const node = await startNodeProcess(['--data-dir', join(t.dir, 'node')], {}, START_MS)
  try {
    const file = join(t.dir, 'bare.yaml')
    await writeFile(file, 'name: Bare\nversion: 1.0.0\nio:\n  input: { type: object }\n  output: { type: object }\n')
    const pub = await runCli(['cap', 'publish', file, '--data-dir', join(t.dir, 'node')], { timeoutMs: CLI_MS })
    assert.equal(pub.code, 0, pub.stderr)
    assert.equal(pub.stderr, `warning: Bare has no module (no impl: in ${file}, no --impl): this node advertises it but declines every call to it; add impl: ./<module folder> or pass --impl DIR\n`)
    const noDescriptor = await runCli(['cap', 'publish', t.dir, '--data-dir', join(t.dir, 'node')], { timeoutMs: CLI_MS })
    assert.equal(noDescriptor.code, 1)
    assert.match(noDescriptor.stderr, /^error: InvalidDescriptorError: .* is a folder without capability\.yaml/)
  } finally {
    await node.stop()
    await t.cleanup()
  }
})
