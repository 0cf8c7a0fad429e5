/** An open call's signed `reply_to` cannot aim every provider's dialer at arbitrary hosts. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { createIdentity } from '../../src/core/index.js'
import { learnAddrs, onPrivateNetwork, isPrivateIp } from '../../src/negotiation/addrs.js'

function fakeLibp2p (known: string[] = [], own: string[] = ['/ip4/127.0.0.1/tcp/1']): { libp2p: any, merged: string[][] } {
  const merged: string[][] = []
  const libp2p = {
    getConnections: () => [],
    getMultiaddrs: () => own.map(a => multiaddr(a)),
    peerStore: {
      get: async () => known.length > 0 ? { addresses: known.map(a => ({ multiaddr: multiaddr(a) })) } : await Promise.reject(new Error('not found')),
      merge: async (_id: unknown, data: { multiaddrs: any[] }) => { merged.push(data.multiaddrs.map(m => m.toString())) }
    }
  }
  return { libp2p, merged }
}

test('drops loopback and private reply_to addresses unless private ones are allowed', async () => {
  const peer = (await createIdentity()).id
  const addrs = ['/ip4/127.0.0.1/tcp/4001', '/ip4/10.1.2.3/tcp/4001', '/ip4/192.168.1.9/tcp/4001', '/ip4/8.8.8.8/tcp/4001', '/ip6/::1/tcp/4001']
  const { libp2p, merged } = fakeLibp2p()
  await learnAddrs(libp2p, peer, addrs, { allowPrivate: false })
  assert.deepEqual(merged, [['/ip4/8.8.8.8/tcp/4001']])
  await learnAddrs(libp2p, peer, ['/ip4/127.0.0.1/tcp/4001'], { allowPrivate: false })
  assert.equal(merged.length, 1, 'nothing left to learn')
  await learnAddrs(libp2p, peer, ['/ip4/127.0.0.1/tcp/4001'], { allowPrivate: true })
  assert.deepEqual(merged[1], ['/ip4/127.0.0.1/tcp/4001'])
})

test('uses reply_to only when no route to the caller is known', async () => {
  const peer = (await createIdentity()).id
  const { libp2p, merged } = fakeLibp2p(['/ip4/8.8.4.4/tcp/1'])
  await learnAddrs(libp2p, peer, ['/ip4/8.8.8.8/tcp/4001'], { onlyWithoutRoute: true })
  assert.deepEqual(merged, [])
})

test('a node listening only on loopback or private addresses is on a private network', () => {
  assert.equal(onPrivateNetwork(fakeLibp2p([], ['/ip4/127.0.0.1/tcp/1']).libp2p), true)
  assert.equal(onPrivateNetwork(fakeLibp2p([], ['/ip4/127.0.0.1/tcp/1', '/ip4/1.2.3.4/tcp/1']).libp2p), false)
  assert.equal(isPrivateIp('172.20.0.1'), true)
  assert.equal(isPrivateIp('172.32.0.1'), false)
  assert.equal(isPrivateIp('fe80::1'), true)
})
