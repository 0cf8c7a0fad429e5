/**
 * The trust service of a pl-node: the attestations this node carries (its
 * own, handed to it by issuers: put in bids), the revocations it knows
 * (its own and those gossiped on `pl/v1/revocations`), the trusted issuers
 * (config + data dir trust.json), and Policy.v1 documents by CID (stored
 * locally, announced in the DHT, fetched from the mesh with /pl/fetch when
 * not local). Negotiation asks it to judge bids; the CLI reaches it through
 * the control API (`/trust/...`).
 */
import { setMaxListeners } from 'node:events'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import type { PlComponents, PlService } from '../node.js'
import type { Logger } from '../core/logger.js'
import { cidStringOf, parseCid } from '../core/encoding.js'
import type { JsonSublevel, Store } from '../store/index.js'
// the DHT sub-surface, not discovery/index.ts: `pl trust …` commands load this service, and need none of discovery's catalog, finder or routes
import { DhtProvider } from '../discovery/dht.js'
import { type BlockFetcher, expectOk } from '../net/index.js'
import type { VerifiedEnvelope } from '../core/index.js'
import { exclusivePerKey } from '../core/index.js'
import { attestationCid, checkAttestation, checkRevocation, type Attestation, type Revocation } from './attestation.js'
import { checkCredentials, judgeRequirements, type Requirement, type TrustedIssuer, type Verdict } from './evaluate.js'
import { checkIssuer, IssuerList, readTrustFile, type TrustFile } from './issuers.js'
import { VerifiedAttestations } from './verified-cache.js'
import { ReceiptStore } from '../receipts/index.js'
import { readFile } from 'node:fs/promises'
import { parse as parseYaml } from 'yaml'
import { PolicyUnresolvedError, RevocationInvalidError, RevocationSyncAnswerError, TrustFileError } from './errors.js'
import { checkSyncAnswer, revocationSyncProtocol } from './revocation-sync.js'
import type { IdentifyResult } from '@libp2p/interface'
import * as C from './constants.js'
import { clockInterval, timeoutSignal } from '../core/clock.js'

export type TrustComponents = Pick<PlComponents, 'dataDir' | 'identity' | 'store' | 'registry' | 'logger' | 'metrics' | 'libp2p' | 'rpc' | 'gossip' | 'sign' | 'api' | 'fetcher' | 'clock'>

export interface TrustInit {
  /** trusted issuers besides the data dir's trust.json */
  issuers?: TrustedIssuer[]
  /** policy aliases: name → Policy.v1 CID */
  aliases?: Record<string, string>
  /** Policy.v1 files (YAML or JSON) this node stores and announces at start */
  policies?: string[]
  /** listen to and publish revocations on gossip @default true */
  gossip?: boolean
  /** @default C.DEFAULT_POLICY_FIND_TIMEOUT_MS */
  policyFindTimeoutMs?: number
  /** the clock (ms since epoch) @default the node's clock (`components.clock`) */
  now?: () => number
  /** ask peers for missed revocations when they connect (/pl/revocations) @default true */
  syncRevocations?: boolean
  /** a peer is asked again at most this often @default C.DEFAULT_SYNC_INTERVAL_MS */
  syncIntervalMs?: number
}

/** What one /pl/revocations exchange with a peer brought. */
export interface RevocationSyncResult {
  /** attestation CIDs asked about */
  asked: number
  /** new revocations stored */
  stored: number
  /** answered entries refused (forged, by the wrong issuer, not asked for), each counted */
  rejected: number
}

/** What negotiation asks of the trust service when it judges a bid. */
export interface BidEvidence {
  provider: string
  capability?: string
  credentials?: unknown[]
  /** bare strings the bid lists in `attestations` */
  strings?: string[]
}

/** LevelDB sublevels of the trust service (the CLI writes them directly when no node runs on the data dir). */
export const SUBLEVELS = { attestations: 'trust-attestations', revocations: 'trust-revocations', policies: 'trust-policies', watched: 'trust-watched' } as const

export function revocationKey (rev: Revocation): string {
  return `${rev.attestation}\x00${rev.issuer}`
}

/**
 * A trust file for offline checks of a run's receipts: the issuers of the
 * data dir's trust.json (plus `extraIssuers`), and the attestations,
 * policies and revocations the receipts refer to, from `store`.
 */
