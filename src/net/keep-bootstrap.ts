/**
 * Keeps a node joined to its bootstrap peers on a real network: libp2p's
 * bootstrap module dials them once at start, so a node whose first dial
 * failed (a loaded or restarting bootstrap) or whose link was cut stays
 * alone. This libp2p service checks every few seconds and redials each
 * bootstrap peer it has no connection to, backing off while it fails.
 *
 * @example
 * createLibp2p({ services: { keepBootstrap: keepBootstrap({ list: ['/ip4/10.0.0.1/tcp/4001/p2p/12D3KooW...'] }) } })
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { ComponentLogger, Logger, PeerId, Startable } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

/** Check interval while every bootstrap peer is connected. */
export const KEEP_BOOTSTRAP_CHECK_MS = 5_000
/** First redial delay after a failure; grows ×1.5 up to KEEP_BOOTSTRAP_MAX_MS. */
export const KEEP_BOOTSTRAP_RETRY_MS = 2_000
export const KEEP_BOOTSTRAP_MAX_MS = 60_000
/** Budget of one redial. */
const DIAL_MS = 10_000

export interface KeepBootstrapInit { list: string[] }
export interface KeepBootstrapComponents { connectionManager: ConnectionManager, logger: ComponentLogger }

class KeepBootstrap implements Startable {
  private timer?: NodeJS.Timeout
  private delay = KEEP_BOOTSTRAP_RETRY_MS
  private running = false
  private readonly peers: Array<{ addr: string, id: PeerId }>
  private readonly log: Logger

  constructor (private readonly c: KeepBootstrapComponents, init: KeepBootstrapInit) {
    this.peers = init.list.map(addr => ({ addr, id: peerIdFromString(multiaddr(addr).getComponents().findLast(p => p.name === 'p2p')?.value ?? '') }))
    this.log = c.logger.forComponent('pl:keep-bootstrap')
  }

  start (): void { this.running = true }

  afterStart (): void { this.schedule(KEEP_BOOTSTRAP_CHECK_MS) }

  stop (): void {
    this.running = false
    clearTimeout(this.timer)
  }

  private schedule (ms: number): void {
    if (!this.running) return
    this.timer = setTimeout(() => { void this.check() }, ms)
    this.timer.unref()
  }

  private async check (): Promise<void> {
    const missing = this.peers.filter(p => this.c.connectionManager.getConnections(p.id).length === 0)
    let failed = false
    await Promise.all(missing.map(async (p) => {
      try {
        await this.c.connectionManager.openConnection(multiaddr(p.addr), { signal: AbortSignal.timeout(DIAL_MS) })
        this.log('rejoined bootstrap %s', p.addr)
      } catch (err) {
        failed = true
        this.log('bootstrap %s still unreachable: %s', p.addr, (err as Error).message)
      }
    }))
    if (failed) {
      this.schedule(this.delay)
      this.delay = Math.min(this.delay * 1.5, KEEP_BOOTSTRAP_MAX_MS)
    } else {
      this.delay = KEEP_BOOTSTRAP_RETRY_MS
      this.schedule(KEEP_BOOTSTRAP_CHECK_MS)
    }
  }
}

export function keepBootstrap (init: KeepBootstrapInit): (components: KeepBootstrapComponents) => Startable {
  return (components) => new KeepBootstrap(components, init)
}
