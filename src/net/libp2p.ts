/**
 * The libp2p node: tcp + websockets, noise, yamux, identify, ping, a private
 * kad-dht (`/pl/kad/1.0.0`, server mode; `/pl/<network>/kad/1.0.0` on a named
 * network) and gossipsub, bootstrap peers. Opt-in for real networks (see
 * docs/TESTNET.md): circuit relay v2 server and client, AutoNAT, DCUtR, the
 * connection monitor, announce / no-announce addresses.
 */
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, identifyPush } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { bootstrap } from '@libp2p/bootstrap'
import { kadDHT, passthroughMapper, type SingleKadDHT } from '@libp2p/kad-dht'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import type { PeerScoreParams, PeerScoreThresholds } from '@libp2p/gossipsub/score'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { dhtProtocol } from './network.js'
import { announceFilter } from './announce.js'
import { ListenAddressInUseError } from './errors.js'
import { bootstrapPeerId, hasPeerId } from './peer-addr.js'
import type { Identify } from '@libp2p/identify'
import type { Ping } from '@libp2p/ping'

// parsing of configured addresses lives in a light module (the CLI's config loading needs it without libp2p)
export { bootstrapPeerId, hasPeerId }

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
  /** the network name (`--network`): the DHT protocol becomes `/pl/<network>/kad/1.0.0` @default undefined (`/pl/kad/1.0.0`) */
  network?: string
  /** announce exactly these addresses to peers instead of the listen addresses (a public host's address) @default [] */
  announce?: string[]
  /** never announce addresses matching these prefixes (`/ip4/127.0.0.0/ipcidr/8` matches a range) @default [] */
  noAnnounce?: string[]
  /** serve circuit relay v2 (a bootstrap/relay node on a public address) @default false */
  relayServer?: boolean
  /** relays to dial at start and reserve a slot on (multiaddrs with /p2p/<id>); turns the relay client on @default [] */
  relays?: string[]
  /** dial and listen through relays (with no `relays`, any peer that offers relaying) @default false, true when `relays` is set */
  relayClient?: boolean
  /** AutoNAT: peers dial back to confirm this node's addresses @default false */
  autonat?: boolean
  /** DCUtR: upgrade relayed connections to direct ones @default false */
  dcutr?: boolean
  /** ping connections and close dead ones (a cut link otherwise holds a connection open for minutes) @default false */
  connectionMonitor?: boolean
  /**
   * Identify push: tell connected peers at once when this node's addresses
   * change (a relay reservation adds a circuit address, AutoNAT confirms
   * one), instead of waiting for them to ask. On with `--network`. @default false
   */
  identifyPush?: boolean
}



/**
 * What a relay grants a reservation. libp2p's defaults (2 min, 128 KiB) are
 * too small for a negotiated step's input and output; these stay bounded so a
 * public relay cannot be used as a free proxy. In docs/LIMITS.md.
 */
/**
 * How long dialing a relay and making a reservation may take. libp2p's 5 s is
 * for a relay nearby on an idle machine; a failed reservation on a relay that
 * stays connected is not retried, so a node behind NAT would stay unreachable.
 */
export const RELAY_RESERVATION_TIMEOUT_MS = 30_000
/** ping streams per connection and direction (see the ping service below) */
export const PING_MAX_STREAMS = 8
export const RELAY_DURATION_LIMIT_MS = 10 * 60_000
export const RELAY_DATA_LIMIT_BYTES = 16n * 1024n * 1024n

/** The relays of `init` this node reserves a slot on: a relay of a network file that is this node itself is skipped (no reservation on oneself). */
export function relayTargets (init: Pick<Libp2pInit, 'relays'>, self: string): string[] {
  return (init.relays ?? []).filter(a => a.length > 0 && bootstrapPeerId(a) !== self)
}

/** Whether the node dials and listens through relays. */
export function isRelayClient (init: Pick<Libp2pInit, 'relayClient' | 'relayServer'>, relays: string[]): boolean {
  return init.relayClient ?? (relays.length > 0 && init.relayServer !== true)
}

/**
 * gossipsub peer scoring for a local swarm (`localSwarm`: many nodes on one
 * host). gossipsub's IP-colocation factor (P6) penalises every peer that
 * shares an IP with more than 10 others, quadratically: with all nodes on
 * 127.0.0.1 each peer's score is -5 × (peers − 10)², -8 000 at 50 peers and
 * -40 500 at 100, below the gossip, publish and graylist thresholds, so ads
 * stop flowing to and from them (docs/SCALE.md). Here it does not apply
 * (weight 0); the thresholds are also lowered so a loaded machine's slow
 * peers are not cut off. Production keeps gossipsub's defaults (weight -5
 * over 10 peers per IP): there the factor defends against Sybil peers from
 * one host.
 */
export function localSwarmScoring (): { scoreParams: Partial<PeerScoreParams>, scoreThresholds: Partial<PeerScoreThresholds> } {
  return {
    scoreParams: { IPColocationFactorWeight: 0 },
    scoreThresholds: { gossipThreshold: -4000, publishThreshold: -8000, graylistThreshold: -16000 }
  }
}

