/**
 * The negotiation service of a pl-node: the provider side (serves
 * /pl/negotiate and /pl/exec when it has capabilities and a step runner),
 * the requester side (`runner`, a StepRunner for the executor), the award
 * explanations, and the control API route `GET /runs/:id/explanations`.
 * Seams not given in `init` are taken from other services at start: the
 * discovery service finds candidates and knows this node's published
 * capabilities.
 */
import type { PlComponents, PlService, ServiceComponents } from '../node.js'
import type { Logger } from '../core/logger.js'
import { ReceiptStore } from '../receipts/index.js'
import { Provider } from './provider.js'
import { RemoteRunner } from './remote-runner.js'
import { ExplanationStore, type StepExplanation } from './explanation.js'
import { policyResolver, type PolicyDoc } from './policy.js'
import type { Award, Bid, BidRelease, BidStrategy, CallForProposal, Candidate, CandidateFinder, CandidateFindOptions, CandidateQuery, Decline, InputFetcher, LocalCapabilities, LocalOffer, RunStep } from './types.js'
import type { RemoteRunnerInit } from './remote-runner.js'
import type { ProviderInit } from './provider.js'
import type { ModuleSpec, VerifiedEnvelope } from '../core/index.js'
import { BlockFetcher, type HandlerContext, type RpcResponse } from '../net/index.js'
import { negotiateProtocol, MAX_CARRIED_RELEASES, type NegotiateRequest, type NegotiateResponse } from './wire.js'
import { OpenCallCollector, OpenCallListener } from './open-calls.js'
import { InvalidBidError, UnknownBidError } from './errors.js'
import { DEFAULT_TOPIC_SYNC_MS, NEGOTIATE_PROTOCOL } from './constants.js'
import { PeerQuarantine } from './quarantine.js'
import { clockInterval } from '../core/clock.js'
import { IoSchemas, type TrustService } from '../trust/index.js'
import type { Connection } from '@libp2p/interface'

/** The services negotiation uses, each optional: trust judges bids, discovery finds candidates and local capabilities. */
export interface NegotiationServices {
  trust?: TrustService
  discovery?: DiscoveryLike
}

export type NegotiationComponents = Pick<PlComponents, 'identity' | 'registry' | 'verifier' | 'rpc' | 'libp2p' | 'gossip' | 'store' | 'logger' | 'metrics' | 'sign' | 'api' | 'fetcher' | 'clock'> & { services: NegotiationServices }

export interface NegotiationInit extends Partial<Pick<RemoteRunnerInit,
'replyWindowMs' | 'dialTimeoutMs' | 'maxAttempts' | 'maxRounds' | 'cfpConcurrency' | 'maxCandidates' | 'findTimeoutMs' | 'walkEveryMs' | 'inlineInputBytes' | 'execGraceMs' | 'stepDeadlineMs' | 'costAttrs' | 'maxRemoteSteps'>>,
  Partial<Pick<ProviderInit, 'maxActive' | 'bidTtlMs' | 'awardHoldMs' | 'sweepMs' | 'maxOutputBytes' | 'maxOpenBids' | 'maxOpenBidsPerPeer' | 'canRun' | 'maxDepth'>> {
  /** who provides a capability @default the `discovery` service */
  finder?: CandidateFinder
  /** what this node offers @default the `discovery` service's published capabilities */
  local?: LocalCapabilities
  /** fetches step inputs that were not sent inline @default the node's shared BlockFetcher (src/net/fetch.ts) */
  fetcher?: InputFetcher
  /** runs one module for one awarded step (the executor's runModule); without it this node does not serve /pl/exec */
  runStep?: RunStep
  /** @default defaultBidStrategy() */
  strategy?: BidStrategy
  /** policy aliases a plan may refer to by name: name → Policy.v1 CID, or name → an inline Policy.v1 */
  policies?: Record<string, PolicyDoc | string>
  /** serve the provider side @default true */
  provider?: boolean
  /** open calls on gossip `pl/v1/cfp/<name>`: publish one when discovery finds nobody, and listen on the topics of this node's capabilities (turn off with gossip) @default true */
  openCalls?: boolean
  /** how often the open-call topics follow the published capabilities @default DEFAULT_TOPIC_SYNC_MS */
  topicSyncMs?: number
  /** first quarantine period of a peer that could not be reached or missed a bid window (doubles on each repeat) @default DEFAULT_QUARANTINE_MS */
  quarantineMs?: number
  /** ceiling of the doubled quarantine period @default DEFAULT_QUARANTINE_MAX_MS */
  quarantineMaxMs?: number
  /** peers quarantined at once @default DEFAULT_QUARANTINE_MAX_PEERS */
  maxQuarantined?: number
  /** the clock of the quarantine (ms since epoch) @default the node's clock (`components.clock`) */
  now?: () => number
}

