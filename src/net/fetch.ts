/**
 * `/pl/fetch/1.0.0`: content by CID. The requester sends `{cid}`; the
 * provider answers OK `{bytes}` from its block store, NOT_FOUND when it has
 * no such block, REJECTED when the block is over the size limit or the
 * request is malformed. The fetcher never trusts the provider: the bytes must
 * hash to the CID (`verifyBytes`, CidMismatchError otherwise).
 *
 * Discovery pulls descriptors and schemas with it; negotiation pulls step
 * inputs. One `BlockFetcher` per node registers the provider side: the
 * node's `components.fetcher` (src/node.ts), started before the services
 * and configured by `PlNodeInit.fetch`.
 *
 * @example
 * const fetcher = components.fetcher
 * const bytes = await fetcher.fetch(peerId, 'bafyrei...', { signal })
 * const doc = await fetcher.fetchDocument<Capability>(peerId, cid)
 */
import type { PeerId } from '@libp2p/interface'
import { defineProtocol, expectOk, type ProtocolDef, type Rpc, type RpcResponse, type RpcTimeouts } from './rpc.js'
import { decodeCanonical, parseCid, verifyBytes } from '../core/encoding.js'
import { PlError } from '../core/errors.js'
import type { Store } from '../store/index.js'
import type { Metrics } from '../core/index.js'
import type { Logger } from '../core/logger.js'
import { systemClock, type Clock } from '../core/clock.js'

export const FETCH_PROTOCOL = '/pl/fetch/1.0.0'

/** @default 4 MiB: the largest block served or accepted */
export const DEFAULT_MAX_BLOCK_BYTES = 4 * 1024 * 1024
/** Blocks with live grants kept before expired grants are swept. */
export const MAX_GRANTED_BLOCKS = 10_000

/** Room for the response frame around the block bytes (status, field names, length prefixes). */
const FRAME_OVERHEAD = 1024

/** The peer answered NOT_FOUND: it has no block with that CID. */
export class BlockUnavailableError extends PlError {
  override name = 'BlockUnavailableError'
}

/** A block is larger than the fetch size limit (on either side). */
export class BlockTooLargeError extends PlError {
  override name = 'BlockTooLargeError'
}

/** A `/pl/fetch` request that is not `{cid: <CID string>}`. */
export class InvalidFetchRequestError extends PlError {
  override name = 'InvalidFetchRequestError'
}

export interface FetchRequest { cid: string }
export interface FetchResponse { bytes: Uint8Array }

export interface BlockFetcherInit {
  /** largest block served or accepted @default DEFAULT_MAX_BLOCK_BYTES */
  maxBlockBytes?: number
  /** per-call timeouts @default rpc defaults (dial 5 s, first byte 10 s, total 30 s) */
  timeouts?: Partial<RpcTimeouts>
  /**
   * Who may read which block. `'granted'`: only blocks shared with every peer
   * (`share`: published capability descriptors and their schemas) or granted
   * to the asking peer (`grant`: a step input, to the provider awarded the
   * step); anything else is answered NOT_FOUND, as if absent — run inputs,
   * outputs and posted documents must not leak to peers that merely learn a
   * CID. `'open'`: every stored block (tests, public content nodes).
   * @default 'granted'
   */
  access?: 'granted' | 'open'
  /** decides whether `peer` may read `cid`; replaces `access` when given */
  allow?: (cid: string, peer: string) => boolean
}

/** Grants of one block: peer → expiry (ms since epoch). */
type Grants = Map<string, number>

export interface BlockFetcherComponents {
  rpc: Rpc
  /** to remove the handler on stop (otherwise the node's rpc.stop removes it) */
  libp2p?: { unhandle: (protocol: string) => Promise<void> }
  store: Store
  metrics?: Metrics
  logger?: Logger
  /** expires grants @default systemClock */
  clock?: Clock
}

export interface FetchOptions {
  signal?: AbortSignal
  timeouts?: Partial<RpcTimeouts>
}

export class BlockFetcher {
  readonly protocol: ProtocolDef<FetchRequest, FetchResponse>
  private readonly maxBlockBytes: number
  private started = false
  private readonly shared = new Set<string>()
  private readonly grants = new Map<string, Grants>()
  private readonly clock: Clock

  constructor (private readonly c: BlockFetcherComponents, private readonly init: BlockFetcherInit = {}) {
    this.clock = c.clock ?? systemClock
    this.maxBlockBytes = init.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES
    this.protocol = defineProtocol<FetchRequest, FetchResponse>({
      id: FETCH_PROTOCOL,
      maxRequestBytes: 1024,
      maxResponseBytes: this.maxBlockBytes + FRAME_OVERHEAD,
      timeouts: init.timeouts as RpcTimeouts | undefined,
      handler: async (req, ctx) => await this.serve(req, ctx.peer)
    })
  }

