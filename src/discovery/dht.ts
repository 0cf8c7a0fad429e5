/**
 * DHT provider records of this node's capabilities: one under the CID of
 * `pl:cap:<name>` and one under each descriptor CID. A failed provide (no
 * DHT peers yet, a timeout) is retried with doubling delays; every record is
 * provided again each `reprovideMs` (kad-dht keeps records 48 h), and
 * `cancel` stops re-providing and removes our own local record.
 */
import type { CID } from 'multiformats/cid'
import type { PeerInfo } from '@libp2p/interface'
import { setMaxListeners } from 'node:events'
import { MessageType } from '@libp2p/kad-dht'
import type { PlLibp2p } from '../net/libp2p.js'
import type { Logger } from '../core/logger.js'

export interface DhtProviderInit {
  reprovideMs: number
  retryMs: number
  retryMaxMs: number
}

export class DhtProvider {
  private readonly keys = new Map<string, { cid: CID, retry?: NodeJS.Timeout, delay: number, running: boolean }>()
  private shutdown = new AbortController()
  private reprovideTimer?: NodeJS.Timeout
  private running = false

  constructor (private readonly libp2p: PlLibp2p, private readonly logger: Logger, private readonly init: DhtProviderInit) {}

  start (): void {
    if (this.running) return
    this.running = true
    this.shutdown = new AbortController()
    setMaxListeners(Infinity, this.shutdown.signal) // one listener per provide in flight
    this.reprovideTimer = setInterval(() => {
      for (const k of this.keys.keys()) this.run(k)
    }, this.init.reprovideMs)
    this.reprovideTimer.unref()
  }

  stop (): void {
    this.running = false
    clearInterval(this.reprovideTimer)
    this.shutdown.abort()
    for (const k of this.keys.values()) clearTimeout(k.retry)
    this.keys.clear()
  }

  /** Announces this node as a provider of `cid` (in the background, retried until it succeeds). */
  provide (cid: CID): void {
    const key = cid.toString()
    if (!this.keys.has(key)) this.keys.set(key, { cid, delay: this.init.retryMs, running: false })
    if (this.running) this.run(key)
  }

  /** Stops providing `cid`: no more re-provides, and our own record is removed locally. */
  async cancel (cid: CID): Promise<void> {
    const k = this.keys.get(cid.toString())
    if (k != null) clearTimeout(k.retry)
    this.keys.delete(cid.toString())
    try {
      await this.libp2p.contentRouting.cancelReprovide(cid)
    } catch (err) {
      this.logger.debug({ cid: cid.toString(), err: (err as Error).message }, 'cancelReprovide failed')
    }
  }

  /** Providers of `cid` found by the DHT walk (this node excluded). */
  async * findProviders (cid: CID, signal: AbortSignal): AsyncGenerator<PeerInfo> {
    const self = this.libp2p.peerId.toString()
    const seen = new Set<string>()
    for await (const peer of this.libp2p.contentRouting.findProviders(cid, { signal })) {
      const id = peer.id.toString()
      if (id === self || seen.has(id)) continue
      seen.add(id)
      yield peer
    }
  }

  /** One provide: the closest peers' walk, then ADD_PROVIDER to each; fails unless at least one peer took the record. */
  private async provideOnce (cid: CID): Promise<void> {
    let stored = 0
    for await (const ev of this.libp2p.services.dht.provide(cid, { signal: this.shutdown.signal })) {
      if (ev.name === 'PEER_RESPONSE' && ev.messageType === MessageType.ADD_PROVIDER) stored++
    }
    if (stored === 0) throw new Error('no DHT peer took the provider record')
  }

  private run (key: string): void {
    const k = this.keys.get(key)
    if (k == null || k.running || !this.running) return
    k.running = true
    clearTimeout(k.retry)
    k.retry = undefined
    this.provideOnce(k.cid).then(() => {
      k.running = false
      k.delay = this.init.retryMs
      this.logger.debug({ cid: key }, 'provided on the DHT')
    }, (err: Error) => {
      k.running = false
      if (!this.running || this.keys.get(key) !== k) return
      this.logger.debug({ cid: key, err: err.message, retryMs: k.delay }, 'DHT provide failed; retrying')
      k.retry = setTimeout(() => { this.run(key) }, k.delay)
      k.delay = Math.min(this.init.retryMaxMs, k.delay * 2)
    })
  }
}