export async function exportTrust (store: Store, dataDir: string, run: string, extraIssuers: TrustedIssuer[] = []): Promise<TrustFile> {
  const file = await readTrustFile(join(dataDir, C.TRUST_FILE), { missingOk: true })
  const issuers = [...extraIssuers]
  for (const i of file.issuers) if (!issuers.some(o => o.key === i.key)) issuers.push(i)
  const out: TrustFile & { attestations: unknown[], revocations: unknown[], policies: Record<string, unknown> } = { issuers, attestations: [], revocations: [], policies: {} }
  const receipts = await new ReceiptStore(store).forRun(run)
  const atts = new Set(receipts.flatMap(s => s.receipt.attestations ?? []))
  for (const cid of atts) if (await store.blocks.has(cid)) out.attestations.push(await store.blocks.get(cid))
  for (const cid of new Set(receipts.flatMap(s => s.receipt.policies))) {
    try {
      if (await store.blocks.has(parseCid(cid).toString())) out.policies[cid] = await store.blocks.get(cid)
    } catch {
      // a configured inline policy has no block: nothing to export for it
    }
  }
  for await (const v of store.json(SUBLEVELS.revocations).values()) if (atts.has((v as Revocation).attestation)) out.revocations.push(v)
  return out
}

/** A Policy.v1 file (YAML or JSON). */
export async function readPolicyFile (path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    throw new TrustFileError(`cannot read policy file ${path}: ${err.code ?? err.message}`, { path })
  }
  try {
    return /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text)
  } catch (err) {
    throw new TrustFileError(`policy file ${path} does not parse: ${(err as Error).message}`, { path })
  }
}

export class TrustService implements PlService {
  private readonly attestations: JsonSublevel<Attestation>
  private readonly revocations: JsonSublevel<Revocation>
  /** attestation CID → issuers of known revocations of it (only its own issuer's counts) */
  private readonly revoked = new Map<string, Set<string>>()
  /** attestations this node holds: CID → issuer (a gossiped revocation of one must come from that issuer) */
  private readonly held = new Map<string, string>()
  /** attestations seen in bids that verified and come from a trusted issuer: CID → issuer, oldest first (asked about on /pl/revocations) */
  private readonly watched = new Map<string, string>()
  private readonly watchedStore: JsonSublevel<string>
  /** peer → when it was last asked for revocations (bounded like `watched`) */
  private readonly synced = new Map<string, number>()
  private readonly syncing = new Map<string, Promise<RevocationSyncResult>>()
  /** connected peers that serve /pl/revocations (learnt from identify), asked again every interval */
  private readonly syncPeers = new Set<string>()
  private syncTimer?: { clear: () => void }
  /** attestations whose schema and signature verified, by content CID: a bid's credentials are not re-verified per step */
  private readonly verified = new VerifiedAttestations(C.MAX_VERIFIED_ATTESTATIONS)
  readonly issuers: IssuerList
  private readonly log: Logger
  private readonly dht: DhtProvider
  private fetcher?: BlockFetcher
  private shutdown = new AbortController()
  private started = false
  private readonly now: () => number

