/**
 * `/pl/catalog-sync/1.0.0`: "which capability ads do you hold?" Ads travel on
 * gossip (`pl/v1/catalog`) and are re-sent every ttl/2, so a node that joins
 * would otherwise wait up to that long to hear of a capability. When a peer
 * that speaks this protocol connects (identify), the node asks it — a few
 * peers per round, each at most once per interval — for the signed ads it
 * holds: its own and those of its catalog, page by page, in key order.
 *
 * The asker trusts none of it: every ad is verified as a gossiped ad is
 * (envelope, signature, time window, provider = signer, descriptor size and
 * CID; the per-peer rate limits do not apply, a hard cap of MAX_SYNC_ADS per
 * sync does), replayed ads are skipped through the same replay store, and
 * entries are charged to the catalog budgets of the answering peer. One bad
 * ad refuses its whole page (nothing of it merged) and ends the sync with
 * that peer; each refusal is counted (`pl_rejected_total{area="discovery"}`).
 * A peer can withhold ads, not forge them.
 *
 * @example
 * const sync = new CatalogSync(components, { catalog, listener, ownAds: () => advertiser.currentAds(), intervalMs: 300_000, ask: true })
 * await sync.start()
 * const { added } = await sync.syncCatalog(peer)
 */
import type { IdentifyResult } from '@libp2p/interface'
import type { PlComponents } from '../node.js'
import type { EnvelopeVerifier, VerifiedEnvelope } from '../core/index.js'
import { exclusivePerKey } from '../core/index.js'
import { encodeCanonical } from '../core/encoding.js'
import { defineProtocol, expectOk, type ProtocolDef } from '../net/index.js'
import type { Catalog } from './catalog.js'
import type { CatalogListener } from './listener.js'
import { PeerRateLimiter } from './rate-limit.js'
import {
  catalogSyncProtocolId, MAX_SYNC_ADS, MAX_SYNC_ANSWER_BYTES, MAX_SYNC_CURSOR, MAX_SYNC_PAGE_ADS,
  SYNC_PAGE_FILL_BYTES, SYNC_PEERS_PER_ROUND, SYNC_SERVE_BURST, SYNC_SERVE_RATE
} from './constants.js'
import { CatalogSyncAnswerError, CatalogSyncRateLimitedError, CatalogSyncRequestError, ForgedCatalogAdError } from './errors.js'
import { AD_TYPES, adItems, type SignedAd } from './ad-set.js'
import type { CatalogSyncRequestV1 } from '../wire/index.js'

/** The request (schema protocols/schemas/CatalogSyncRequest.v1.json). */
export type CatalogSyncRequest = CatalogSyncRequestV1
/** An answer page as received, before its ads are checked (schema CatalogSyncPage.v1: `ads` are Envelope.v1). */
export interface CatalogSyncAnswer { ads: unknown[], next?: string }

/** What one sync with one peer did: pages and ads (envelopes: a set is one) received, capabilities added or refreshed, and skipped (stale, replayed, own, older than held; a stale ad counts one). */
export interface CatalogSyncResult { pages: number, ads: number, merged: number, skipped: number }

export type CatalogSyncComponents = Pick<PlComponents, 'identity' | 'metrics' | 'logger' | 'libp2p' | 'rpc' | 'verifier' | 'replay' | 'clock'>

export interface CatalogSyncInit {
  catalog: Catalog
  listener: CatalogListener
  /** this node's own current ads (the advertiser's) */
  ownAds: (now: number) => SignedAd[]
  /** a peer is asked again, and a new round of SYNC_PEERS_PER_ROUND peers starts, at most this often */
  intervalMs: number
  /** ask peers as they connect (false: only answer, and `syncCatalog` on demand) */
  ask: boolean
  /** the node's network (`pl-node --network`): it names the protocol, so networks never exchange ads @default undefined (the default network) */
  network?: string
}

/** Envelope refusals that make an ad stale, not forged (gossip ignores them too): the ad is skipped. */
const STALE = new Set(['EnvelopeExpiredError', 'ClockSkewError', 'NotForMeError'])
/** Refusals of an answer, counted as `discovery/<name>`. */
const HOSTILE = new Set(['CatalogSyncAnswerError', 'ForgedCatalogAdError', 'FrameTooLargeError', 'MalformedFrameError', 'TruncatedFrameError'])
/** Peers remembered as asked (oldest forgotten first). */
const MAX_ASKED = 1024

