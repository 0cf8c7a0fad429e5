/**
 * Stopping a node at any point of its start is clean (a SIGTERM to a
 * starting `pl-node` — the swarm launcher stopping a node still booting —
 * ended with "Pubsub has not started"), and a second start() while one is in
 * flight waits for it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PlNode } from '../../src/node.js'
import { tempDir } from '../helpers/tmp.js'

for (const ticks of [0, 1, 5, 50]) {
  test(`stop() ${ticks} event-loop turns into start(): no error, the node ends stopped and its store is closed`, async (t) => {
    const { dir, cleanup } = await tempDir('pl-start-stop-')
    t.after(cleanup)
    const node = await PlNode.create({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], localSwarm: true, controlApi: false })
    const started = node.start()
    for (let i = 0; i < ticks; i++) await new Promise(resolve => setImmediate(resolve))
    await node.stop()
    await started
    assert.equal(node.libp2p.status, 'stopped')
    await assert.rejects(node.start(), /cannot be started again/)
  })
}

test('start() twice at once starts once; both resolve when the node is started', async (t) => {
  const { dir, cleanup } = await tempDir('pl-start-twice-')
  t.after(cleanup)
  const node = await PlNode.create({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], localSwarm: true, controlApi: false })
  t.after(async () => { await node.stop() })
  await Promise.all([node.start(), node.start()])
  assert.equal(node.libp2p.status, 'started')
  assert.ok(node.addrs().length > 0)
})
