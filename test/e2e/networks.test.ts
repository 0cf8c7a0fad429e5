/**
 * Two networks on one machine do not mix: `pl-node start --network` puts the
 * network's name into the DHT protocol and the gossip topics. Network alpha
 * has a provider; a node of network beta that is even connected to alpha's
 * bootstrap (its bootstrap list names it) finds nothing of alpha, while an
 * alpha node finds the provider.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startNodeProcess, type NodeProcess } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/mesh.js'
import { packageRoot } from '../../src/core/paths.js'
import { ControlClient } from '../../src/api/client.js'

const SLOW_ECHO = join(packageRoot(), 'test', 'fixtures-e2e', 'slow-echo', 'capability.yaml')
const START_MS = 300_000

test('two networks on one machine never mix: a connected node of another network finds none of its capabilities', { timeout: 600_000 }, async () => {
  const t = await tempDir('pl-e2e-networks-')
  const procs: NodeProcess[] = []
  try {
    for (const name of ['alpha', 'beta']) await writeFile(join(t.dir, `${name}.yaml`), `name: ${name}\n`)
    const provider = join(t.dir, 'provider.json')
    await writeFile(provider, JSON.stringify({ services: { capabilities: [{ file: SLOW_ECHO, price: 1 }] } }))
    const node = async (name: string, network: string, extra: string[] = []): Promise<NodeProcess> => {
      const p = await startNodeProcess(['--data-dir', join(t.dir, name), '--network', join(t.dir, `${network}.yaml`), ...extra], {}, START_MS)
      procs.push(p)
      return p
    }
    const a0 = await node('a0', 'alpha')
    const b0 = await node('b0', 'beta')
    const [a1] = await Promise.all([
      node('a1', 'alpha', ['--bootstrap', a0.info.addrs[0], '--config', provider]),
      node('a2', 'alpha', ['--bootstrap', a0.info.addrs[0]]),
      // beta's requester dials alpha's bootstrap too: connected, yet on another network
      node('b1', 'beta', ['--bootstrap', b0.info.addrs[0], a0.info.addrs[0]])
    ])
    const [ca2, cb1] = await Promise.all([ControlClient.fromDataDir(join(t.dir, 'a2')), ControlClient.fromDataDir(join(t.dir, 'b1'))])

    await waitFor(async () => {
      const found = await ca2.request<any[]>('GET', '/caps/find?name=SlowEcho&timeout=3000').catch(() => [])
      return found.some(f => f.provider === a1.info.peerId)
    }, 120_000, 'alpha\'s requester to find the provider')
    await waitFor(async () => (await cb1.request<any[]>('GET', '/peers')).some(p => p.peerId === a0.info.peerId), 60_000, 'beta\'s node connected to alpha\'s bootstrap')

    // beta looks for as long as alpha needed, several times: nothing of alpha, by DHT or gossip
    for (let i = 0; i < 3; i++) {
      const found = await cb1.request<any[]>('GET', '/caps/find?name=SlowEcho&timeout=3000')
      assert.deepEqual(found, [], 'beta finds nothing of alpha')
    }
    const peers = await cb1.request<any[]>('GET', '/peers')
    assert.ok(!peers.some(p => p.peerId === a1.info.peerId), 'beta never learned alpha\'s provider through the DHT')
    void b0
  } finally {
    const codes = await Promise.all(procs.map(async p => await p.stop()))
    await t.cleanup()
    assert.deepEqual(codes, procs.map(() => 0))
  }
})
