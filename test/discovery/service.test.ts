import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PlNode } from '../../src/node.js'
import type { TestMesh } from '../helpers/mesh.js'
import type { CapabilityQuery } from '../../src/discovery/types.js'
import { discovery, type Discovery } from '../../src/discovery/index.js'
import { tempDir } from '../helpers/tmp.js'
import { discoMesh, disc, descriptorInput, jsModule, waitFor } from './helpers.js'

describe('three nodes (ad TTL 60 s)', () => {
  let mesh: TestMesh
  let a: PlNode, b: PlNode, c: PlNode
  let tmp: { dir: string, cleanup: () => Promise<void> }
  const count = async (n: PlNode, name: string): Promise<number> => (await disc(n).find({ name }, { localOnly: true })).length

  before(async () => {
    tmp = await tempDir()
    mesh = await discoMesh({ nodes: 3, ttlMs: 60_000 })
    ;[a, b, c] = mesh.nodes
    await mesh.connected(1)
  })
  after(async () => {
    await mesh.stop()
    await tmp.cleanup()
  })

  test('a capability published on one node is found on another via gossip, with descriptor, provider and addrs', async () => {
    const dir = await jsModule(tmp.dir)
    const { cid, descriptor } = await disc(c).publish(descriptorInput(), { dir })
    assert.equal(descriptor.provider, c.peerId)
    assert.ok(descriptor.module?.cid.startsWith('bafy'))
    await waitFor(async () => await count(a, 'Summarize') === 1, 20_000, 'the ad on node 0')
    const [found] = await disc(a).find({ name: 'Summarize' }, { localOnly: true })
    assert.equal(found.cid, cid)
    assert.equal(found.provider, c.peerId)
    assert.equal(found.source, 'gossip')
    assert.deepEqual(found.descriptor, descriptor)
    assert.ok(found.addrs.length > 0)
    assert.ok(found.expires > Date.now())
    // the provider finds its own capability as local
    assert.equal((await disc(c).find({ name: 'Summarize' }, { localOnly: true }))[0].source, 'local')
    // the executor's view
    const spec = disc(c).localCapability('Summarize')
    assert.equal(spec?.dir, dir)
    assert.equal(spec?.cid, descriptor.module?.cid)
    assert.equal(disc(a).localCapability('Summarize'), undefined)
  })

  test('find filters heard capabilities on attrs, policies and io', async () => {
    await waitFor(async () => await count(b, 'Summarize') === 1, 20_000, 'the ad on node 1')
    const find = async (q: Omit<CapabilityQuery, 'name'>): Promise<number> => (await disc(b).find({ name: 'Summarize', ...q }, { localOnly: true })).length
    assert.equal(await find({ attrs: [{ key: 'readability', op: '>=', value: 0.8 }], policies: ['cid:pol-PII-no-exfil'] }), 1)
    assert.equal(await find({ attrs: [{ key: 'coverage', op: '>=', value: 0.8 }] }), 0)
    assert.equal(await find({ policies: ['hipaa'] }), 0)
    assert.equal(await find({ io: { output: { type: 'object', properties: { summary: { type: 'string' } }, required: ['summary'] } } }), 1)
    assert.equal(await find({ io: { output: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] } } }), 0)
    assert.equal(await find({ version: '9.9.9' }), 0)
    await assert.rejects(disc(b).find({ name: 'Summarize', attrs: [{ key: 'x', op: '~' as any, value: 1 }] }), { name: 'InvalidCapabilityQueryError' })
  })

  test('unpublish sends a withdrawal: other nodes drop the capability before its TTL', async () => {
    const { cid } = await disc(b).publish(descriptorInput('Translate'))
    await waitFor(async () => await count(a, 'Translate') === 1, 20_000, 'the ad')
    assert.deepEqual(await disc(b).unpublish('Translate'), [cid])
    await waitFor(async () => await count(a, 'Translate') === 0, 10_000, 'the withdrawal')
    assert.deepEqual(disc(b).localCapabilities(), [])
    await assert.rejects(disc(b).unpublish(cid), { name: 'CapabilityNotFoundError' })
  })

  test('a new descriptor for the same name and version replaces the old one; other versions stay', async () => {
    const d = disc(c)
    const one = await d.publish(descriptorInput('Rank', { price: 1 }))
    const two = await d.publish(descriptorInput('Rank', { price: 2 }))
    const v2 = await d.publish(descriptorInput('Rank', { version: '2.0.0' }))
    assert.notEqual(one.cid, two.cid)
    assert.deepEqual(d.localCapabilities().filter(x => x.descriptor.name === 'Rank').map(x => x.cid).sort(), [two.cid, v2.cid].sort())
    const found = await d.find({ name: 'Rank' }, { localOnly: true })
    assert.deepEqual(found.map(f => f.descriptor.version), ['2.0.0', '1.0.0'], 'newest version first')
    assert.equal((await d.find({ name: 'Rank', version: '1.0.0' }, { localOnly: true }))[0].cid, two.cid)
    await waitFor(async () => (await disc(a).find({ name: 'Rank' }, { localOnly: true })).map(f => f.cid).sort().join() === [two.cid, v2.cid].sort().join(), 20_000, 'node 0 to hold only the replacement and v2')
  })

  test('publish refuses bad descriptors and bad module folders with typed errors', async () => {
    const d = disc(c)
    const before = d.localCapabilities().length
    await assert.rejects(d.publish({ name: 'A', version: '1' } as any), { name: 'InvalidBodyError' })
    await assert.rejects(d.publish(descriptorInput('A', { provider: '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo' })), { name: 'ProviderMismatchError' })
    await assert.rejects(d.publish(descriptorInput('A', { io: { input: { type: 'object', description: 'x'.repeat(70_000) }, output: {} } })), { name: 'DescriptorTooLargeError' })
    await assert.rejects(d.publish(descriptorInput('A'), { dir: join(tmp.dir, 'missing') }), { name: 'ModuleFolderError' })
    assert.equal(d.localCapabilities().length, before)
  })

  test('a graceful stop withdraws the node\'s ads', async () => {
    await waitFor(async () => await count(a, 'Summarize') === 1, 20_000, 'the ad')
    await c.stop()
    await waitFor(async () => await count(a, 'Summarize') === 0 && await count(a, 'Rank') === 0, 10_000, 'the withdrawals at stop')
  })
})

