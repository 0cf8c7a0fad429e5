/**
 * Test helpers for negotiation: real module folders, capability offers of
 * real mesh nodes, an in-test CandidateFinder over them, and hand-built
 * Task DAGs / step contexts.
 */
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cidStringOf, cidStringOfBytes } from '../../src/core/encoding.js'
import { envelopeId, moduleSpecOf, type Envelope, type ModuleSpec } from '../../src/core/index.js'
import type { RpcResponse } from '../../src/net/index.js'
import { silentLogger } from '../../src/core/logger.js'
import { ModulePool, type ModulePoolInit } from '../../src/exec/index.js'
import type { PlNode, ServiceFactory } from '../../src/node.js'
import { negotiation, negotiateProtocol, type Award, type Bid, type CallForProposal, type Decline, type Negotiation, type NegotiationInit, type RemoteRunner } from '../../src/negotiation/index.js'
import { TestMesh } from '../helpers/mesh.js'
import { tempDir } from '../helpers/tmp.js'
import type { Step, TaskDag, SelectWeight } from '../../src/workflow/index.js'
import type { StepContext } from '../../src/exec/types.js'
import type { CapabilityDescriptor, Candidate, CandidateFinder, LocalCapabilities, LocalOffer, RunStep } from '../../src/negotiation/types.js'

/** Writes a JS module folder whose class body is `evalBody` (the body of `async eval (parameters, inputData, context)`). */
export async function writeModule (root: string, name: string, evalBody: string): Promise<ModuleSpec> {
  const dir = join(root, name)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'function.mjs'), `export default class M {\n  constructor (name, settings, parameters, globalSettings) { this.g = globalSettings }\n  async eval (parameters, inputData, context) {\n${evalBody}\n  }\n}\n`)
  return await moduleSpecOf(name, dir)
}

/** The real executor's module pool as the providers' RunStep. */
export function poolRunStep (pool: ModulePool): RunStep {
  return async (module, call, options) => await pool.runModule(module, call, options)
}

export { ModulePool }

export type OfferInput = Omit<CapabilityDescriptor, 'provider' | 'version' | 'io' | 'limits'> & Partial<Pick<CapabilityDescriptor, 'version' | 'limits'>>

/**
 * Offers of mesh nodes, filled after the mesh started (peer ids are known
 * then). Service factories get lazy views: `localFor(i)` and `finder()`.
 */
export class Offers {
  readonly byNode = new Map<number, LocalOffer[]>()
  readonly nodes: PlNode[] = []
  /** indexes of nodes the finder reports (default: every node with offers) */
  visible?: number[]
  /** capability names the finder pretends not to know (open-call tests) */
  hidden = new Set<string>()

  add (index: number, node: PlNode, input: OfferInput, module: ModuleSpec): LocalOffer {
    this.nodes[index] = node
    const descriptor: CapabilityDescriptor = { version: '1.0.0', io: { input: {}, output: {} }, limits: { wall_ms: 20_000, mem_mb: 256 }, ...input, provider: node.peerId }
    const offer = { cid: cidStringOf(descriptor), descriptor, module }
    this.byNode.set(index, [...(this.byNode.get(index) ?? []), offer])
    return offer
  }

  localFor (index: number): LocalCapabilities {
    return {
      localOffer: (name, version) => (this.byNode.get(index) ?? []).find(o => o.descriptor.name === name && (version == null || o.descriptor.version === version)),
      names: () => [...new Set((this.byNode.get(index) ?? []).map(o => o.descriptor.name))]
    }
  }

