import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { PlLibp2p } from '../net/index.js'

/** True for loopback, private, link-local, unspecified and shared (CGNAT) IPs, and `localhost`. */
export function isPrivateIp (ip: string): boolean {
  const v = ip.toLowerCase()
  if (v.includes(':')) {
    return v === '::' || v === '::1' || v.startsWith('fc') || v.startsWith('fd') || /^fe[89ab]/.test(v) || (v.startsWith('::ffff:') && isPrivateIp(v.slice(7)))
  }
  const p = v.split('.').map(Number)
  if (p.length !== 4 || p.some(n => !Number.isInteger(n) || n < 0 || n > 255)) return false
  const [a, b] = p
  return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127)
}

/** Whether a multiaddr points at a loopback or private host (unparsable hosts count as private). */
export function isPrivateAddr (m: Multiaddr): boolean {
  const host = m.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6' || c.name === 'dns' || c.name === 'dns4' || c.name === 'dns6' || c.name === 'dnsaddr')
  if (host?.value == null) return true
  if (host.name.startsWith('dns')) return host.value === 'localhost' || host.value.endsWith('.localhost')
  return isPrivateIp(host.value)
}

/**
 * Whether this node runs in a local or private network (every address it
 * listens on is loopback or private): only then are a caller's private
 * addresses worth dialing.
 */
export function onPrivateNetwork (libp2p: PlLibp2p): boolean {
  const own = libp2p.getMultiaddrs()
  return own.length > 0 && own.every(isPrivateAddr)
}

export interface LearnAddrsOptions {
  /** keep loopback and private addresses @default true */
  allowPrivate?: boolean
  /** learn them only when the peer store knows no address of the peer yet @default false */
  onlyWithoutRoute?: boolean
}

/** Makes the candidate's advertised addresses dialable (a no-op while we hold a connection to it: the peer store write is not free). */
export async function learnAddrs (libp2p: PlLibp2p, peer: string, addrs: string[] | undefined, options: LearnAddrsOptions = {}): Promise<void> {
  if (addrs == null || addrs.length === 0) return
  try {
    const id = peerIdFromString(peer)
    if (libp2p.getConnections(id).length > 0) return
    if (options.onlyWithoutRoute === true) {
      const known = await libp2p.peerStore.get(id).then(p => p.addresses.length, () => 0)
      if (known > 0) return
    }
    let multiaddrs = addrs.map(a => multiaddr(a)).map(m => m.getComponents().some(c => c.name === 'p2p') ? m.decapsulateCode(421) : m)
    if (options.allowPrivate === false) multiaddrs = multiaddrs.filter(m => !isPrivateAddr(m))
    if (multiaddrs.length === 0) return
    await libp2p.peerStore.merge(id, { multiaddrs })
  } catch {
    // unparsable addresses: dialing by peer id may still work through known routes
  }
}