  constructor (private readonly c: TrustComponents, private readonly init: TrustInit = {}) {
    this.attestations = c.store.json<Attestation>(SUBLEVELS.attestations)
    this.revocations = c.store.json<Revocation>(SUBLEVELS.revocations)
    this.watchedStore = c.store.json<string>(SUBLEVELS.watched)
    this.issuers = new IssuerList((init.issuers ?? []).map((i, n) => checkIssuer(i, `trust.issuers[${n}]`)), join(c.dataDir, C.TRUST_FILE))
    this.log = c.logger.child({ component: 'trust' })
    this.now = init.now ?? c.clock.now
    this.dht = new DhtProvider(c.libp2p, this.log, { metrics: c.metrics, area: 'trust', reprovideMs: C.DEFAULT_REPROVIDE_MS, retryMs: C.DEFAULT_PROVIDE_RETRY_MS, retryMaxMs: C.DEFAULT_PROVIDE_RETRY_MAX_MS, clock: c.clock })
    if (c.api != null) this.routes(c.api)
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.shutdown = new AbortController()
    setMaxListeners(Infinity, this.shutdown.signal)
    this.issuers.start()
    for await (const value of this.revocations.values()) {
      const rev = value as Revocation
      this.markRevoked(rev)
    }
    for await (const [key, value] of this.attestations.iterator()) this.held.set(key as string, (value as Attestation).issuer)
    for await (const [key, value] of this.watchedStore.iterator()) if (this.watched.size < C.MAX_WATCHED) this.watched.set(key as string, value as string)
    this.fetcher = this.c.fetcher
    this.dht.start()
    for (const file of this.init.policies ?? []) await this.createPolicy(await readPolicyFile(file))
    for await (const cid of this.c.store.json<true>(SUBLEVELS.policies).keys()) this.announcePolicy(cid as string)
    // the attestations this node carries are fetchable by CID
    for (const cid of this.held.keys()) this.fetcher.share(cid)
    if (this.init.gossip !== false) {
      this.c.gossip.subscribe(C.REVOCATION_TOPIC, {
        types: ['Revocation.v1'],
        // a forged revocation, or one by someone other than the attestation's issuer, is rejected (the sender loses score)
        validate: (v) => { this.checkRevocationAgainstKnown(v.envelope.body) },
        onMessage: async (v: VerifiedEnvelope<Revocation>) => { await this.storeRevocation(v.envelope.body) }
      })
    }
    await this.c.rpc.handle(revocationSyncProtocol(async (cids) => await this.knownRevocations(cids)))
    if (this.init.syncRevocations !== false) {
      this.c.libp2p.addEventListener('peer:identify', this.onIdentify)
      this.syncTimer = clockInterval(this.c.clock, () => { this.syncSome() }, this.syncIntervalMs())
    }
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.shutdown.abort()
    this.issuers.stop()
    this.c.libp2p.removeEventListener('peer:identify', this.onIdentify)
    this.syncTimer?.clear()
    this.syncTimer = undefined
    await this.c.libp2p.unhandle(C.REVOCATION_SYNC_PROTOCOL).catch(() => {})
    if (this.init.gossip !== false) this.c.gossip.unsubscribe(C.REVOCATION_TOPIC)
    this.dht.stop()
  }

  status (): Record<string, unknown> {
    return { issuers: this.issuers.list().length, revocations: this.revoked.size, watched: this.watched.size }
  }

  // ------------------------------------------------------------ attestations

  /** Stores an attestation this node carries (about itself) and serves it over /pl/fetch. */
  async addAttestation (value: unknown): Promise<string> {
    try {
      checkAttestation(value, this.c.registry)
    } catch (err) {
      this.c.metrics.reject('trust', (err as Error).name)
      throw err
    }
    const cid = attestationCid(value)
    await this.attestations.put(cid, value)
    this.held.set(cid, value.issuer)
    await this.c.store.blocks.put(value)
    this.fetcher?.share(cid)
    return cid
  }

  async listAttestations (): Promise<Array<{ cid: string, attestation: Attestation, revoked: boolean, expired: boolean }>> {
    const now = this.now()
    const out: Array<{ cid: string, attestation: Attestation, revoked: boolean, expired: boolean }> = []
    for await (const [key, value] of this.attestations.iterator()) {
      const cid = key as string
      const att = value as Attestation
      out.push({ cid, attestation: att, revoked: this.isRevoked(cid, att.issuer), expired: now >= att.exp })
    }
    return out
  }

  /** The unexpired, unrevoked attestations about this node for `capability` (or about no capability in particular). */
  async credentialsFor (capability?: string): Promise<Attestation[]> {
    const now = this.now()
    const self = this.c.identity.id
    const out: Attestation[] = []
    for await (const [key, value] of this.attestations.iterator()) {
      const cid = key as string
      const att = value as Attestation
      if (att.subject !== self || now >= att.exp || now < att.nbf || this.isRevoked(cid, att.issuer)) continue
      if (att.capability != null && capability != null && att.capability !== capability) continue
      out.push(att)
      if (out.length >= C.MAX_BID_CREDENTIALS) break
    }
    return out
  }

  // ------------------------------------------------------------ revocations

  isRevoked (cid: string, issuer: string): boolean {
    return this.revoked.get(cid)?.has(issuer) === true
  }

  private markRevoked (rev: Revocation): void {
    const by = this.revoked.get(rev.attestation) ?? new Set<string>()
    by.add(rev.issuer)
    this.revoked.set(rev.attestation, by)
    this.verified.delete(rev.attestation)
  }

