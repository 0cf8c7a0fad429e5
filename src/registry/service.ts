/**
 * The workflow registry as a pl-node service. Registered workflows are data
 * in the mesh: the bundle (or plan) is a block addressed by its CID, each
 * version is a signed WorkflowRecord.v1 envelope, deletion is a signed
 * tombstone. The registering node provides `pl:wf:<id>` on the DHT, answers
 * `/pl/workflows` with its record CIDs and shares the records and bundles on
 * `/pl/fetch`; any other node finds, fetches, verifies and caches them.
 */
import { setMaxListeners } from 'node:events'
import { mkdir, rename, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { PlComponents, PlService, ServiceComponents } from '../node.js'
import type { Logger } from '../core/logger.js'
import { decodeCanonical } from '../core/encoding.js'
import { envelopeId } from '../core/index.js'
import { type BlockFetcher, expectOk } from '../net/index.js'
import { DhtProvider } from '../discovery/index.js'
import type { Principal, RegisteredWorkflowSource, ResolvedWorkflow } from '../gateway/types.js'
import * as C from './constants.js'
import {
  InvalidWorkflowRecordError, InvalidWorkflowRequestError, InvalidWorkflowVersionError, PurgeForbiddenError, RegistryUnavailableError,
  WorkflowDeletedError, WorkflowExistsError, WorkflowIdMismatchError, WorkflowNotFoundInRegistryError,
  WorkflowVersionConflictError, WorkflowVersionNotFoundError
} from './errors.js'
import { checkWorkflowId, ingestBundle, ingestPlan, publisherOf, verifyRecord, type IngestedWorkflow, type SignedRecord, type WorkflowRecord } from './record.js'
import { checkWorkflowsAnswer, workflowKey, workflowsProtocol, type WorkflowsAnswer } from './protocol.js'
import { RegistryStore, type RecordEntry, type WorkflowState } from './store.js'
import { compareSemver, parseSemver } from './semver.js'
import { runQuery, type QueryRequest, type QueryResult } from './query.js'
import { RegistryRuns, type RunsServices } from './runs.js'

export interface RegistryInit {
  /** largest bundle or plan @default DEFAULT_MAX_BUNDLE_BYTES (4 MiB) */
  maxBundleBytes?: number
  /** largest unpacked bundle @default 64 MiB */
  maxUnpackedBytes?: number
  /** how long records fetched from the mesh are served from cache @default DEFAULT_CACHE_TTL_MS */
  cacheTtlMs?: number
  /** @default DEFAULT_REGISTRY_FIND_TIMEOUT_MS */
  findTimeoutMs?: number
  /** @default DEFAULT_MAX_PROVIDERS */
  maxProviders?: number
  /** @default DEFAULT_REPROVIDE_MS */
  reprovideMs?: number
  /** @default Date.now */
  now?: () => number
}

export type RegistryComponents = Pick<PlComponents, 'dataDir' | 'store' | 'sign' | 'verifier' | 'rpc' | 'libp2p' | 'logger' | 'metrics' | 'fetcher' | 'clock'> & { services: RunsServices }

/** A workflow to register: a ZIP bundle or DSL plan text, with the fields the request may set. */
export interface RegisterInput {
  bundle?: Uint8Array
  plan?: string
  workflow_id?: string
  version?: string
  releaseTag?: string
}

/** The JSON view of a record: the body, its CID, the signing node and the envelope itself. */
export interface RecordView extends WorkflowRecord {
  record: string
  node: string
  envelope: SignedRecord
}

export interface RegisterResult { record: RecordView, created: boolean }

export const DEFAULT_MAX_UNPACKED_BYTES = 64 * 1024 * 1024

export class Registry implements PlService, RegisteredWorkflowSource {
  readonly store: RegistryStore
  /** the `/dsl-executor` side: runs and warm executors of registered workflows */
  readonly runs: RegistryRuns
  private fetcher?: BlockFetcher
  private readonly dht: DhtProvider
  private readonly log: Logger
  private shutdown = new AbortController()
  private state: 'stopped' | 'starting' | 'started' = 'stopped'
  /** registrations of one id run one after another */
  private readonly locks = new Map<string, Promise<unknown>>()
  private readonly now: () => number
  readonly settings: Required<Omit<RegistryInit, 'now'>>

  constructor (private readonly c: RegistryComponents, init: RegistryInit = {}) {
    this.store = new RegistryStore(c.store)
    this.log = c.logger.child({ component: 'registry' })
    this.now = init.now ?? Date.now
    this.settings = {
      maxBundleBytes: init.maxBundleBytes ?? C.DEFAULT_MAX_BUNDLE_BYTES,
      maxUnpackedBytes: init.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES,
      cacheTtlMs: init.cacheTtlMs ?? C.DEFAULT_CACHE_TTL_MS,
      findTimeoutMs: init.findTimeoutMs ?? C.DEFAULT_REGISTRY_FIND_TIMEOUT_MS,
      maxProviders: init.maxProviders ?? C.DEFAULT_MAX_PROVIDERS,
      reprovideMs: init.reprovideMs ?? C.DEFAULT_REPROVIDE_MS
    }
    this.runs = new RegistryRuns(c, this, { findTimeoutMs: this.settings.findTimeoutMs })
    this.dht = new DhtProvider(c.libp2p, this.log, { metrics: c.metrics, area: 'registry', reprovideMs: this.settings.reprovideMs, retryMs: C.DEFAULT_PROVIDE_RETRY_MS, retryMaxMs: C.DEFAULT_PROVIDE_RETRY_MAX_MS, clock: c.clock })
  }

  get isStarted (): boolean { return this.state === 'started' }

  /** The folder where resolved bundles and plans are written for the executor. */
  get filesDir (): string { return join(this.c.dataDir, 'registry') }

  // ---------------------------------------------------------------- lifecycle

  async start (): Promise<void> {
    if (this.state !== 'stopped') return
    this.state = 'starting'
    this.shutdown = new AbortController()
    setMaxListeners(Infinity, this.shutdown.signal)
    try {
      this.fetcher = this.c.fetcher
      await this.c.rpc.handle(workflowsProtocol(async (req) => await this.answer(req.workflow_id)))
      this.dht.start()
      let announced = 0
      for (const wf of await this.store.all()) {
        if (!wf.local) continue
        await this.announce(wf.id, [...wf.versions, ...wf.tombstones].filter(e => e.origin === 'local'))
        announced++
      }
      this.state = 'started'
      this.log.info({ workflows: announced }, 'registry started')
    } catch (err) {
      this.state = 'started'
      await this.stop().catch(() => {})
      throw err
    }
  }

  async stop (): Promise<void> {
    if (this.state !== 'started') return
    this.state = 'stopped'
    this.shutdown.abort()
    await this.runs.close().catch(() => {})
    this.dht.stop()
    await this.c.libp2p.unhandle(C.WORKFLOWS_PROTOCOL).catch(() => {})
  }

  private assertStarted (): BlockFetcher {
    if (this.state !== 'started' || this.fetcher == null) throw new RegistryUnavailableError('the registry service is not started')
    return this.fetcher
  }

  /** Shares the records and their bundles on /pl/fetch and provides the workflow's DHT key. */
  private async announce (id: string, entries: RecordEntry[]): Promise<void> {
    const fetcher = this.assertStartedOrStarting()
    for (const e of entries) {
      fetcher.share(e.cid)
      fetcher.share((await this.store.record(e.cid)).body.bundle)
    }
    this.dht.provide(workflowKey(id))
  }

  private assertStartedOrStarting (): BlockFetcher {
    if (this.fetcher == null) throw new RegistryUnavailableError('the registry service is not started')
    return this.fetcher
  }

  /** `/pl/workflows` provider side: the CIDs of the records this node signed. */
  private async answer (id: string): Promise<{ status: 'OK', body: WorkflowsAnswer } | { status: 'NOT_FOUND', error: { name: string, message: string } }> {
    const local = (await this.store.entries(id)).filter(e => e.origin === 'local')
    if (local.length === 0) return { status: 'NOT_FOUND', error: { name: 'WorkflowNotFoundInRegistryError', message: `no workflow ${id} registered here` } }
    return { status: 'OK', body: { records: local.slice(0, C.MAX_RECORDS_PER_ANSWER).map(e => e.cid) } }
  }

  private async locked<T> (id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve()
    const next = prev.catch(() => {}).then(fn)
    this.locks.set(id, next)
    try {
      return await next
    } finally {
      if (this.locks.get(id) === next) this.locks.delete(id)
    }
  }

  // ---------------------------------------------------------------- writes

  private async ingest (input: RegisterInput): Promise<IngestedWorkflow> {
    if ((input.bundle == null) === (input.plan == null)) throw new InvalidWorkflowRequestError('a workflow is registered from exactly one of a ZIP bundle or a DSL plan')
    const limits = { maxBundleBytes: this.settings.maxBundleBytes, maxUnpackedBytes: this.settings.maxUnpackedBytes }
    return input.bundle != null ? await ingestBundle(input.bundle, limits) : ingestPlan(input.plan as string, limits)
  }

  /**
   * Registers a workflow version. `mode` says what the caller expects:
   * `create` (POST /workflows: a new id, 409 if it exists), `update` (PUT: a
   * new version of an existing id, 404 if none) or `upload` (either).
   * The same version with the same bundle again is idempotent (`created: false`).
   */
  async register (input: RegisterInput, principal: Principal, options: { mode: 'create' | 'update' | 'upload', workflowId?: string }): Promise<RegisterResult> {
    this.assertStarted()
    const ing = await this.ingest(input)
    const named = [options.workflowId, input.workflow_id, ing.workflowId].filter((x): x is string => x != null)
    if (named.length === 0) throw new InvalidWorkflowRequestError('no workflow id: give "workflow_id" (or set it in workflow.json)')
    for (const other of named) {
      if (other !== named[0]) throw new WorkflowIdMismatchError(`the request names workflow ${named[0]} but ${other} is named too (URL, body and workflow.json must agree)`, { workflow_id: named[0], other })
    }
    const id = checkWorkflowId(named[0])
    const version = input.version ?? ing.version ?? (options.mode === 'update' ? undefined : '1.0.0')
    if (version == null) throw new InvalidWorkflowVersionError('PUT needs a "version" (or workflow.json version.version) greater than the latest one')
    parseSemver(version)
    const releaseTag = input.releaseTag ?? ing.releaseTag
    return await this.locked(id, async () => {
      const wf = await this.store.state(id)
      const same = wf.versions.find(v => compareSemver(v.version, version) === 0 && v.version === version)
      if (same != null) {
        const rec = await this.store.record(same.cid)
        if (rec.body.bundle === ing.cid && !wf.deleted) return { record: view(rec, same.cid), created: false }
        throw new WorkflowVersionConflictError(`workflow ${id} has a version ${version} already${wf.deleted ? ' (deleted)' : ' with another bundle'}; versions are immutable`, { workflow_id: id, version })
      }
      if (options.mode === 'create' && wf.versions.length > 0 && !wf.deleted) {
        throw new WorkflowExistsError(`workflow ${id} is registered already; PUT /workflows/${id} adds a version`, { workflow_id: id })
      }
      if (options.mode === 'update' && wf.versions.length === 0) throw new WorkflowNotFoundInRegistryError(`no workflow ${id} registered here`, { workflow_id: id })
      if (options.mode === 'update' && wf.deleted) throw new WorkflowDeletedError(`workflow ${id} was deleted; POST /workflows registers it again`, { workflow_id: id })
      const latest = wf.versions[wf.versions.length - 1]
      if (latest != null && compareSemver(version, latest.version) <= 0) {
        throw new WorkflowVersionConflictError(`version ${version} of workflow ${id} is not greater than the latest version ${latest.version}`, { workflow_id: id, version, latest: latest.version })
      }
      await this.c.store.blocks.putBytes(ing.cid, ing.bytes)
      const body: WorkflowRecord = {
        workflow_id: id,
        version,
        ...(releaseTag != null ? { releaseTag } : {}),
        kind: ing.kind,
        bundle: ing.cid,
        size: ing.bytes.byteLength,
        ...publisherOf(principal),
        ts: Math.max(this.now(), (latest?.ts ?? 0) + 1, (wf.tombstones.at(-1)?.ts ?? 0) + 1),
        meta: ing.meta
      }
      const env = this.c.sign(C.RECORD_TYPE, body, { now: body.ts })
      const entry = await this.store.put(env, 'local')
      await this.announce(id, [entry])
      this.log.info({ workflow: id, version, record: entry.cid, bundle: ing.cid }, 'workflow registered')
      return { record: view(env, entry.cid), created: true }
    })
  }

  /**
   * Deletes a workflow: a signed tombstone (history kept, served to the mesh),
   * or with `purge` (admin scope only) every record of it is forgotten here.
   */
  async remove (id: string, principal: Principal, options: { purge?: boolean } = {}): Promise<{ workflow_id: string, purged: boolean, tombstone?: RecordView }> {
    this.assertStarted()
    checkWorkflowId(id)
    if (options.purge === true && !principal.scopes.includes('admin')) throw new PurgeForbiddenError('purging a workflow needs the admin scope', { workflow_id: id })
    return await this.locked(id, async () => {
      const wf = await this.store.state(id)
      if (!wf.local) {
        throw new WorkflowNotFoundInRegistryError(wf.versions.length > 0 ? `workflow ${id} was registered by another node; only that node can delete it` : `no workflow ${id} registered here`, { workflow_id: id })
      }
      if (options.purge === true) {
        const entries = await this.store.purge(id)
        for (const e of entries) this.fetcher?.unshare(e.cid)
        await this.dht.cancel(workflowKey(id))
        this.log.info({ workflow: id, records: entries.length }, 'workflow purged')
        return { workflow_id: id, purged: true }
      }
      if (wf.deleted) {
        const t = wf.tombstones[wf.tombstones.length - 1]
        return { workflow_id: id, purged: false, tombstone: view(await this.store.record(t.cid), t.cid) }
      }
      const latest = await this.store.record(wf.versions[wf.versions.length - 1].cid)
      const body: WorkflowRecord = {
        ...latest.body,
        ...publisherOf(principal),
        ts: Math.max(this.now(), latest.body.ts + 1),
        tombstone: true
      }
      const env = this.c.sign(C.RECORD_TYPE, body, { now: body.ts })
      const entry = await this.store.put(env, 'local')
      await this.announce(id, [entry])
      this.log.info({ workflow: id, record: entry.cid }, 'workflow deleted (tombstone)')
      return { workflow_id: id, purged: false, tombstone: view(env, entry.cid) }
    })
  }

  // ---------------------------------------------------------------- reads

  /**
   * A workflow's records: this node's own, a fresh cache entry, or a lookup in
   * the mesh (DHT walk under `pl:wf:<id>`, `/pl/workflows`, `/pl/fetch`, verified).
   */
  async lookup (id: string, options: { signal?: AbortSignal, refresh?: boolean } = {}): Promise<WorkflowState> {
    this.assertStarted()
    checkWorkflowId(id)
    const wf = await this.store.state(id)
    if (wf.local) return wf
    const fetchedAt = await this.store.fetchedAt(id)
    const fresh = fetchedAt != null && this.now() - fetchedAt < this.settings.cacheTtlMs
    if (wf.versions.length > 0 && fresh && options.refresh !== true) return wf
    const found = await this.findInMesh(id, options.signal)
    if (!found && wf.versions.length === 0) throw new WorkflowNotFoundInRegistryError(`no workflow ${id} here, and no peer of the mesh serves it`, { workflow_id: id })
    return await this.store.state(id)
  }

  /** The record of one version (default: the latest); a deleted workflow answers WorkflowDeletedError unless a version is named. */
  async get (id: string, options: { version?: string, signal?: AbortSignal } = {}): Promise<RecordView & { deleted: boolean }> {
    if (options.version != null) parseSemver(options.version)
    const wf = await this.lookup(id, options)
    if (wf.deleted && options.version == null) throw new WorkflowDeletedError(`workflow ${id} was deleted`, { workflow_id: id })
    const entry = options.version == null ? wf.versions[wf.versions.length - 1] : wf.versions.find(v => v.version === options.version)
    if (entry == null) throw new WorkflowVersionNotFoundError(`workflow ${id} has no version ${String(options.version)}`, { workflow_id: id, version: options.version, versions: wf.versions.map(v => v.version) })
    return { ...view(await this.store.record(entry.cid), entry.cid), deleted: wf.deleted }
  }

  /** Every version and tombstone of a workflow, oldest version first. */
  async versions (id: string, options: { signal?: AbortSignal } = {}): Promise<{ workflow_id: string, deleted: boolean, versions: RecordView[], tombstones: RecordView[] }> {
    const wf = await this.lookup(id, options)
    const load = async (e: RecordEntry): Promise<RecordView> => view(await this.store.record(e.cid), e.cid)
    return { workflow_id: id, deleted: wf.deleted, versions: await Promise.all(wf.versions.map(load)), tombstones: await Promise.all(wf.tombstones.map(load)) }
  }

  /** The latest record of every workflow this node holds (registered here or cached), deleted ones left out unless asked. */
  async list (options: { includeDeleted?: boolean } = {}): Promise<Array<RecordView & { deleted: boolean }>> {
    this.assertStarted()
    const out: Array<RecordView & { deleted: boolean }> = []
    for (const wf of await this.store.all()) {
      if (wf.versions.length === 0 || (wf.deleted && options.includeDeleted !== true)) continue
      const latest = wf.versions[wf.versions.length - 1]
      out.push({ ...view(await this.store.record(latest.cid), latest.cid), deleted: wf.deleted })
    }
    return out.sort((a, b) => a.workflow_id < b.workflow_id ? -1 : a.workflow_id > b.workflow_id ? 1 : 0)
  }

  /** `POST /workflows/query`: the filter language of src/registry/query.ts over `list()`. */
  async query (request: unknown): Promise<QueryResult<RecordView & { deleted: boolean }>> {
    const req = request as QueryRequest
    const all = await this.list({ includeDeleted: true })
    return runQuery(all, req, r => ({
      workflow_id: r.workflow_id,
      version: r.version,
      releaseTag: r.releaseTag,
      kind: r.kind,
      bundle: r.bundle,
      record: r.record,
      node: r.node,
      publisher: r.publisher,
      publisherKind: r.publisherKind,
      ts: r.ts,
      size: r.size,
      deleted: r.deleted,
      name: r.meta.name,
      description: r.meta.description,
      tags: r.meta.tags,
      modules: r.meta.modules
    }))
  }

  /**
   * RegisteredWorkflowSource: a local path the executor can run — the bundle
   * as `<dataDir>/registry/<cid>.zip` or the plan as `<cid>.yaml` — fetched
   * from the registering node when not held here (verified against its CID).
   */
  async resolve (workflowId: string, options: { version?: string, signal?: AbortSignal } = {}): Promise<ResolvedWorkflow & { record: RecordView }> {
    const record = await this.get(workflowId, options)
    if (record.deleted) throw new WorkflowDeletedError(`workflow ${workflowId} was deleted`, { workflow_id: workflowId })
    const path = join(this.filesDir, `${record.bundle}.${record.kind === 'plan' ? 'yaml' : 'zip'}`)
    if (!await exists(path)) {
      let bytes = await this.c.store.blocks.getBytes(record.bundle)
      if (bytes == null) {
        const fetcher = this.assertStarted()
        bytes = await fetcher.fetch(record.node, record.bundle, { signal: options.signal })
        await this.c.store.blocks.putBytes(record.bundle, bytes)
      }
      await mkdir(this.filesDir, { recursive: true })
      const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
      await writeFile(tmp, bytes)
      await rename(tmp, path)
    }
    return { record, path }
  }

  // ---------------------------------------------------------------- mesh

  /** Asks providers of `pl:wf:<id>` for their records until one answers with valid ones; true when some were stored. */
  private async findInMesh (id: string, callerSignal?: AbortSignal): Promise<boolean> {
    const fetcher = this.assertStarted()
    const signals = [this.shutdown.signal, AbortSignal.timeout(this.settings.findTimeoutMs)]
    if (callerSignal != null) signals.push(callerSignal)
    const signal = AbortSignal.any(signals)
    setMaxListeners(Infinity, signal)
    const walk = this.dht.findProviders(workflowKey(id), signal)
    const stopped = new Promise<'stopped'>((resolve) => {
      if (signal.aborted) resolve('stopped')
      else signal.addEventListener('abort', () => { resolve('stopped') }, { once: true })
    })
    let asked = 0
    try {
      while (asked < this.settings.maxProviders) {
        const step = walk.next()
        step.catch(() => {})
        // the DHT query notices an abort only when its requests settle: race it against the signal
        const next = await Promise.race([step, stopped])
        if (next === 'stopped' || next.done === true) break
        asked++
        const peer = next.value.id.toString()
        try {
          if (await this.fetchFrom(peer, id, fetcher, signal) > 0) {
            await this.store.markFetched(id, this.now())
            return true
          }
        } catch (err) {
          if (signal.aborted) break
          this.log.debug({ peer, workflow: id, err: (err as Error).message, name: (err as Error).name }, 'registry provider not usable')
        }
      }
    } catch (err) {
      if (!signal.aborted) this.log.debug({ workflow: id, err: (err as Error).message }, 'DHT walk ended with an error')
    } finally {
      walk.return(undefined).catch(() => {})
    }
    callerSignal?.throwIfAborted()
    return false
  }

  /** Fetches and verifies the records `peer` serves for `id`; returns how many are held now. */
  private async fetchFrom (peer: string, id: string, fetcher: BlockFetcher, signal: AbortSignal): Promise<number> {
    const res = await this.c.rpc.request(peer, workflowsProtocol(), { workflow_id: id }, { signal })
    if (res.status === 'NOT_FOUND') return 0
    const { records } = checkWorkflowsAnswer(expectOk(res, C.WORKFLOWS_PROTOCOL), peer)
    const held = new Set((await this.store.entries(id)).map(e => e.cid))
    const fetched: SignedRecord[] = []
    let count = 0
    for (const cid of records) {
      if (held.has(cid)) { count++; continue }
      const bytes = await fetcher.fetch(peer, cid, { signal })
      const env = verifyRecord(this.c.verifier, decodeCanonical(bytes), peer, id)
      // the bytes hashed to cid; a non-canonical encoding would be stored under another id
      if (envelopeId(env) !== cid) throw new InvalidWorkflowRecordError(`record ${cid} from ${peer} is not canonical dag-cbor`, { peer, cid })
      fetched.push(env)
      count++
    }
    // the latest version's bundle comes with its records (checked against its CID); older ones when first run
    const latest = fetched.filter(e => e.body.tombstone !== true).sort((a, b) => compareSemver(a.body.version, b.body.version)).at(-1)
    if (latest != null && !await this.c.store.blocks.has(latest.body.bundle)) {
      await this.c.store.blocks.putBytes(latest.body.bundle, await fetcher.fetch(peer, latest.body.bundle, { signal }))
    }
    for (const env of fetched) await this.store.put(env, peer)
    return count
  }
}

function view (env: SignedRecord, cid: string): RecordView {
  return { ...env.body, record: cid, node: env.from, envelope: env }
}

async function exists (path: string): Promise<boolean> {
  try { await stat(path); return true } catch { return false }
}

/** Service factory (services map entry `registry: registry()`). */
export function registry (init: RegistryInit = {}): (components: ServiceComponents<RunsServices>) => Registry {
  return (components) => new Registry(components, init)
}
