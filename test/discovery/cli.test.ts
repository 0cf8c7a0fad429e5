import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Command } from 'commander'
import { readDescriptorFile, register } from '../../src/cli/commands/cap.js'
import { tempDir } from '../helpers/tmp.js'

test('a descriptor file may name its module folder relative to itself; impl is stripped from the descriptor', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    await writeFile(join(dir, 'a.yaml'), 'name: A\nversion: "1"\nimpl: ./module_a\nio: { input: {}, output: {} }\n')
    assert.deepEqual(await readDescriptorFile(join(dir, 'a.yaml')), { descriptor: { name: 'A', version: '1', io: { input: {}, output: {} } }, impl: { dir: join(dir, 'module_a') } })
    await writeFile(join(dir, 'b.json'), JSON.stringify({ name: 'B', version: '1', impl: { dir: 'm', className: 'Runner' } }))
    assert.deepEqual((await readDescriptorFile(join(dir, 'b.json'))).impl, { dir: join(dir, 'm'), className: 'Runner' })
    await writeFile(join(dir, 'c.json'), JSON.stringify({ name: 'C', version: '1' }))
    assert.equal((await readDescriptorFile(join(dir, 'c.json'))).impl, undefined)
  } finally { await cleanup() }
})

test('refuses descriptor files that are not a mapping, do not parse, or have a bad impl', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    await writeFile(join(dir, 'list.yaml'), '- just\n- a list\n')
    await assert.rejects(readDescriptorFile(join(dir, 'list.yaml')), { name: 'InvalidDescriptorError', message: /must be a mapping/ })
    await writeFile(join(dir, 'bad.json'), '{ "name": ')
    await assert.rejects(readDescriptorFile(join(dir, 'bad.json')), { name: 'InvalidDescriptorError', message: /not valid JSON or YAML/ })
    await writeFile(join(dir, 'impl.yaml'), 'name: A\nimpl: 42\n')
    await assert.rejects(readDescriptorFile(join(dir, 'impl.yaml')), { name: 'InvalidDescriptorError', message: /impl must be a module folder path/ })
    await assert.rejects(readDescriptorFile(join(dir, 'missing.yaml')), { name: 'InvalidDescriptorError', message: /ENOENT/ })
  } finally { await cleanup() }
})

test('registers pl cap publish, unpublish, list and find', () => {
  const program = new Command('pl')
  register(program)
  const cap = program.commands.find(c => c.name() === 'cap')
  assert.deepEqual(cap?.commands.map(c => c.name()), ['publish', 'unpublish', 'list', 'find'])
  const find = cap?.commands.find(c => c.name() === 'find')
  assert.deepEqual(find?.options.map(o => o.long).filter(l => ['--attr', '--policy', '--io-match', '--json', '--timeout'].includes(l ?? '')), ['--attr', '--policy', '--io-match', '--timeout', '--json'])
})

test('the services.discovery config section is checked: unknown keys and bad values are DiscoveryConfigError', async () => {
  const { discoveryInitFromConfig } = await import('../../src/discovery/config.js')
  assert.deepEqual(discoveryInitFromConfig(undefined, { gossip: false }), { gossip: false })
  assert.deepEqual(discoveryInitFromConfig({ ttlMs: 5000, controlRoutes: false }, { gossip: true }), { ttlMs: 5000, controlRoutes: false, gossip: true })
  assert.throws(() => discoveryInitFromConfig({ ttl: 5 }), { name: 'DiscoveryConfigError', message: /unknown key "ttl"/ })
  assert.throws(() => discoveryInitFromConfig({ ttlMs: -1 }), { name: 'DiscoveryConfigError', message: /ttlMs must be a positive number/ })
  assert.throws(() => discoveryInitFromConfig({ ttlMs: 25 * 3_600_000 }), { name: 'DiscoveryConfigError', message: /at most 86400000 \(24 h\)/ })
  assert.throws(() => discoveryInitFromConfig({ gossip: 'yes' }), { name: 'DiscoveryConfigError' })
  assert.deepEqual(discoveryInitFromConfig({ adSets: false }), { adSets: false })
  assert.throws(() => discoveryInitFromConfig({ adSets: 'no' }), { name: 'DiscoveryConfigError', message: /adSets must be true or false/ })
  assert.throws(() => discoveryInitFromConfig([1]), { name: 'DiscoveryConfigError' })
})