  /** A revocation must verify, and one of an attestation this node holds must be signed by that attestation's issuer. */
  private checkRevocationAgainstKnown (value: unknown): void {
    try {
      checkRevocation(value, this.c.registry)
      const rev = value
      const issuer = this.held.get(rev.attestation)
      if (issuer != null && issuer !== rev.issuer) throw new RevocationInvalidError(`revocation of ${rev.attestation} is signed by ${rev.issuer}, not by its issuer ${issuer}`, { issuer: rev.issuer, expected: issuer })
    } catch (err) {
      this.c.metrics.reject('trust', (err as Error).name)
      throw err
    }
  }

  private async storeRevocation (rev: Revocation): Promise<void> {
    if (this.isRevoked(rev.attestation, rev.issuer)) return
    if (this.revoked.size >= C.MAX_REVOCATIONS && !this.revoked.has(rev.attestation)) {
      const oldest = this.revoked.keys().next().value as string
      this.revoked.delete(oldest)
      for await (const key of this.revocations.keys({ gte: `${oldest}\x00`, lt: `${oldest}\x01` })) await this.revocations.del(key)
    }
    this.markRevoked(rev)
    await this.revocations.put(revocationKey(rev), rev)
    this.log.info({ attestation: rev.attestation, issuer: rev.issuer }, 'attestation revoked')
  }

  /** Records a revocation and announces it on gossip. */
  async revoke (value: unknown): Promise<void> {
    this.checkRevocationAgainstKnown(value)
    await this.storeRevocation(value as Revocation)
    if (this.init.gossip !== false && this.started) {
      await this.c.gossip.publish(C.REVOCATION_TOPIC, this.c.sign('Revocation.v1', value as Revocation, { ttlMs: 60 * 60_000 })).catch((err: Error) => {
        // no peer subscribed yet is not a failure of the revocation: it is stored and checked here
        this.log.debug({ err: err.message }, 'revocation not gossiped')
      })
    }
  }

  // ------------------------------------------------------------ revocation sync

  /** Remembers an attestation seen in a bid (verified, from a trusted issuer), so that peers are asked about its revocations. */
  private watch (cid: string, issuer: string): void {
    if (this.held.has(cid)) return
    const known = this.watched.get(cid)
    if (known === issuer) {
      // most recently seen last: the oldest is dropped first
      this.watched.delete(cid)
      this.watched.set(cid, issuer)
      return
    }
    this.watched.set(cid, issuer)
    this.watchedStore.put(cid, issuer).catch((err: Error) => { this.log.debug({ err: err.message }, 'watched attestation not stored') })
    if (this.watched.size > C.MAX_WATCHED) {
      const oldest = this.watched.keys().next().value as string
      this.watched.delete(oldest)
      this.watchedStore.del(oldest).catch(() => {})
    }
  }

  /** The attestations this node holds or has seen from trusted issuers: CID → issuer. */
  watchedAttestations (): Map<string, string> {
    return new Map([...this.watched, ...this.held])
  }

  /** Stored revocations of `cids` (answer of /pl/revocations), at most C.MAX_SYNC_ANSWER. */
  private async knownRevocations (cids: string[]): Promise<Revocation[]> {
    const out: Revocation[] = []
    for (const cid of cids) {
      if (!this.revoked.has(cid)) continue
      for await (const value of this.revocations.values({ gte: `${cid}\x00`, lt: `${cid}\x01` })) {
        out.push(value as Revocation)
        if (out.length >= C.MAX_SYNC_ANSWER) return out
      }
    }
    return out
  }