/** What negotiation reads of the discovery service (src/discovery satisfies it; each member optional). */
export interface DiscoveryLike {
  find?: (query: CandidateQuery, options: CandidateFindOptions) => Promise<Candidate[]>
  localCapability?: (name: string, version?: string) => ModuleSpec | undefined | Promise<ModuleSpec | undefined>
  localCapabilities?: () => Array<{ cid: string, descriptor: LocalOffer['descriptor'], module?: ModuleSpec, active?: boolean }>
}

/** LocalCapabilities over the discovery service: the published descriptor plus its installed module. */
export function localFromDiscovery (d: DiscoveryLike): LocalCapabilities | undefined {
  if (typeof d?.localCapability !== 'function' || typeof d?.localCapabilities !== 'function') return undefined
  return {
    localOffer: async (name, version) => {
      // localCapability picks the version (newest unless asked); the list gives that module's descriptor
      const module = await d.localCapability?.(name, version)
      if (module == null) return undefined
      const entry = (d.localCapabilities?.() ?? []).find(e => e.active !== false && e.descriptor?.name === name && e.module?.cid === module.cid && (version == null || e.descriptor.version === version))
      return entry == null ? undefined : { cid: entry.cid, descriptor: entry.descriptor, module }
    },
    names: () => [...new Set((d.localCapabilities?.() ?? []).filter(e => e.active !== false && e.module != null).map(e => e.descriptor.name))]
  }
}

