/**
 * Raw baseline of the cold-start and idle benches: a bare libp2p node with
 * the transports and services a pl-node runs (TCP, WebSockets, noise, yamux,
 * identify, ping, kad-dht, gossipsub) and nothing of pl. Prints one
 * `{"event":"started"}` line once it listens; stops on SIGTERM.
 * Usage: node bare-libp2p.js
 */
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { gossipsub } from '@libp2p/gossipsub'

const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp(), webSockets()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    ping: ping(),
    dht: kadDHT({ protocol: '/pl/kad/1.0.0', clientMode: false, peerInfoMapper: passthroughMapper }),
    pubsub: gossipsub({ emitSelf: false, globalSignaturePolicy: 'StrictNoSign' })
  }
})
process.stdout.write(JSON.stringify({ event: 'started', peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) }) + '\n')
process.once('SIGTERM', () => { void Promise.resolve(node.stop()).then(() => process.exit(0)) })
// a bench interrupted before it stops this node: exit when the parent is gone (reparented)
const parent = process.ppid
setInterval(() => { if (process.ppid !== parent) process.exit(0) }, 1000).unref()