/** Throws CatalogSyncRequestError unless `req` is `{after?: cursor, limit?: 1..MAX_SYNC_PAGE_ADS}`. */
export function checkSyncRequest (req: unknown): { after?: string, limit: number } {
  if (req == null || typeof req !== 'object' || Array.isArray(req)) throw new CatalogSyncRequestError('a /pl/catalog-sync request is {after?: string, limit?: integer}')
  const { after, limit, ...rest } = req as Record<string, unknown>
  if (Object.keys(rest).length > 0) throw new CatalogSyncRequestError(`a /pl/catalog-sync request has no field ${Object.keys(rest).map(k => JSON.stringify(k)).join(', ').slice(0, 80)}`)
  if (after !== undefined && (typeof after !== 'string' || after.length > MAX_SYNC_CURSOR)) throw new CatalogSyncRequestError(`"after" is a cursor of at most ${MAX_SYNC_CURSOR} characters`, { max: MAX_SYNC_CURSOR })
  if (limit !== undefined && !(Number.isInteger(limit) && (limit as number) >= 1 && (limit as number) <= MAX_SYNC_PAGE_ADS)) throw new CatalogSyncRequestError(`"limit" is an integer from 1 to ${MAX_SYNC_PAGE_ADS}`, { max: MAX_SYNC_PAGE_ADS })
  return { ...(after !== undefined ? { after } : {}), limit: (limit as number | undefined) ?? MAX_SYNC_PAGE_ADS }
}

/** Throws CatalogSyncAnswerError unless `body` is `{ads: [...], next?}` of at most `asked.limit` ads, `next` a cursor after `asked.after`. Each ad is checked by the caller. */
export function checkSyncAnswer (body: unknown, peer: string, asked: { after?: string, limit: number }): CatalogSyncAnswer {
  const b = body as Partial<CatalogSyncAnswer> | null
  if (b == null || typeof b !== 'object' || !Array.isArray(b.ads)) throw new CatalogSyncAnswerError(`peer ${peer} answered /pl/catalog-sync without a list of ads`, { peer })
  if (b.ads.length > asked.limit) throw new CatalogSyncAnswerError(`peer ${peer} answered ${b.ads.length} ads, ${asked.limit} were asked for`, { peer, count: b.ads.length, max: asked.limit })
  if (b.next !== undefined) {
    if (typeof b.next !== 'string' || b.next.length > MAX_SYNC_CURSOR || (asked.after != null && b.next <= asked.after)) throw new CatalogSyncAnswerError(`peer ${peer} answered a /pl/catalog-sync cursor that does not move forward`, { peer })
    if (b.ads.length === 0) throw new CatalogSyncAnswerError(`peer ${peer} answered an empty page with a next cursor`, { peer })
  }
  return { ads: b.ads, ...(b.next !== undefined ? { next: b.next } : {}) }
}

/** The protocol; `serve` answers one page (the handler side checks the request). */
export function catalogSyncProtocol (serve?: (req: { after?: string, limit: number }, peer: string) => CatalogSyncAnswer, network?: string): ProtocolDef<CatalogSyncRequest, CatalogSyncAnswer> {
  return defineProtocol<CatalogSyncRequest, CatalogSyncAnswer>({
    id: catalogSyncProtocolId(network),
    maxRequestBytes: 1024,
    // a page is filled up to SYNC_PAGE_FILL_BYTES, plus one ad (a 16 KiB descriptor and 32 addrs)
    maxResponseBytes: MAX_SYNC_ANSWER_BYTES,
    maxInboundStreams: 2,
    maxOutboundStreams: 2,
    timeouts: { dialMs: 5_000, firstByteMs: 5_000, totalMs: 15_000 },
    handler: serve == null
      ? undefined
      : async (req, ctx) => ({ status: 'OK', body: serve(checkSyncRequest(req), ctx.peer) })
  })
}

