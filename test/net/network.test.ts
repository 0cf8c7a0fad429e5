/**
 * Network files (`pl-node start --network`), the announce filter and the
 * per-network protocol names, as pure logic: the shipped files load, every
 * bad document is refused with InvalidNetworkError naming the key, config
 * layers take precedence over the network file.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { loadNetwork, parseNetwork, dhtProtocol } from '../../src/net/network.js'
import { announceFilter } from '../../src/net/announce.js'
import { DHT_PROTOCOL } from '../../src/net/libp2p.js'
import { loadConfig, netInit } from '../../src/cli/index.js'
import { tempDir } from '../helpers/tmp.js'

const ID = '12D3KooWQCXX8c85v2rVpMYaE15pfzStNkGx82vyAovB5S1osjB6'

test('the shipped networks load: testnet (bootstrap, relays, loopback never announced) and local', async () => {
  const testnet = await loadNetwork('testnet')
  assert.equal(testnet.name, 'testnet')
  assert.equal(testnet.bootstrap.length, 2)
  assert.deepEqual(testnet.relays, testnet.bootstrap)
  assert.deepEqual(testnet.noAnnounce, ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'])
  assert.equal(testnet.autonat && testnet.dcutr && testnet.connectionMonitor, true)
  const local = await loadNetwork('local')
  assert.equal(local.name, 'local')
  assert.deepEqual([local.bootstrap, local.relays, local.noAnnounce], [[], [], []])
})

test('the DHT protocol derives from the network; no network keeps /pl/kad/1.0.0', () => {
  assert.equal(dhtProtocol(), DHT_PROTOCOL)
  assert.equal(dhtProtocol(), '/pl/kad/1.0.0')
  assert.equal(dhtProtocol('testnet'), '/pl/testnet/kad/1.0.0')
})

test('refuses bad network documents with InvalidNetworkError naming the problem', async () => {
  const bad: Array<[unknown, RegExp]> = [
    [[], /top level must be a mapping/],
    [{ name: 'x', bootstrapp: [] }, /unknown key "bootstrapp"/],
    [{ name: 'Not OK' }, /name must be 1-32 lower-case letters/],
    [{}, /name must be/],
    [{ name: 'x', bootstrap: '/ip4/1.2.3.4/tcp/1' }, /bootstrap must be a list of multiaddrs/],
    [{ name: 'x', bootstrap: ['not-a-multiaddr'] }, /bootstrap entry not-a-multiaddr is not a multiaddr/],
    [{ name: 'x', relays: ['/ip4/1.2.3.4/tcp/1'] }, /relays entry: bootstrap address .* has no peer id/],
    [{ name: 'x', noAnnounce: [7] }, /noAnnounce entry 7 is not a string/],
    [{ name: 'x', autonat: 'yes' }, /autonat must be true or false/]
  ]
  for (const [doc, message] of bad) {
    assert.throws(() => parseNetwork(doc, 'test'), (err: Error) => err.name === 'InvalidNetworkError' && message.test(err.message), JSON.stringify(doc))
  }
  await assert.rejects(loadNetwork('no-such-network'), (err: Error) => err.name === 'InvalidNetworkError' && /cannot read .*networks\/no-such-network\.yaml: ENOENT/.test(err.message))
  const t = await tempDir()
  try {
    const file = join(t.dir, 'broken.yaml')
    await writeFile(file, 'name: [unclosed\n')
    await assert.rejects(loadNetwork(file), (err: Error) => err.name === 'InvalidNetworkError' && /does not parse/.test(err.message))
  } finally { await t.cleanup() }
})

test('announce filter: drops addresses in a range or under a prefix, keeps the rest', () => {
  const filter = announceFilter(['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128', '/ip4/10.9.9.9/tcp/4002'])
  const addrs = ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.8.0.3/tcp/4001', '/ip4/10.213.1.2/tcp/4001', '/ip6/::1/tcp/4001', '/ip6/fd00::1/tcp/4001', '/ip4/10.9.9.9/tcp/4002/ws', '/ip4/10.9.9.9/tcp/40021']
  assert.deepEqual(filter(addrs.map(a => multiaddr(a))).map(a => a.toString()), ['/ip4/10.213.1.2/tcp/4001', '/ip6/fd00::1/tcp/4001', '/ip4/10.9.9.9/tcp/40021'])
  assert.deepEqual(announceFilter(['/ip4/10.0.0.0/ipcidr/8'])([multiaddr('/ip4/11.0.0.1/tcp/1'), multiaddr('/dns4/a.example/tcp/1')]).map(String), ['/ip4/11.0.0.1/tcp/1', '/dns4/a.example/tcp/1'])
})

test('config: the network file fills bootstrap, relays and NAT settings unless a flag, env var or config file sets them', async () => {
  const t = await tempDir()
  try {
    const file = join(t.dir, 'net.yaml')
    await writeFile(file, `name: mynet\nbootstrap: [/ip4/10.0.0.1/tcp/4001/p2p/${ID}]\nrelays: [/ip4/10.0.0.1/tcp/4001/p2p/${ID}]\nnoAnnounce: [/ip4/127.0.0.0/ipcidr/8]\nautonat: true\ndcutr: false\n`)
    const fromFile = await loadConfig({ network: file, dataDir: t.dir }, {})
    assert.equal(fromFile.networkInfo?.name, 'mynet')
    assert.deepEqual(fromFile.bootstrap, [`/ip4/10.0.0.1/tcp/4001/p2p/${ID}`])
    const net = netInit(fromFile)
    assert.deepEqual({ ...net }, {
      network: 'mynet',
      announce: [],
      noAnnounce: ['/ip4/127.0.0.0/ipcidr/8'],
      relayServer: false,
      relays: [`/ip4/10.0.0.1/tcp/4001/p2p/${ID}`],
      autonat: true,
      dcutr: false,
      connectionMonitor: true,
      identifyPush: true
    })
    const flagged = await loadConfig({ network: file, dataDir: t.dir, bootstrap: [`/ip4/10.0.0.2/tcp/4001/p2p/${ID}`] }, { PL_AUTONAT: 'false' })
    assert.deepEqual(flagged.bootstrap, [`/ip4/10.0.0.2/tcp/4001/p2p/${ID}`])
    assert.equal(flagged.autonat, false)
    const none = await loadConfig({ dataDir: t.dir }, {})
    assert.equal(netInit(none).network, undefined)
    assert.equal(netInit(none).identifyPush, false)
    await assert.rejects(loadConfig({ network: join(t.dir, 'missing.yaml'), dataDir: t.dir }, {}), (err: Error) => err.name === 'InvalidNetworkError')
  } finally { await t.cleanup() }
})

test('gossip topics carry the network name on the wire; the default network keeps the plain names', async () => {
  const { Gossip } = await import('../../src/net/gossip.js')
  const named = new Gossip({} as any, { network: 'testnet' })
  assert.equal(named.wireTopic('pl/v1/catalog'), 'pl/testnet/v1/catalog')
  assert.equal(named.wireTopic('pl/v1/cfp/Summarize'), 'pl/testnet/v1/cfp/Summarize')
  assert.equal(new Gossip({} as any).wireTopic('pl/v1/catalog'), 'pl/v1/catalog')
})