  finder (): CandidateFinder {
    return {
      find: async (query) => {
        const out: Candidate[] = []
        for (const [i, offers] of this.byNode) {
          if (this.visible != null && !this.visible.includes(i)) continue
          for (const o of offers) {
            if (o.descriptor.name !== query.name || this.hidden.has(o.descriptor.name)) continue
            out.push({ cid: o.cid, descriptor: o.descriptor, provider: o.descriptor.provider, addrs: this.nodes[i]?.addrs() ?? [] })
          }
        }
        return out
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Shared mesh setup: a temp folder for modules, one ModulePool the providers
// run their steps in, a TestMesh of real nodes (connected), and a teardown
// that closes all of them. startOffersMesh adds the common negotiation shape:
// node 0 the requester finding through `Offers`, nodes 1.. providers.
// ---------------------------------------------------------------------------

export interface PoolMeshInit {
  /** prefix of the temp folder the test writes its modules in */
  name: string
  nodes: number
  /** options of the providers' shared module pool */
  pool?: ModulePoolInit
  controlApi?: boolean
  /** node i's services; `runStep` runs a step in the shared `pool` (which a provider's `canRun` may ask) */
  services: (i: number, runStep: RunStep, pool: ModulePool) => Record<string, ServiceFactory>
}

export interface PoolMesh {
  readonly mesh: TestMesh
  readonly nodes: PlNode[]
  readonly pool: ModulePool
  readonly runStep: RunStep
  /** the test's temp folder (for writeModule) */
  readonly dir: string
  /** node i's negotiation service */
  negotiation: (i: number) => Negotiation
  /** runs `fn` at close, after the nodes stopped and before the pool closes (last deferred first) */
  defer: (fn: () => unknown) => void
  /** stops every node, runs the deferred closers, closes the pool, removes the temp folder; each runs even if one before it throws */
  close: () => Promise<void>
}

/** Runs every closer in order, even when one throws; rethrows the first error (all of them when several failed). */
async function closeAll (closers: Array<() => unknown>): Promise<void> {
  const errors: unknown[] = []
  for (const c of closers) {
    try {
      await c()
    } catch (err) {
      errors.push(err)
    }
  }
  if (errors.length === 1) throw errors[0]
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} closers of the test mesh failed`)
}

/** Starts the mesh; a failure part way closes what was opened before it is rethrown. Call `close()` in an `after` hook. */
export async function startPoolMesh (init: PoolMeshInit): Promise<PoolMesh> {
  // the pool holds nothing until a step runs; made first so that a bad pool option leaves nothing behind
  const pool = new ModulePool(init.pool)
  const runStep = poolRunStep(pool)
  const tmp = await tempDir(init.name).catch(async (err: unknown) => { await pool.close(); throw err })
  const deferred: Array<() => unknown> = []
  let mesh: TestMesh | undefined
  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closing ??= closeAll([async () => await mesh?.stop(), ...deferred.reverse(), async () => { await pool.close() }, tmp.cleanup])
    await closing
  }
  try {
    mesh = await TestMesh.start({ nodes: init.nodes, controlApi: init.controlApi, services: (i) => init.services(i, runStep, pool) })
    await mesh.connected(1)
  } catch (err) {
    await close().catch(() => {})
    throw err
  }
  const started = mesh
  return {
    mesh: started,
    nodes: started.nodes,
    pool,
    runStep,
    dir: tmp.dir,
    negotiation: (i) => started.nodes[i].service<Negotiation>('negotiation'),
    defer: (fn) => { deferred.push(fn) },
    close
  }
}

export interface OffersMeshInit extends Omit<PoolMeshInit, 'services'> {
  /** node 0's negotiation options beside `finder` and `local` (replyWindowMs defaults to 3000); false: node 0 runs no negotiation */
  requester?: NegotiationInit | false
  /** node 0's services started before its negotiation (e.g. receipts, trust); they run with `requester: false` too */
  requesterServices?: Record<string, ServiceFactory>
  /** node i's (i >= 1) negotiation options beside `local` and `runStep` (`pool`: the shared pool); false: node i runs no negotiation */
  provider?: (i: number, pool: ModulePool) => NegotiationInit | false
  /** node i's (i >= 1) services started before its negotiation (e.g. trust); they run with `provider(i)` false too */
  providerServices?: (i: number) => Record<string, ServiceFactory>
}

export interface OffersMesh extends PoolMesh {
  /** the nodes' offers: add them once the mesh is up */
  readonly offers: Offers
  /** node 0's negotiation service */
  requester: () => Negotiation
  /** node 0's remote step runner */
  runner: () => RemoteRunner
}

/** A mesh whose node 0 finds providers through `Offers` and whose other nodes serve their offers, running steps in the shared pool. */
export async function startOffersMesh (init: OffersMeshInit): Promise<OffersMesh> {
  const offers = new Offers()
  const requester = init.requester ?? {}
  const services = (i: number, runStep: RunStep, pool: ModulePool): Record<string, ServiceFactory> => {
    if (i === 0) {
      return requester === false
        ? { ...init.requesterServices }
        : { ...init.requesterServices, negotiation: negotiation({ finder: offers.finder(), local: offers.localFor(0), replyWindowMs: 3000, ...requester }) }
    }
    const provider = init.provider?.(i, pool) ?? {}
    const extra = init.providerServices?.(i)
    return provider === false ? { ...extra } : { ...extra, negotiation: negotiation({ local: offers.localFor(i), runStep, ...provider }) }
  }
  const m = await startPoolMesh({ ...init, services })
  return {
    ...m,
    offers,
    requester: () => m.negotiation(0),
    runner: () => m.negotiation(0).runner as RemoteRunner
  }
}

// --- end of the shared mesh setup -------------------------------------------

export function step (id: string, capability: string, over: Partial<Step> = {}): Step {
  return { id, kind: 'call', capability: { name: capability }, parameters: {}, settings: {}, after: [], args: {}, limits: {}, ...over }
}

export function dagOf (steps: Step[], over: Partial<TaskDag> = {}): TaskDag {
  return {
    v: 1,
    name: 'test',
    source: { format: 'dsl' },
    mode: 'dag',
    inputs: {},
    constraints: {},
    policies: [],
    select: [] as SelectWeight[],
    globalSettings: {},
    globalParameters: {},
    steps: Object.fromEntries(steps.map(s => [s.id, s])),
    outputs: [steps[steps.length - 1].id],
    ...over
  }
}

export function ctxOf (dag: TaskDag, runId: string, key: string, over: Partial<StepContext> = {}): StepContext & { events: Array<[number, number | undefined, string | undefined]> } {
  const events: Array<[number, number | undefined, string | undefined]> = []
  return {
    runId,
    key,
    attempt: 1,
    limits: { wall_ms: 10_000, mem_mb: 256 },
    dag,
    modules: {},
    signal: new AbortController().signal,
    progress: (n, total, message) => { events.push([n, total, message]) },
    log: silentLogger(),
    addon: async () => undefined,
    ask: async () => 'yes',
    events,
    ...over
  }
}

let runSeq = 0
export function runId (prefix = 'run'): string {
  return `${prefix}-${process.pid}-${++runSeq}-${Date.now()}`
}

/** The parts of a requester that speaks the negotiation wire by hand (`handRequester`). */
export interface HandRequester {
  /** the CID of the input every call names */
  inputCid: string
  /** a CallForProposal.v1 body for Echo about the input, with `over` on top */
  cfpBody: (over?: Partial<CallForProposal>) => CallForProposal
  /** `envelope` on /pl/negotiate to `to` */
  send: (to: PlNode, envelope: Envelope<any>) => Promise<RpcResponse<any>>
  /** Sends a CFP to `to` and returns its id and the verified answer (a bid or a decline). */
  callFor: (to: PlNode, over?: Partial<CallForProposal>) => Promise<{ cfpId: string, answer: Envelope<Bid | Decline> }>
  /** A CFP to `to` that must be answered with a bid. */
  bidFrom: (to: PlNode) => Promise<{ cfpId: string, bid: Envelope<Bid> }>
  /** The award of `bid` (CFP `cfpId`) to `to`, signed by the requester, with `over` on top. */
  awardFor: (to: PlNode, cfpId: string, bid: Envelope<Bid>, over?: Partial<Award>) => Envelope<Award>
}

/**
 * A requester speaking the wire directly (CFPs, bids and awards about one
 * input), for tests of the provider side: `requester()` is read at each
 * call, so this can be made before the mesh starts.
 */
export function handRequester (requester: () => PlNode, inputBytes: Uint8Array, run: string): HandRequester {
  const inputCid = cidStringOfBytes(inputBytes)
  const negotiate = negotiateProtocol()
  const cfpBody = (over: Partial<CallForProposal> = {}): CallForProposal => {
    const now = Date.now()
    return { run, step: 's', capability: { name: 'Echo' }, input: inputCid, input_size: inputBytes.byteLength, deadline: now + 60_000, reply_by: now + 5_000, limits: { wall_ms: 5_000 }, policies: [], ...over }
  }
  const send = async (to: PlNode, envelope: Envelope<any>): Promise<RpcResponse<any>> => await requester().components.rpc.request(to.peerId, negotiate, { envelope })
  const callFor = async (to: PlNode, over: Partial<CallForProposal> = {}): Promise<{ cfpId: string, answer: Envelope<Bid | Decline> }> => {
    const env = requester().components.sign('CallForProposal.v1', cfpBody(over), { to: to.peerId })
    const res = await send(to, env)
    assert.equal(res.status, 'OK', JSON.stringify(res.error))
    const { envelope } = await requester().components.verifier.verify<Bid | Decline>(res.body?.envelope, { expectedFrom: to.peerId, expectedTypes: ['Bid.v1', 'Decline.v1'] })
    return { cfpId: envelopeId(env), answer: envelope }
  }
  const bidFrom = async (to: PlNode): Promise<{ cfpId: string, bid: Envelope<Bid> }> => {
    const { cfpId, answer } = await callFor(to)
    assert.equal(answer.type, 'Bid.v1', JSON.stringify(answer.body))
    return { cfpId, bid: answer as Envelope<Bid> }
  }
  const awardFor = (to: PlNode, cfpId: string, bid: Envelope<Bid>, over: Partial<Award> = {}): Envelope<Award> => {
    const body: Award = { cfp: cfpId, bid: envelopeId(bid), run: bid.body.run, step: bid.body.step, provider: to.peerId, capability: bid.body.capability, input: inputCid, limits: bid.body.limits, deadline: Date.now() + 30_000, ...over }
    return requester().components.sign('Award.v1', body, { to: to.peerId })
  }
  return { inputCid, cfpBody, send, callFor, bidFrom, awardFor }
}

/** Asserts a REJECTED answer carrying the typed error `name`. */
export function rejected (res: RpcResponse<any>, name: string): void {
  assert.equal(res.status, 'REJECTED', `expected REJECTED ${name}, got ${res.status} ${JSON.stringify(res.body ?? res.error)}`)
  assert.equal(res.error?.name, name)
}
