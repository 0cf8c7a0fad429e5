/**
 * The libp2p node: tcp + websockets, noise, yamux, identify, ping, a private
 * kad-dht (`/pl/kad/1.0.0`, server mode) and gossipsub, bootstrap peers.
 */
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { bootstrap } from '@libp2p/bootstrap'
import { kadDHT, passthroughMapper, type SingleKadDHT } from '@libp2p/kad-dht'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import type { PrivateKey } from '@libp2p/interface'
import type { Identify } from '@libp2p/identify'
import type { Ping } from '@libp2p/ping'

/** The DHT protocol: a private DHT, never the public IPFS one. */
export const DHT_PROTOCOL = '/pl/kad/1.0.0'

export interface PlServices extends Record<string, unknown> {
  identify: Identify
  ping: Ping
  dht: SingleKadDHT
  pubsub: GossipSub
}

export type PlLibp2p = Libp2p<PlServices>

export interface Libp2pInit {
  privateKey: PrivateKey
  /** @default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  /** multiaddrs (with /p2p/<id>) to dial at start */
  bootstrap?: string[]
  /**
   * Raise connection-manager limits for many nodes on one host. libp2p's
   * defaults (5 inbound connections/s per host, 10 pending) reset dials when
   * a local swarm starts at once; only test and swarm configs set this.
   * @default false
   */
  localSwarm?: boolean
  /** @default 300 */
  maxConnections?: number
  /** Subscribe to gossip at all (tests turn it off to prove DHT-only discovery). @default true */
  gossip?: boolean
}

export async function createPlLibp2p (init: Libp2pInit): Promise<PlLibp2p> {
  const local = init.localSwarm === true
  const bootstrapList = (init.bootstrap ?? []).filter(a => a.length > 0)
  const node = await createLibp2p({
    privateKey: init.privateKey,
    start: false,
    addresses: { listen: init.listen ?? ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: bootstrapList.length > 0 ? [bootstrap({ list: bootstrapList, timeout: 100 })] : [],
    connectionManager: {
      maxConnections: init.maxConnections ?? 300,
      ...(local ? { inboundConnectionThreshold: 1000, maxIncomingPendingConnections: 200 } : {})
    },
    connectionMonitor: { enabled: false },
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        allowQueryWithZeroPeers: false,
        initialQuerySelfInterval: 200
      }),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        globalSignaturePolicy: 'StrictNoSign',
        ...(local ? { scoreThresholds: { gossipThreshold: -4000, publishThreshold: -8000, graylistThreshold: -16000 } } : {})
      })
    }
  })
  return node as unknown as PlLibp2p
}