test('ads are re-signed and re-sent before their TTL, so a live capability never expires', async () => {
  const mesh = await discoMesh({ nodes: 2, ttlMs: 600 })
  try {
    await mesh.connected(1)
    const [a, b] = mesh.nodes
    await disc(b).publish(descriptorInput())
    await waitFor(async () => (await disc(a).find({ name: 'Summarize' }, { localOnly: true })).length === 1, 20_000, 'the ad')
    const first = (await disc(a).find({ name: 'Summarize' }, { localOnly: true }))[0].expires
    await waitFor(() => disc(b).adsSent >= 4, 10_000, 'several re-ads')
    const later = await disc(a).find({ name: 'Summarize' }, { localOnly: true })
    assert.equal(later.length, 1, 'still found after several TTLs')
    assert.ok(later[0].expires > first, 'with a later expiry')
  } finally { await mesh.stop() }
})

test('published capabilities persist and are re-advertised after a restart; a changed module folder is not', async () => {
  const tmp = await tempDir()
  const other = await tempDir()
  const dataDir = join(tmp.dir, 'node')
  try {
    const dir = await jsModule(tmp.dir, 'module_a')
    const changed = await jsModule(tmp.dir, 'module_b')
    let node = await PlNode.create({ dataDir, controlApi: false, services: { discovery: discovery({ ttlMs: 2_000 }) } })
    await node.start()
    const a = await node.service<Discovery>('discovery').publish(descriptorInput('Alpha'), { dir })
    await node.service<Discovery>('discovery').publish(descriptorInput('Beta'), { dir: changed })
    await node.stop()
    await writeFile(join(changed, 'function.mjs'), 'export default class X { eval () { return 1 } }\n')

    node = await PlNode.create({ dataDir, controlApi: false, services: { discovery: discovery({ ttlMs: 2_000 }) } })
    const watcher = await PlNode.create({ dataDir: other.dir, controlApi: false, services: { discovery: discovery({ ttlMs: 2_000 }) } })
    try {
      await node.start()
      await watcher.start()
      await watcher.libp2p.dial(node.libp2p.getMultiaddrs()[0])
      const d = node.service<Discovery>('discovery')
      const caps = d.localCapabilities()
      assert.deepEqual(caps.map(c => [c.descriptor.name, c.active]), [['Alpha', true], ['Beta', false]])
      assert.match(caps[1].problem ?? '', /changed since publish/)
      assert.equal(d.localCapability('Alpha')?.cid, a.descriptor.module?.cid)
      assert.equal(d.localCapability('Beta'), undefined, 'a module whose code changed is not run')
      await waitFor(async () => (await watcher.service<Discovery>('discovery').find({ name: 'Alpha' }, { localOnly: true })).length === 1, 20_000, 'the re-advertised capability')
      assert.equal((await watcher.service<Discovery>('discovery').find({ name: 'Beta' }, { localOnly: true })).length, 0)
    } finally {
      await node.stop()
      await watcher.stop()
    }
  } finally {
    await tmp.cleanup()
    await other.cleanup()
  }
})

test('the sandbox permissions a module asks for in impl are kept at publish and after a restart', async () => {
  const tmp = await tempDir()
  const dataDir = join(tmp.dir, 'node')
  try {
    const dir = await jsModule(tmp.dir, 'module_p')
    let node = await PlNode.create({ dataDir, controlApi: false, services: { discovery: discovery() } })
    await node.start()
    try {
      await node.service<Discovery>('discovery').publish(descriptorInput('Spawner'), { dir, permissions: ['child-process'] })
      assert.deepEqual(node.service<Discovery>('discovery').localCapability('Spawner')?.permissions, ['child-process'])
    } finally {
      await node.stop()
    }
    node = await PlNode.create({ dataDir, controlApi: false, services: { discovery: discovery() } })
    await node.start()
    try {
      assert.deepEqual(node.service<Discovery>('discovery').localCapability('Spawner')?.permissions, ['child-process'], 'restored from the stored record')
    } finally {
      await node.stop()
    }
  } finally {
    await tmp.cleanup()
  }
})
