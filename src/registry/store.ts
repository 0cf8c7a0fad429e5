/**
 * The registry's keyspace in the node's LevelDB: one entry per record
 * (version or tombstone) of each workflow, under `r!<workflow_id>!<record CID>`,
 * and when a workflow's records were last fetched from the mesh under
 * `f!<workflow_id>`. The signed record envelopes and the bundle bytes live in
 * the block store (content by CID), so `/pl/fetch` serves them as they are.
 */
import type { Store } from '../store/index.js'
import type { SignedRecord } from './record.js'
import { compareSemver } from './semver.js'

export interface RecordEntry {
  /** CID of the signed record envelope (its id) */
  cid: string
  version: string
  ts: number
  tombstone: boolean
  /** 'local' for records this node signed; otherwise the PeerId it was fetched from */
  origin: string
}

/** A workflow's records, ordered: versions by semver, tombstones by time. */
export interface WorkflowState {
  id: string
  versions: RecordEntry[]
  tombstones: RecordEntry[]
  /** the latest record is a tombstone */
  deleted: boolean
  local: boolean
}

export function stateOf (id: string, entries: RecordEntry[]): WorkflowState {
  const versions = entries.filter(e => !e.tombstone).sort((a, b) => compareSemver(a.version, b.version) || a.ts - b.ts)
  const tombstones = entries.filter(e => e.tombstone).sort((a, b) => a.ts - b.ts)
  const lastVersionTs = versions.length === 0 ? -1 : Math.max(...versions.map(v => v.ts))
  const lastTombTs = tombstones.length === 0 ? -1 : tombstones[tombstones.length - 1].ts
  return { id, versions, tombstones, deleted: tombstones.length > 0 && lastTombTs >= lastVersionTs, local: entries.some(e => e.origin === 'local') }
}

export class RegistryStore {
  private readonly db: ReturnType<Store['json']>

  constructor (private readonly store: Store) {
    this.db = store.json<unknown>('registry')
  }

  async entries (id: string): Promise<RecordEntry[]> {
    const out: RecordEntry[] = []
    for await (const v of this.db.values({ gt: `r!${id}!`, lt: `r!${id}!\xff` })) out.push(v as RecordEntry)
    return out
  }

  async state (id: string): Promise<WorkflowState> {
    return stateOf(id, await this.entries(id))
  }

  /** Every workflow with at least one record here. */
  async all (): Promise<WorkflowState[]> {
    const byId = new Map<string, RecordEntry[]>()
    for await (const [k, v] of this.db.iterator({ gt: 'r!', lt: 'r!\xff' })) {
      const id = k.slice(2, k.lastIndexOf('!'))
      const list = byId.get(id) ?? []
      list.push(v as RecordEntry)
      byId.set(id, list)
    }
    return [...byId].map(([id, list]) => stateOf(id, list))
  }

  /** Stores a signed record (its envelope as a block) and its index entry; returns the entry. */
  async put (env: SignedRecord, origin: string): Promise<RecordEntry> {
    const cid = await this.store.blocks.put(env)
    const entry: RecordEntry = { cid, version: env.body.version, ts: env.body.ts, tombstone: env.body.tombstone === true, origin }
    await this.db.put(`r!${env.body.workflow_id}!${cid}`, entry)
    return entry
  }

  async record (cid: string): Promise<SignedRecord> {
    return await this.store.blocks.get<SignedRecord>(cid)
  }

  async fetchedAt (id: string): Promise<number | undefined> {
    return await this.db.get(`f!${id}`) as number | undefined
  }

  async markFetched (id: string, at: number): Promise<void> {
    await this.db.put(`f!${id}`, at)
  }

  /** Forgets every record of `id` (purge): index entries and record blocks; bundle blocks may be shared by other records and stay. */
  async purge (id: string): Promise<RecordEntry[]> {
    const entries = await this.entries(id)
    const blocks = this.store.binary('blocks')
    await this.db.batch([
      ...entries.map(e => ({ type: 'del' as const, key: `r!${id}!${e.cid}` })),
      { type: 'del' as const, key: `f!${id}` }
    ])
    for (const e of entries) await blocks.del(e.cid)
    return entries
  }
}