  /** Registers the provider side with libp2p. Idempotent. */
  async start (): Promise<void> {
    if (this.started) return
    await this.c.rpc.handle(this.protocol)
    this.started = true
  }

  /** Removes the provider side (the node's rpc.stop would remove it too). */
  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.c.libp2p?.unhandle(FETCH_PROTOCOL).catch(() => {})
  }

  get isStarted (): boolean { return this.started }

  /** Serves `cid` to every peer (a published descriptor, a schema). */
  share (cid: string): void {
    this.shared.add(parseCid(cid).toString())
  }

  /** Stops serving `cid` to every peer (an unpublished descriptor). */
  unshare (cid: string): void {
    this.shared.delete(parseCid(cid).toString())
  }

  /** Serves `cid` to `peer` for `ttlMs` (a step input, to the provider awarded the step). */
  grant (cid: string, peer: string, ttlMs: number): void {
    const key = parseCid(cid).toString()
    const now = this.clock.now()
    const grants = this.grants.get(key) ?? new Map<string, number>()
    for (const [p, until] of grants) if (until <= now) grants.delete(p)
    grants.set(peer, Math.max(grants.get(peer) ?? 0, now + ttlMs))
    this.grants.set(key, grants)
    if (this.grants.size > MAX_GRANTED_BLOCKS) this.sweepGrants(now)
  }

  /** Whether `peer` may read `cid` under this fetcher's access rule. */
  allows (cid: string, peer: string): boolean {
    if (this.init.allow != null) return this.init.allow(cid, peer)
    if (this.init.access === 'open' || this.shared.has(cid)) return true
    const until = this.grants.get(cid)?.get(peer)
    return until != null && until > this.clock.now()
  }

  private sweepGrants (now: number): void {
    for (const [cid, grants] of this.grants) {
      for (const [p, until] of grants) if (until <= now) grants.delete(p)
      if (grants.size === 0) this.grants.delete(cid)
    }
  }

  private async serve (req: FetchRequest, peer: string): Promise<RpcResponse<FetchResponse>> {
    if (req == null || typeof req !== 'object' || typeof req.cid !== 'string') {
      throw new InvalidFetchRequestError('a /pl/fetch request is {cid: string}')
    }
    const cid = parseCid(req.cid).toString()
    const allowed = this.allows(cid, peer)
    if (!allowed) this.c.metrics?.rejected.inc({ area: 'fetch', reason: 'not-granted' })
    const bytes = allowed ? await this.c.store.blocks.getBytes(cid) : undefined
    if (bytes == null) return { status: 'NOT_FOUND', error: { name: 'BlockUnavailableError', message: `no block ${cid}` } }
    if (bytes.byteLength > this.maxBlockBytes) {
      throw new BlockTooLargeError(`block ${cid} is ${bytes.byteLength} bytes, over the fetch limit of ${this.maxBlockBytes}`, { cid, size: bytes.byteLength, max: this.maxBlockBytes })
    }
    return { status: 'OK', body: { bytes } }
  }

  /** Fetches the bytes of `cid` from `peer` and verifies them against the CID. */
  async fetch (peer: string | PeerId, cid: string, options: FetchOptions = {}): Promise<Uint8Array> {
    const parsed = parseCid(cid)
    const res = await this.c.rpc.request(peer, this.protocol, { cid: parsed.toString() }, options)
    if (res.status === 'NOT_FOUND') {
      throw new BlockUnavailableError(`peer ${peer.toString()} has no block ${parsed.toString()}`, { peer: peer.toString(), cid: parsed.toString() })
    }
    const bytes = expectOk(res, FETCH_PROTOCOL)?.bytes
    if (!(bytes instanceof Uint8Array)) throw new InvalidFetchRequestError(`peer ${peer.toString()} answered ${FETCH_PROTOCOL} without bytes`, { peer: peer.toString() })
    if (bytes.byteLength > this.maxBlockBytes) throw new BlockTooLargeError(`block ${parsed.toString()} from ${peer.toString()} is over ${this.maxBlockBytes} bytes`)
    verifyBytes(parsed, bytes)
    this.c.metrics?.rpc.inc({ protocol: FETCH_PROTOCOL, direction: 'out', status: 'VERIFIED' })
    return bytes
  }

  /** Fetches a dag-cbor document by CID, verifies it, keeps a copy in the local block store, and decodes it. */
  async fetchDocument<T = unknown> (peer: string | PeerId, cid: string, options: FetchOptions & { keep?: boolean } = {}): Promise<T> {
    const bytes = await this.fetch(peer, cid, options)
    const doc = decodeCanonical<T>(bytes)
    if (options.keep !== false) await this.c.store.blocks.putBytes(cid, bytes)
    return doc
  }
}
