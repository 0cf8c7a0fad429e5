/**
 * What the inbound MCP tools do, as calls on the node's own services (the
 * same ones the gateway's routes and the control API call): the capabilities
 * this node can broker (its own and the catalog's) with their io schemas
 * resolved, one-step negotiated runs, DSL runs, run views, decisions,
 * receipt verification. No MCP types here: src/bridges/mcp/server.ts
 * translates.
 */
import type { Executor } from '../../exec/index.js'
import type { ExecEvent } from '../../exec/types.js'
import { runView, type RunView } from '../../exec/view.js'
import { compileDsl } from '../../workflow/index.js'
import { verifyExport, type ReceiptExport } from '../../receipts/index.js'
import type { BlockStore } from '../../store/index.js'
import type { CapabilityDescriptor, CapabilityQuery, FindOptions, FoundCapability, LocalCapability, CatalogEntry } from '../../discovery/types.js'
import type { Logger } from '../../core/logger.js'

export interface MeshDeps {
  executor: Executor
  blocks: BlockStore
  discovery?: {
    localCapabilities: () => LocalCapability[]
    catalog: { list: () => CatalogEntry[] }
    find: (query: CapabilityQuery, options?: FindOptions) => Promise<FoundCapability[]>
  }
  receipts?: { export: (run: string) => Promise<ReceiptExport>, store: { forRun: (run: string) => Promise<unknown[]> } }
  /** fetches a schema document by CID from a peer (the capability's provider) */
  fetchDocument?: (peer: string, cid: string, options: { signal?: AbortSignal }) => Promise<unknown>
  logger: Logger
  /** @default 200 */
  maxTools?: number
  /** how long a schema fetch from the provider may take @default 5000 */
  schemaFetchMs?: number
}

export interface BrokeredCapability {
  name: string
  version: string
  description?: string
  input: Record<string, unknown>
  output: Record<string, unknown>
}

export interface RunResult {
  run: string
  state: string
  output?: unknown
  error?: { name: string, message: string }
  waiting?: RunView['waiting']
  receiptRoot?: string
  receipts?: number
}

const ANY_OBJECT = { type: 'object' }

export class Mesh {
  private readonly schemas = new Map<string, Record<string, unknown>>()

  constructor (private readonly d: MeshDeps) {}

  /** Capabilities this node can broker, one per name (its own first, then the catalog's newest). */
  async capabilities (): Promise<BrokeredCapability[]> {
    const byName = new Map<string, { descriptor: CapabilityDescriptor, provider: string }>()
    for (const c of this.d.discovery?.localCapabilities() ?? []) {
      if (c.active) byName.set(c.descriptor.name, { descriptor: c.descriptor, provider: c.descriptor.provider })
    }
    for (const e of this.d.discovery?.catalog.list() ?? []) {
      const had = byName.get(e.name)
      if (had == null) byName.set(e.name, { descriptor: e.descriptor, provider: e.provider })
    }
    const names = [...byName.keys()].sort().slice(0, this.d.maxTools ?? 200)
    return await Promise.all(names.map(async (name) => {
      const { descriptor, provider } = byName.get(name) as { descriptor: CapabilityDescriptor, provider: string }
      return {
        name,
        version: descriptor.version,
        ...(descriptor.description != null ? { description: descriptor.description } : {}),
        input: await this.schema(descriptor.io.input, provider),
        output: await this.schema(descriptor.io.output, provider)
      }
    }))
  }

  /** An io schema: inline, from the block store, or fetched from the provider by CID; `{type: object}` when unknown. */
  private async schema (io: unknown, provider: string): Promise<Record<string, unknown>> {
    if (io != null && typeof io === 'object') return io as Record<string, unknown>
    if (typeof io !== 'string') return ANY_OBJECT
    const cached = this.schemas.get(io)
    if (cached != null) return cached
    let doc: unknown
    try {
      doc = await this.d.blocks.get(io)
    } catch {
      try {
        doc = await this.d.fetchDocument?.(provider, io, { signal: AbortSignal.timeout(this.d.schemaFetchMs ?? 5_000) })
      } catch (err) {
        this.d.logger.debug({ cid: io, provider, err: (err as Error).message }, 'io schema not found')
      }
    }
    if (doc == null || typeof doc !== 'object' || Array.isArray(doc)) return ANY_OBJECT
    this.schemas.set(io, doc as Record<string, unknown>)
    return doc as Record<string, unknown>
  }