export class CatalogSync {
  /** peer → when it was last asked */
  private readonly asked = new Map<string, number>()
  private readonly syncing = new Map<string, Promise<CatalogSyncResult>>()
  private round = { start: -Infinity, started: 0 }
  private readonly serveLimiter: PeerRateLimiter
  private readonly def: ProtocolDef<CatalogSyncRequest, CatalogSyncAnswer>
  private shutdown = new AbortController()
  private readonly log: CatalogSyncComponents['logger']

  constructor (private readonly c: CatalogSyncComponents, private readonly init: CatalogSyncInit) {
    this.serveLimiter = new PeerRateLimiter(SYNC_SERVE_RATE, SYNC_SERVE_BURST, 10_000, c.clock.now)
    this.log = c.logger.child({ component: 'catalog-sync' })
    this.def = catalogSyncProtocol((req, peer) => this.serve(req, peer), init.network)
  }

  async start (): Promise<void> {
    this.shutdown = new AbortController()
    await this.c.rpc.handle(this.def)
    if (this.init.ask) this.c.libp2p.addEventListener('peer:identify', this.onIdentify)
  }

  async stop (): Promise<void> {
    this.shutdown.abort()
    this.c.libp2p.removeEventListener('peer:identify', this.onIdentify)
    await this.c.libp2p.unhandle(this.def.id).catch(() => {})
  }

  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    if (!evt.detail.protocols.includes(this.def.id)) return
    this.maybeSync(evt.detail.peerId.toString())
  }

  /**
   * Asks `peer` unless it is being asked or was asked within the interval,
   * or this round already asked SYNC_PEERS_PER_ROUND peers (a round lasts
   * the interval; a failed sync frees its place for another peer).
   */
  private maybeSync (peer: string): boolean {
    const now = this.c.clock.now()
    const last = this.asked.get(peer)
    if (this.syncing.has(peer) || (last != null && now - last < this.init.intervalMs)) return false
    if (now - this.round.start >= this.init.intervalMs) this.round = { start: now, started: 0 }
    if (this.round.started >= SYNC_PEERS_PER_ROUND) return false
    const round = this.round
    round.started++
    this.syncCatalog(peer).then(
      (r) => { this.log.debug({ peer, ...r }, 'catalog synced') },
      (err: Error) => {
        round.started--
        this.log.debug({ peer, err: err.message }, 'catalog sync failed')
      }
    )
    return true
  }

  /** Asks `peer` for its ads, page by page, and merges the verified ones (one exchange per peer at a time). */
  async syncCatalog (peer: string, options: { signal?: AbortSignal } = {}): Promise<CatalogSyncResult> {
    return await exclusivePerKey(this.syncing, peer, async () => await this.syncOnce(peer, options))
  }

  private async syncOnce (peer: string, options: { signal?: AbortSignal }): Promise<CatalogSyncResult> {
    this.asked.delete(peer)
    this.asked.set(peer, this.c.clock.now())
    if (this.asked.size > MAX_ASKED) this.asked.delete(this.asked.keys().next().value as string)
    const signal = AbortSignal.any([this.shutdown.signal, ...(options.signal != null ? [options.signal] : [])])
    const result: CatalogSyncResult = { pages: 0, ads: 0, merged: 0, skipped: 0 }
    let after: string | undefined
    while (!signal.aborted) {
      const asked = { ...(after != null ? { after } : {}), limit: Math.min(MAX_SYNC_PAGE_ADS, MAX_SYNC_ADS - result.ads) }
      if (asked.limit <= 0) break
      let page: CatalogSyncAnswer
      let checked: Array<{ verified: VerifiedEnvelope<SignedAd['body']>, sizes: number[] } | undefined>
      try {
        page = checkSyncAnswer(expectOk(await this.c.rpc.request(peer, this.def, asked, { signal }), this.def.id), peer, asked)
        // the whole page is checked before anything of it is merged
        checked = page.ads.map((ad, index) => checkSyncedAd(ad, { verifier: this.c.verifier, listener: this.init.listener }, peer, index))
      } catch (err) {
        if (HOSTILE.has((err as Error).name)) this.c.metrics.reject('discovery', (err as Error).name)
        throw err
      }
      result.pages++
      result.ads += page.ads.length
      for (const ad of checked) {
        if (ad == null) {
          result.skipped++
          continue
        }
        if (ad.verified.envelope.from === this.c.identity.id || !await this.c.replay.add(ad.verified.id, ad.verified.envelope.exp, ad.verified.envelope.ts)) {
          result.skipped += ad.sizes.length
          continue
        }
        for (const merged of await this.init.listener.merge(ad.verified, peer, ad.sizes)) {
          if (merged === 'added' || merged === 'updated') result.merged++
          else result.skipped++
        }
      }
      if (page.next == null) break
      after = page.next
    }
    return result
  }

  /** One page of the ads this node holds after `req.after`: its own and its catalog's, signed recently enough for the asker's clock window. */
  private serve (req: { after?: string, limit: number }, peer: string): CatalogSyncAnswer {
    // refusals are counted by the rpc layer (`/pl/catalog-sync/1.0.0/<error>`)
    if (!this.serveLimiter.take(peer)) {
      throw new CatalogSyncRateLimitedError(`peer ${peer} asks for catalog pages faster than ${SYNC_SERVE_RATE}/s (burst ${SYNC_SERVE_BURST})`, { peer })
    }
    const now = this.c.clock.now()
    // ads signed longer ago than 3/4 of the clock window could be refused by an asker whose clock is a little ahead
    const signedSince = now - Math.floor(this.c.verifier.clockSkewMs * 3 / 4)
    const self = this.c.identity.id
    const own = this.init.ownAds(now)
      .filter(ad => ad.ts >= signedSince)
      .flatMap(ad => adItems(ad).map(item => ({ key: `${self}/${item.capability}`, ad })))
      .filter(x => req.after == null || x.key > req.after)
    const held = this.init.catalog.signedAds({ after: req.after, limit: req.limit + 1, signedSince, now })
    // cut at limit + 1 keys, `held` says nothing past its last key: own ads beyond it wait for a later page,
    // or the cursor could pass held keys never listed (a set stands under several keys, so a page can use them all)
    const truncated = held.length > req.limit
    const bound = truncated ? held[held.length - 1].key : undefined
    const all = [...own.filter(x => bound == null || x.key <= bound), ...held].sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
    // a set is listed under each capability it names: it goes once per page (an asker skips it if a later page repeats it)
    const ads: SignedAd[] = []
    const inPage = new Set<SignedAd>()
    let bytes = 0
    let taken = 0
    for (const { ad } of all) {
      if (!inPage.has(ad)) {
        if (ads.length >= req.limit) break
        const size = encodeCanonical(ad).byteLength
        if (ads.length > 0 && bytes + size > SYNC_PAGE_FILL_BYTES) break
        ads.push(ad)
        inPage.add(ad)
        bytes += size
      }
      taken++
    }
    const more = taken < all.length || truncated
    return { ads, ...(more && taken > 0 ? { next: all[taken - 1].key } : {}) }
  }
}