  private syncIntervalMs (): number {
    return this.init.syncIntervalMs ?? C.DEFAULT_SYNC_INTERVAL_MS
  }

  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    if (!evt.detail.protocols.includes(C.REVOCATION_SYNC_PROTOCOL)) return
    const peer = evt.detail.peerId.toString()
    this.syncPeers.delete(peer)
    this.syncPeers.add(peer)
    if (this.syncPeers.size > C.MAX_WATCHED) this.syncPeers.delete(this.syncPeers.values().next().value as string)
    this.maybeSync(peer)
  }

  /** Asks `peer` unless it is being asked or was asked within the interval, or there is nothing to ask about. */
  private maybeSync (peer: string): boolean {
    const last = this.synced.get(peer)
    if (this.syncing.has(peer) || (last != null && this.now() - last < this.syncIntervalMs())) return false
    if (this.watched.size === 0 && this.held.size === 0) return false
    this.syncRevocations(peer).catch((err: Error) => { this.log.debug({ peer, err: err.message }, 'revocation sync failed') })
    return true
  }

  /** Every interval: the connected peers asked longest ago (never asked first), at most C.PERIODIC_SYNC_PEERS of them. */
  private syncSome (): void {
    const connected = new Set(this.c.libp2p.getPeers().map(p => p.toString()))
    for (const peer of this.syncPeers) if (!connected.has(peer)) this.syncPeers.delete(peer)
    const order = [...this.syncPeers].sort((a, b) => (this.synced.get(a) ?? -Infinity) - (this.synced.get(b) ?? -Infinity))
    let asked = 0
    for (const peer of order) {
      if (asked >= C.PERIODIC_SYNC_PEERS) break
      if (this.maybeSync(peer)) asked++
    }
  }

  /**
   * Asks `peer` over /pl/revocations for revocations of the attestations this
   * node holds or has seen; stores each answered one that verifies and is
   * signed by the attestation's issuer. Refused entries are counted
   * (`trust/RevocationInvalidError`, `trust/RevocationSyncAnswerError`).
   */
  async syncRevocations (peer: string, options: { signal?: AbortSignal } = {}): Promise<RevocationSyncResult> {
    // one exchange per peer at a time: a second caller waits for the one in flight, then asks again
    return await exclusivePerKey(this.syncing, peer, async () => await this.syncOnce(peer, options))
  }

  private async syncOnce (peer: string, options: { signal?: AbortSignal }): Promise<RevocationSyncResult> {
    const result: RevocationSyncResult = { asked: 0, stored: 0, rejected: 0 }
    this.synced.delete(peer)
    this.synced.set(peer, this.now())
    if (this.synced.size > C.MAX_WATCHED) this.synced.delete(this.synced.keys().next().value as string)
    const signal = AbortSignal.any([this.shutdown.signal, ...(options.signal != null ? [options.signal] : [])])
    const def = revocationSyncProtocol()
    const issuers = this.watchedAttestations()
    const all = [...issuers.keys()]
    for (let i = 0; i < all.length && !signal.aborted; i += C.MAX_SYNC_REQUEST) {
      const asked = all.slice(i, i + C.MAX_SYNC_REQUEST)
      result.asked += asked.length
      let revocations: unknown[]
      try {
        revocations = checkSyncAnswer(expectOk(await this.c.rpc.request(peer, def, { attestations: asked }, { signal }), def.id), peer).revocations
      } catch (err) {
        if ((err as Error).name === 'RevocationSyncAnswerError') {
          this.c.metrics.reject('trust', 'RevocationSyncAnswerError')
          result.rejected++
        }
        throw err
      }
      const wanted = new Set(asked)
      for (const value of revocations) {
        try {
          const att = (value as Partial<Revocation> | null)?.attestation
          if (typeof att !== 'string' || !wanted.has(att)) throw new RevocationSyncAnswerError(`peer ${peer} answered a revocation of an attestation it was not asked about`, { peer })
          checkRevocation(value, this.c.registry)
          const issuer = issuers.get(att)
          if (value.issuer !== issuer) throw new RevocationInvalidError(`revocation of ${att} is signed by ${value.issuer}, not by its issuer ${String(issuer)}`, { issuer: value.issuer, expected: issuer })
          if (this.isRevoked(att, value.issuer)) continue
          await this.storeRevocation(value)
          result.stored++
        } catch (err) {
          this.c.metrics.reject('trust', (err as Error).name)
          result.rejected++
          this.log.debug({ peer, err: (err as Error).message }, 'synced revocation refused')
        }
      }
    }
    if (result.stored > 0 || result.rejected > 0) this.log.info({ peer, ...result }, 'revocations synced')
    return result
  }

  // ------------------------------------------------------------ judging

  /** Checks a bid's evidence against the requirements; counts each refused attestation. */
  judge (requirements: Requirement[], residency: string[] | undefined, bid: BidEvidence): Verdict {
    const issuers = this.issuers.list()
    const creds = checkCredentials(bid.credentials, { provider: bid.provider, capability: bid.capability, now: this.now(), issuers, isRevoked: (cid, issuer) => this.isRevoked(cid, issuer), registry: this.c.registry, verified: this.verified })
    for (const r of creds.rejected) this.c.metrics.reject('trust', r.error.name)
    for (const v of creds.valid) this.watch(v.cid, v.attestation.issuer)
    return judgeRequirements(requirements, residency, creds, bid.strings, issuers)
  }

  // ------------------------------------------------------------ policies

  /** Stores a Policy.v1 and announces it in the mesh; returns its CID. */
  async createPolicy (doc: unknown): Promise<string> {
    this.c.registry.validate('Policy.v1', doc)
    const cid = cidStringOf(doc)
    await this.c.store.blocks.put(doc)
    await this.c.store.json<true>(SUBLEVELS.policies).put(cid, true)
    this.announcePolicy(cid)
    return cid
  }

  private announcePolicy (cid: string): void {
    this.fetcher?.share(cid)
    if (this.started) this.dht.provide(CID.parse(cid))
  }

  /** A policy reference (alias, `cid:<CID>` or CID) as a CID, or undefined when it is neither. */
  policyCid (ref: string): string | undefined {
    const aliased = this.init.aliases?.[ref]
    const text = aliased ?? (ref.startsWith('cid:') ? ref.slice(4) : ref)
    try {
      return parseCid(text).toString()
    } catch {
      return undefined
    }
  }

  /** The Policy.v1 of `ref`: local block store, else providers of its CID in the DHT over /pl/fetch (verified by CID). */
  async resolvePolicy (ref: string, options: { signal?: AbortSignal } = {}): Promise<{ cid: string, doc: Record<string, unknown> }> {
    const cid = this.policyCid(ref)
    if (cid == null) throw new PolicyUnresolvedError(`policy reference ${ref} is neither a CID nor a configured alias`, { ref })
    if (await this.c.store.blocks.has(cid)) {
      const doc = await this.c.store.blocks.get(cid)
      if (!this.c.registry.isValid('Policy.v1', doc)) throw new PolicyUnresolvedError(`block ${cid} (policy ${ref}) is not a Policy.v1`, { ref, cid })
      return { cid, doc: doc as Record<string, unknown> }
    }
    const timeout = timeoutSignal(this.c.clock, this.init.policyFindTimeoutMs ?? C.DEFAULT_POLICY_FIND_TIMEOUT_MS)
    try {
      return await this.findPolicy(ref, cid, AbortSignal.any([this.shutdown.signal, timeout.signal, ...(options.signal != null ? [options.signal] : [])]))
    } finally {
      timeout.clear()
    }
  }

  /** The Policy.v1 `cid` from a provider of it in the DHT, within `signal`. */
  private async findPolicy (ref: string, cid: string, signal: AbortSignal): Promise<{ cid: string, doc: Record<string, unknown> }> {
    setMaxListeners(Infinity, signal)
    let asked = 0
    const walk = this.dht.findProviders(CID.parse(cid), signal)
    try {
      for await (const peer of walk) {
        if (asked++ >= C.DEFAULT_POLICY_MAX_PROVIDERS || signal.aborted) break
        const id = peer.id.toString()
        if (id === this.c.identity.id) continue
        try {
          const doc = await this.fetcher?.fetchDocument<Record<string, unknown>>(id, cid, { signal, keep: false })
          if (doc == null || !this.c.registry.isValid('Policy.v1', doc)) continue
          await this.c.store.blocks.put(doc)
          return { cid, doc }
        } catch (err) {
          this.log.debug({ peer: id, cid, err: (err as Error).name }, 'policy provider not usable')
        }
      }
    } catch (err) {
      if (!signal.aborted) this.log.debug({ cid, err: (err as Error).message }, 'policy DHT walk failed')
    }
    throw new PolicyUnresolvedError(`policy ${ref} (${cid}) is not stored here and no peer in the mesh served it${signal.aborted ? ' in time' : ''}`, { ref, cid })
  }

  // ------------------------------------------------------------ control API

  private routes (api: NonNullable<PlComponents['api']>): void {
    api.route('GET', '/trust/attestations', async () => await this.listAttestations())
    api.route('POST', '/trust/attestations', async ({ body }) => ({ cid: await this.addAttestation(body) }))
    api.route('POST', '/trust/revocations', async ({ body }) => {
      await this.revoke(body)
      return { ok: true }
    })
    api.route('GET', '/trust/issuers', async () => this.issuers.list())
    api.route('POST', '/trust/policies', async ({ body }) => ({ cid: await this.createPolicy(body) }))
    api.route('GET', '/trust/export/:run', async ({ params }) => await exportTrust(this.c.store, this.c.dataDir, params.run, this.init.issuers ?? []))
  }
}

/** Service factory (services map entry `trust: trust({...})`). */
export function trust (init: TrustInit = {}): (components: PlComponents) => TrustService {
  return (components) => new TrustService(components, init)
}