/**
 * gossipsub's IDONTWANT threshold for a local swarm: never (no message is
 * this large). gossipsub (v1.2) tells its mesh peers IDONTWANT for every
 * message of ≥ 512 bytes it receives first, so that a peer still about to
 * forward the message skips it; on a WAN the peers' copies arrive tens of
 * milliseconds apart and some are saved. On loopback every mesh peer has
 * forwarded its copy before the IDONTWANT arrives: measured at rest in a
 * 40-node in-thread mesh (docs/SCALE.md, "Idle cost of a node at rest"),
 * with and without them, each node received the same ~21 copies of ads a
 * second (7.8 per first copy) plus ~18 IDONTWANT RPCs a second for nothing —
 * 40 % of its RPCs, each a yamux frame, a Noise seal and a socket write at
 * the sender. Production keeps gossipsub's 512 bytes.
 */
export const LOCAL_SWARM_IDONTWANT_MIN_BYTES = Number.POSITIVE_INFINITY

/** The gossipsub options a local swarm (`localSwarm`) changes: its scoring (`localSwarmScoring`) and no IDONTWANT. */
export function localSwarmGossip (): ReturnType<typeof localSwarmScoring> & { idontwantMinDataSize: number } {
  return { ...localSwarmScoring(), idontwantMinDataSize: LOCAL_SWARM_IDONTWANT_MIN_BYTES }
}

export async function createPlLibp2p (init: Libp2pInit): Promise<PlLibp2p> {
  const local = init.localSwarm === true
  const self = peerIdFromPrivateKey(init.privateKey).toString()
  // refuse bad entries before anything starts; id-less ones (learnBootstrapIds) are the BootstrapKeeper's alone;
  // a bootstrap node whose network file names itself skips its own entry
  const bootstrapList = (init.bootstrap ?? []).filter(a => a.length > 0 && (init.learnBootstrapIds !== true || hasPeerId(a)) && bootstrapPeerId(a) !== self)
  const relays = relayTargets(init, self)
  const relayClient = isRelayClient(init, relays)
  // One bare `/p2p-circuit` listen address per wanted reservation: each reserves a slot on a relay
  // among the connected peers (the listed relays are dialed like bootstrap peers). A
  // `<relay>/p2p-circuit` address would instead fail the whole start when that relay does not
  // answer within 5 s — a node behind NAT must start while a relay is down or slow.
  const relayListen = relayClient ? Array(Math.max(1, relays.length)).fill('/p2p-circuit') : []
  const dialAtStart = [...new Set([...bootstrapList, ...(relayClient ? relays : [])])]
  // the NAT modules load only when configured: a plain node starts no slower
  const relayMod = init.relayServer === true || relayClient ? await import('@libp2p/circuit-relay-v2') : undefined
  const natServices: Record<string, unknown> = {
    ...(init.relayServer === true && relayMod != null ? { relay: relayMod.circuitRelayServer({ reservations: { defaultDurationLimit: RELAY_DURATION_LIMIT_MS, defaultDataLimit: RELAY_DATA_LIMIT_BYTES } }) } : {}),
    ...(init.autonat === true ? { autonat: (await import('@libp2p/autonat')).autoNAT() } : {}),
    ...(init.dcutr === true ? { dcutr: (await import('@libp2p/dcutr')).dcutr() } : {}),
    ...(init.identifyPush === true ? { identifyPush: identifyPush() } : {})
  }
  const node = await createLibp2p({
    privateKey: init.privateKey,
    start: false,
    addresses: {
      listen: [...(init.listen ?? ['/ip4/127.0.0.1/tcp/0']), ...relayListen],
      ...(init.announce != null && init.announce.length > 0 ? { announce: init.announce } : {}),
      ...(init.noAnnounce != null && init.noAnnounce.length > 0 ? { announceFilter: announceFilter(init.noAnnounce) } : {})
    },
    transports: [tcp(), webSockets(), ...(relayClient && relayMod != null ? [relayMod.circuitRelayTransport({ reservationCompletionTimeout: RELAY_RESERVATION_TIMEOUT_MS })] : [])],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: dialAtStart.length > 0
      ? [bootstrap({ list: dialAtStart, timeout: 100 })]
      : [],
    connectionManager: {
      maxConnections: init.maxConnections ?? 300,
      ...(local ? { inboundConnectionThreshold: 1000, maxIncomingPendingConnections: 200 } : {})
    },
    connectionMonitor: { enabled: init.connectionMonitor === true },
    services: {
      identify: identify(),
      // the connection monitor pings on the same protocol as this service: with @libp2p/ping's default stream limits
      // (1 out, 2 in) a heartbeat that starts while the last ping (or a console latency ping) is still open fails
      // with TooManyOutboundProtocolStreamsError, and the monitor then aborts a healthy connection — on a loaded
      // machine or a relayed path, the relayed connection to a provider behind NAT (test/netns/nat.test.ts)
      ping: ping({ maxInboundStreams: PING_MAX_STREAMS, maxOutboundStreams: PING_MAX_STREAMS }),
      dht: kadDHT({
        protocol: dhtProtocol(init.network),
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
        ...(local ? localSwarmGossip() : {})
      }),
      ...natServices
    }
  })
  return node as unknown as PlLibp2p
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