export class Negotiation implements PlService {
  readonly explanationStore: ExplanationStore
  readonly receipts: ReceiptStore
  private providerSide?: Provider
  private requesterSide?: RemoteRunner
  private started = false
  private listener?: OpenCallListener
  private syncTimer?: { clear: () => void }
  private readonly collector = new OpenCallCollector()
  private readonly log: Logger
  /** the requester's dead-peer memory (see src/negotiation/quarantine.ts) */
  readonly quarantine: PeerQuarantine
  private readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    // heard from: a connection with the peer opened (inbound, or a dial of someone else's that worked)
    if (this.quarantine.release(evt.detail.remotePeer.toString())) this.log.debug({ peer: evt.detail.remotePeer.toString() }, 'quarantined peer is back')
  }

  constructor (private readonly components: NegotiationComponents, private readonly init: NegotiationInit = {}) {
    this.explanationStore = new ExplanationStore(components.store)
    this.receipts = new ReceiptStore(components.store, components.clock)
    this.log = components.logger.child({ component: 'negotiation' })
    this.quarantine = new PeerQuarantine({ periodMs: init.quarantineMs, maxPeriodMs: init.quarantineMaxMs, maxPeers: init.maxQuarantined, now: init.now ?? components.clock.now })
  }

  /** The provider side, once started (undefined when this node does not serve remote steps). */
  get provider (): Provider | undefined {
    return this.providerSide
  }

  /** The StepRunner for remote steps (undefined before start or without a candidate finder). */
  get runner (): RemoteRunner | undefined {
    return this.requesterSide
  }

  /** the node's trust service (src/trust), when it runs one */
  private trust (): TrustService | undefined {
    const t = this.components.services.trust
    return typeof t?.judge === 'function' ? t : undefined
  }

  private discovery (): DiscoveryLike | undefined {
    return this.components.services.discovery
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    const c = this.components
    const discovery = this.discovery()
    const local = this.init.local ?? (discovery != null ? localFromDiscovery(discovery) : undefined)
    // the node's /pl/fetch: providers fetch inputs with it, requesters serve their input blocks through it
    const fetcher = this.init.fetcher ?? c.fetcher
    const io = new IoSchemas(c.registry, c.store.blocks)
    const finder = this.init.finder ?? (typeof discovery?.find === 'function' ? discovery as CandidateFinder : undefined)
    const openCalls = this.init.openCalls !== false
    if (this.init.provider !== false && local != null && this.init.runStep != null) {
      const provider = new Provider(c, { ...this.init, local, runStep: this.init.runStep, fetcher, policyResolver: policyResolver(c.store.blocks, c.registry, this.init.policies), credentials: async (cap) => await this.trust()?.credentialsFor(cap) ?? [], io })
      this.providerSide = provider
      await provider.start()
      if (openCalls && local.names != null) {
        const names = local.names
        this.listener = new OpenCallListener({ gossip: c.gossip, rpc: c.rpc, libp2p: c.libp2p, logger: this.log, self: c.identity.id, clock: c.clock }, async (cfp, id, requester) => {
          const answer = await provider.answerCall(cfp, id, requester)
          // an open call reaches every listener of the topic: only a bid or a meaningful decline is worth a message
          return answer.type === 'Decline.v1' && (answer.body as Decline).reason === 'unsupported' ? undefined : answer
        })
        const sync = async (): Promise<void> => { this.listener?.sync(await names()) }
        await sync()
        this.syncTimer = clockInterval(c.clock, () => { sync().catch((err: Error) => { this.log.debug({ err: err.message }, 'open-call topics not synced') }) }, this.init.topicSyncMs ?? DEFAULT_TOPIC_SYNC_MS)
      }
    } else {
      this.log.info({ local: local != null, runStep: this.init.runStep != null }, 'not serving remote steps')
    }
    if (finder != null) {
      c.libp2p.addEventListener('connection:open', this.onConnectionOpen)
      this.requesterSide = new RemoteRunner(c, {
        ...this.init,
        finder,
        local,
        receipts: this.receipts,
        explanations: this.explanationStore,
        grantInput: fetcher instanceof BlockFetcher ? (cid, peer, ttlMs) => { fetcher.grant(cid, peer, ttlMs) } : undefined,
        policies: policyResolver(c.store.blocks, c.registry, this.init.policies, async (ref, options) => {
          const t = this.trust()
          if (t == null) return await policyResolver(c.store.blocks, c.registry)(ref, options)
          const { cid, doc } = await t.resolvePolicy(ref, options)
          return { cid, doc: doc as unknown as PolicyDoc }
        }),
        trust: () => this.trust(),
        io,
        open: openCalls ? { gossip: c.gossip, collector: this.collector } : undefined,
        quarantine: this.quarantine
      })
    } else {
      this.log.info('no candidate finder: remote steps cannot be negotiated from this node')
    }
    await c.rpc.handle(negotiateProtocol(async (req, ctx) => await this.onNegotiate(req, ctx)))
    c.api?.route('GET', '/runs/:id/explanations', async ({ params }) => ({ run: params.id, steps: await this.explanations(params.id) }))
  }

  /**
   * /pl/negotiate: calls and awards go to the provider side; bids and
   * declines are answers to this node's open calls.
   */
  private async onNegotiate (req: NegotiateRequest, ctx: HandlerContext): Promise<RpcResponse<NegotiateResponse>> {
    const c = this.components
    // releases riding with the call go first: the capacity they free counts for the call itself
    if (req?.releases != null) await this.carriedReleases(req.releases, ctx.peer)
    if (req?.plain_releases != null) this.plainReleases(req.plain_releases, ctx.peer)
    // a BidRelease.v1 is not recorded in the replay store: releasing is idempotent (a released or
    // awarded bid is left alone), so a replay changes nothing and is not worth a LevelDB write
    const release = (req?.envelope as { type?: unknown } | undefined)?.type === 'BidRelease.v1'
    // calls and awards are recorded, but their record's LevelDB write is not awaited before the answer:
    // the replay store's lease keeps a replay refused even after a crash (docs/NEGOTIATION.md
    // "Replay records off the critical path")
    const verified = await c.verifier.verify<any>(req?.envelope, { expectedFrom: ctx.peer, expectedTypes: ['CallForProposal.v1', 'Award.v1', 'BidRelease.v1', 'Bid.v1', 'Decline.v1'], skipReplay: release, deferRecord: true })
    const env = verified.envelope
    switch (env.type) {
      case 'CallForProposal.v1': {
        if (this.providerSide != null) return { status: 'OK', body: { envelope: await this.providerSide.answerCall(env.body as CallForProposal, verified.id, ctx.peer), plain_releases: true } }
        const cfp = env.body as CallForProposal
        const decline: Decline = { cfp: verified.id, run: cfp.run, step: cfp.step, reason: 'unsupported', message: 'this node runs no remote steps' }
        return { status: 'OK', body: { envelope: c.sign('Decline.v1', decline, { to: ctx.peer }) } }
      }
      case 'Award.v1':
        if (this.providerSide == null) throw new UnknownBidError(`this node made no bid ${(env.body as Award).bid}: it runs no remote steps`, { bid: (env.body as Award).bid })
        return { status: 'OK', body: this.providerSide.acceptAward(env.body as Award, verified.id, ctx.peer) }
      case 'BidRelease.v1':
        // a node that runs no remote steps holds no bids: nothing to release
        return { status: 'OK', body: { released: this.providerSide?.releaseBids(env.body as BidRelease, ctx.peer) ?? 0 } }
      default:
        if (!this.collector.receive(verified as VerifiedEnvelope<Bid | Decline>, ctx.peer)) {
          throw new InvalidBidError(`answer to call ${(env.body as Bid).cfp}, which is no open call of this node (or is closed)`, { cfp: (env.body as Bid).cfp })
        }
        return { status: 'OK', body: { received: true } }
    }
  }

  /** Whether `releases` is a list of at most MAX_CARRIED_RELEASES; if not, it is refused as `errorName` and counted. */
  private carriedList (releases: unknown, peer: string, errorName: string, what: string): releases is unknown[] {
    if (Array.isArray(releases) && releases.length <= MAX_CARRIED_RELEASES) return true
    this.components.metrics?.reject('negotiation', errorName)
    this.log.debug({ peer }, `refused ${what}: not a list of at most ${MAX_CARRIED_RELEASES}`)
    return false
  }

  /**
   * BidRelease.v1 bodies carried beside a /pl/negotiate call without an
   * envelope (`plain_releases`, at most MAX_CARRIED_RELEASES): released by
   * `peer`, the Noise-authenticated caller, so only bids this node made to
   * that peer (for that run and step) are dropped (`releaseBids`); a replay
   * changes nothing (a released bid is gone). A body that is not a valid
   * BidRelease.v1, or a list that is not one of at most
   * MAX_CARRIED_RELEASES, is refused and counted (`InvalidBodyError`); the
   * call is answered as usual.
   */
  private plainReleases (releases: unknown, peer: string): void {
    const c = this.components
    if (!this.carriedList(releases, peer, 'InvalidBodyError', 'plain releases')) return
    for (const body of releases) {
      try {
        c.registry.validate('BidRelease.v1', body)
        this.providerSide?.releaseBids(body as BidRelease, peer)
      } catch (err) {
        c.metrics?.reject('negotiation', (err as Error).name)
        this.log.debug({ peer, err: (err as Error).name }, 'refused a plain bid release')
      }
    }
  }

  /**
   * BidRelease.v1 envelopes carried beside a /pl/negotiate call (at most
   * MAX_CARRIED_RELEASES): each is verified as one sent on its own (signed by
   * the caller, addressed here, unexpired; no replay record: releasing is
   * idempotent) and applied. A bad one is refused and counted on its own,
   * as is a `releases` that is not a list or is too long; the call itself is
   * answered as usual.
   */
  private async carriedReleases (releases: unknown, peer: string): Promise<void> {
    const c = this.components
    if (!this.carriedList(releases, peer, 'MalformedEnvelopeError', 'carried releases')) return
    for (const envelope of releases) {
      try {
        const verified = await c.verifier.verify<BidRelease>(envelope, { expectedFrom: peer, expectedTypes: ['BidRelease.v1'], skipReplay: true })
        this.providerSide?.releaseBids(verified.envelope.body, peer)
      } catch (err) {
        c.metrics?.reject('negotiation', (err as Error).name)
        this.log.debug({ peer, err: (err as Error).name }, 'refused a carried bid release')
      }
    }
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.syncTimer?.clear()
    this.syncTimer = undefined
    this.components.libp2p.removeEventListener('connection:open', this.onConnectionOpen)
    this.listener?.stop()
    await this.components.libp2p.unhandle(NEGOTIATE_PROTOCOL).catch(() => {})
    await this.requesterSide?.stop()
    await this.providerSide?.stop()
  }

  /** The award explanation of one step of a run (throws ExplanationNotFoundError). */
  async explanation (runId: string, stepKey: string): Promise<StepExplanation> {
    return await this.explanationStore.get(runId, stepKey)
  }

  /** Every award explanation of a run. */
  async explanations (runId: string): Promise<StepExplanation[]> {
    return await this.explanationStore.forRun(runId)
  }
}

/** Service factory: `services: { negotiation: negotiation({ runStep: runModule }) }`. */
export function negotiation (init: NegotiationInit = {}) {
  return (components: ServiceComponents<NegotiationServices>): Negotiation => new Negotiation(components, init)
}
