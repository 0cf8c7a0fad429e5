/**
 * Capabilities this node publishes: persisted (descriptor + impl folder) in
 * LevelDB so a restarted daemon re-advertises them, and bound to their module
 * folder. A folder whose CID no longer matches the descriptor's `module.cid`
 * (edited or removed since publish) is not bound and not advertised: a node
 * runs only the code it pinned.
 */
import { externalModuleSpec, moduleSpecOf, type ModuleSpec } from '../core/index.js'
import type { JsonSublevel } from '../store/index.js'
import { compareVersions } from './descriptor.js'
import type { LocalCapability, LocalRecord } from './types.js'

/** Binds a record to its module folder (checking the folder still has the published CID). */
export async function bindRecord (rec: LocalRecord): Promise<LocalCapability> {
  if (rec.impl == null) return { ...rec, active: true }
  let module: ModuleSpec
  if (rec.impl.external != null) {
    try {
      module = externalModuleSpec(rec.descriptor.name, rec.impl.external)
    } catch (err) {
      return { ...rec, active: false, problem: `${(err as Error).name}: ${(err as Error).message}` }
    }
    return module.cid === rec.descriptor.module?.cid
      ? { ...rec, module, active: true }
      : { ...rec, active: false, problem: `external implementation ${rec.impl.external.kind} ${rec.impl.external.target} does not match the published module CID; publish it again` }
  }
  // a composite's plan is stored as its external implementation at publish: a record never keeps `plan`
  if (rec.impl.dir == null) return { ...rec, active: false, problem: 'the record names no module folder nor external implementation; publish it again' }
  try {
    module = await moduleSpecOf(rec.descriptor.name, rec.impl.dir, { className: rec.impl.className })
    if (rec.impl.permissions != null && rec.impl.permissions.length > 0) module = { ...module, permissions: rec.impl.permissions }
    if (rec.impl.confined === true) module = { ...module, confined: true }
  } catch (err) {
    return { ...rec, active: false, problem: `${(err as Error).name}: ${(err as Error).message}` }
  }
  if (module.cid !== rec.descriptor.module?.cid) {
    return { ...rec, active: false, problem: `module folder ${rec.impl.dir} changed since publish (CID ${module.cid}, published ${String(rec.descriptor.module?.cid)}); publish it again` }
  }
  return { ...rec, module, active: true }
}

export class LocalCapabilities {
  private readonly byCid = new Map<string, LocalCapability>()

  constructor (private readonly db: JsonSublevel<LocalRecord>) {}

  /** Reads and binds every persisted record. */
  async load (): Promise<LocalCapability[]> {
    this.byCid.clear()
    for await (const [cid, rec] of this.db.iterator() as AsyncIterable<[string, LocalRecord | undefined]>) {
      if (rec == null || typeof rec !== 'object' || rec.descriptor == null) continue
      this.byCid.set(cid, await bindRecord(rec))
    }
    return this.list()
  }

  async add (cap: LocalCapability): Promise<void> {
    const rec: LocalRecord = { cid: cap.cid, descriptor: cap.descriptor, publishedAt: cap.publishedAt, ...(cap.impl != null ? { impl: cap.impl } : {}) }
    await this.db.put(cap.cid, rec)
    this.byCid.set(cap.cid, cap)
  }

  async remove (cid: string): Promise<void> {
    this.byCid.delete(cid)
    await this.db.del(cid)
  }

  get (cid: string): LocalCapability | undefined {
    return this.byCid.get(cid)
  }

  list (): LocalCapability[] {
    return [...this.byCid.values()].sort((a, b) => a.descriptor.name.localeCompare(b.descriptor.name) || compareVersions(a.descriptor.version, b.descriptor.version))
  }

  byName (name: string): LocalCapability[] {
    return this.list().filter(c => c.descriptor.name === name)
  }

  /** The bound module of the newest active version of `name` (or of exactly `version`). */
  module (name: string, version?: string): ModuleSpec | undefined {
    const candidates = this.byName(name).filter(c => c.active && c.module != null && (version == null || c.descriptor.version === version))
    return candidates.at(-1)?.module
  }
}
