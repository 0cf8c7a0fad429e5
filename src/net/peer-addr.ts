/**
 * Peer ids in configured multiaddrs (bootstrap peers, relays). Kept apart
 * from ./libp2p.ts so that config loading (`pl`, `pl-node health`) checks
 * addresses without loading libp2p.
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { InvalidBootstrapAddressError } from './errors.js'

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