  async find (query: CapabilityQuery, options: FindOptions): Promise<Array<Record<string, unknown>>> {
    if (this.d.discovery == null) return []
    const found = await this.d.discovery.find(query, options)
    return found.map(f => ({ name: f.descriptor.name, version: f.descriptor.version, provider: f.provider, cid: f.cid, source: f.source, ...(f.descriptor.price != null ? { price: f.descriptor.price } : {}), ...(f.descriptor.attrs != null ? { attrs: f.descriptor.attrs } : {}), ...(f.descriptor.description != null ? { description: f.descriptor.description } : {}) }))
  }

  /** A one-step negotiated run of capability `name` with `input` as the run input. */
  async runCapability (name: string, input: Record<string, unknown>, options: RunOptions = {}): Promise<RunResult> {
    return await this.runPlan(`goal: ${name}\nplan:\n  - step: ${name}()\n`, input, options)
  }

  async runPlan (dsl: string, input: Record<string, unknown>, options: RunOptions = {}): Promise<RunResult> {
    const dag = compileDsl(dsl, { file: 'mcp.yaml' })
    const id = await this.d.executor.submit(dag, input)
    options.onRun?.(id)
    return await this.follow(id, options)
  }

  /** Waits until the run ends or waits on a human decision, reporting its events; answers its result. */
  async follow (run: string, options: RunOptions = {}): Promise<RunResult> {
    const onEvent = options.onEvent
    const listener = (ev: ExecEvent): void => { if (ev.runId === run) onEvent?.(ev) }
    if (onEvent != null) {
      this.d.executor.on('event', listener)
      for (const ev of this.d.executor.events(run, 0).events) onEvent(ev)
    }
    try {
      if (options.wait !== false) await this.d.executor.wait(run, { untilWaiting: true, ...(options.signal != null ? { signal: options.signal } : {}) })
    } finally {
      this.d.executor.off('event', listener)
    }
    return await this.result(run)
  }

  async result (run: string): Promise<RunResult> {
    const view = await runView(this.d.executor, run)
    const out: RunResult = { run, state: view.run.state }
    if (view.output !== undefined) out.output = view.output
    if (view.run.error != null) out.error = { name: view.run.error.name, message: view.run.error.message }
    if (view.waiting != null) out.waiting = view.waiting
    if (this.d.receipts != null && (await this.d.receipts.store.forRun(run)).length > 0) {
      const doc = await this.d.receipts.export(run)
      out.receiptRoot = doc.root
      out.receipts = doc.receipts.length
    }
    return out
  }

  async decide (run: string, step: string, choice: string, options: RunOptions = {}): Promise<RunResult> {
    await this.d.executor.decide(run, step, choice)
    return await this.follow(run, options)
  }

  /** Verifies a run's receipts (as this node holds them) or a receipts export document, offline. */
  async verifyReceipts (arg: { run?: string, export?: unknown }): Promise<Record<string, unknown>> {
    const doc = arg.export ?? (arg.run != null && this.d.receipts != null ? await this.d.receipts.export(arg.run) : undefined)
    if (doc == null) throw new TypeError('verify_receipts takes {run} (this node keeps receipts) or {export}')
    const r = verifyExport(doc)
    return { ok: true, run: r.run, root: r.root, receipts: r.receipts }
  }
}

export interface RunOptions {
  /** @default true: wait until the run ends or waits on a decision */
  wait?: boolean
  signal?: AbortSignal
  onRun?: (run: string) => void
  onEvent?: (ev: ExecEvent) => void
}
