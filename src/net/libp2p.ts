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
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { PrivateKey } from '@libp2p/interface'
import { InvalidBootstrapAddressError, ListenAddressInUseError } from './errors.js'
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
  /** multiaddrs (with /p2p/<id>, unless `learnBootstrapIds`) to dial at start */
  bootstrap?: string[]
  /** accept bootstrap addresses without /p2p/<id> (src/net/bootstrap-keeper.ts dials them) @default false */
  learnBootstrapIds?: boolean
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
  // refuse bad entries before anything starts; id-less ones (learnBootstrapIds) are the BootstrapKeeper's alone
  const bootstrapList = (init.bootstrap ?? []).filter(a => a.length > 0 && (init.learnBootstrapIds !== true || hasPeerId(a)))
  for (const addr of bootstrapList) bootstrapPeerId(addr)
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

/** The `/p2p/<id>` of a bootstrap multiaddr; InvalidBootstrapAddressError when it has none or does not parse. */
export function bootstrapPeerId (addr: string): string {
  let ma: Multiaddr
  try {
    ma = multiaddr(addr)
  } catch (err) {
    throw new InvalidBootstrapAddressError(`bootstrap address ${addr} is not a multiaddr: ${(err as Error).message}`, { addr })
  }
  const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
  if (id == null) {
    throw new InvalidBootstrapAddressError(`bootstrap address ${addr} has no peer id: append /p2p/<peerId> (pl-node id --data-dir <its dir> prints it), or pass --learn-bootstrap-ids to accept whoever answers there (trusted networks only)`, { addr })
  }
  return id
}

/** Whether a (parseable) multiaddr ends in `/p2p/<id>`; InvalidBootstrapAddressError when it does not parse. */
export function hasPeerId (addr: string): boolean {
  try {
    return multiaddr(addr).getComponents().some(c => c.name === 'p2p')
  } catch (err) {
    throw new InvalidBootstrapAddressError(`bootstrap address ${addr} is not a multiaddr: ${(err as Error).message}`, { addr })
  }
}

/** The multiaddr without its trailing `/p2p/<id>`: dialing it learns whoever answers. */
export function withoutPeerId (addr: string): Multiaddr {
  const parts = multiaddr(addr).getComponents()
  while (parts.length > 0 && parts[parts.length - 1].name === 'p2p') parts.pop()
  return multiaddr(parts.map(c => `/${c.name}${c.value != null ? `/${c.value}` : ''}`).join(''))
}

/**
 * Turns libp2p's multi-line UnsupportedListenAddressesError (one line per
 * failed address, with stacks) into one ListenAddressInUseError line when an
 * address is taken; other errors pass through.
 */
export function listenError (err: unknown): unknown {
  const e = err as Error
  if (e?.name !== 'UnsupportedListenAddressesError') return err
  const busy = [...String(e.message).matchAll(/^\s*(\/\S+): .*EADDRINUSE/gm)].map(m => m[1])
  if (busy.length === 0) return err
  const port = /\/tcp\/(\d+)/.exec(busy[0])?.[1]
  const free = busy[0].replace(/\/tcp\/\d+/, '/tcp/0')
  return new ListenAddressInUseError(`${busy.join(', ')} ${busy.length === 1 ? 'is' : 'are'} in use (another pl-node?); use --listen ${free}${port != null ? ' or another port' : ''}`, { addrs: busy })
}