/**
 * One answered ad, checked as a gossiped one (envelope, signature, time
 * window, then `listener.checkAd`): undefined when stale (expired, signed
 * outside the clock window), ForgedCatalogAdError when it fails any other
 * check or is a withdrawal.
 */
export function checkSyncedAd (ad: unknown, deps: { verifier: Pick<EnvelopeVerifier, 'verifyStateless'>, listener: Pick<CatalogListener, 'checkAd'> }, peer: string, index: number): { verified: VerifiedEnvelope<SignedAd['body']>, sizes: number[] } | undefined {
  let verified: VerifiedEnvelope<SignedAd['body']>
  try {
    verified = deps.verifier.verifyStateless<SignedAd['body']>(ad, { expectedTypes: AD_TYPES })
  } catch (err) {
    if (STALE.has((err as Error).name)) return undefined
    throw forged(err, peer, index)
  }
  const env = verified.envelope as SignedAd
  if (adItems(env).some(item => item.withdraw === true)) throw new ForgedCatalogAdError(`peer ${peer} answered a withdrawal (ad ${index}): a sync carries ads only`, { peer, index, reason: 'withdraw' })
  try {
    return { verified, sizes: deps.listener.checkAd(env) }
  } catch (err) {
    throw forged(err, peer, index)
  }
}

function forged (err: unknown, peer: string, index: number): ForgedCatalogAdError {
  const e = err as Error
  return new ForgedCatalogAdError(`peer ${peer} answered an ad that fails its checks (ad ${index}): ${e.name}: ${e.message}`.slice(0, 500), { peer, index, reason: e.name })
}
