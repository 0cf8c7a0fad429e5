import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { PlLibp2p } from '../net/libp2p.js'

/** Makes the candidate's advertised addresses dialable (a no-op while we hold a connection to it: the peer store write is not free). */
export async function learnAddrs (libp2p: PlLibp2p, peer: string, addrs: string[] | undefined): Promise<void> {
  if (addrs == null || addrs.length === 0) return
  try {
    const id = peerIdFromString(peer)
    if (libp2p.getConnections(id).length > 0) return
    const multiaddrs = addrs.map(a => multiaddr(a)).map(m => m.getComponents().some(c => c.name === 'p2p') ? m.decapsulateCode(421) : m)
    await libp2p.peerStore.merge(id, { multiaddrs })
  } catch {
    // unparsable addresses: dialing by peer id may still work through known routes
  }
}

