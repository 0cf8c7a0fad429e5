/**
 * DAGs validated and encoded recently, so that the same DAG submitted again
 * (a gateway caller, a benchmark, a cron-like client sending one workflow
 * many times) is not validated and dag-cbor-encoded again: for a 1000-step
 * DAG both cost ~10 ms each here, about as much as running its steps.
 *
 * The key is the DAG's JSON text, used only for plain JSON data (strings,
 * finite numbers, booleans, null, plain arrays without holes or undefined,
 * plain objects without undefined values): two plain values with the same
 * JSON text are equal, so they validate alike and have the same canonical
 * bytes. Anything else (a Uint8Array, a CID, a Date, NaN, an undefined
 * value...) is validated and encoded every time, as before. Only DAGs that
 * passed `validateDag` are kept.
 */
import type { BatchOp, BlockStore } from '../store/index.js'
import { type TaskDag, validateDag } from '../workflow/index.js'

/** JSON text and block bytes kept at most (the least recently used entries go first) */
const MAX_CACHED_BYTES = 4 << 20
/** DAGs whose JSON text is longer are not kept */
const MAX_ENTRY_BYTES = 1 << 20

interface Entry { cid: string, op: BatchOp & { type: 'put' }, size: number }

/** Whether `v` is plain JSON data (see the module comment); `depth` bounds hostile nesting. */
function isPlain (v: unknown, depth = 0): boolean {
  switch (typeof v) {
    case 'string': case 'boolean': return true
    case 'number': return Number.isFinite(v)
    case 'object': break
    default: return false
  }
  if (v === null) return true
  if (depth > 256) return false
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype) return false
    for (let i = 0; i < v.length; i++) {
      // a hole reads as undefined too
      if (!isPlain(v[i], depth + 1)) return false
    }
    return true
  }
  const proto = Object.getPrototypeOf(v)
  if (proto !== Object.prototype && proto !== null) return false
  for (const k in v) {
    if (!Object.prototype.hasOwnProperty.call(v, k)) return false
    if (!isPlain((v as Record<string, unknown>)[k], depth + 1)) return false
  }
  return true
}

export class DagCache {
  private readonly entries = new Map<string, Entry>()
  private bytes = 0

  constructor (private readonly blocks: BlockStore) {}

  /**
   * Validates `dag` (throws what `validateDag` throws) and returns its DAG
   * block's CID and the batch operation storing it; from the cache when the
   * same plain DAG passed before.
   */
  blockOf (dag: TaskDag): { cid: string, op: BatchOp } {
    const key = isPlain(dag) ? JSON.stringify(dag) : undefined
    const hit = key != null ? this.entries.get(key) : undefined
    if (hit != null) {
      // most recently used last
      this.entries.delete(key as string)
      this.entries.set(key as string, hit)
      // a copy: the batch may hold on to its operation objects
      return { cid: hit.cid, op: { ...hit.op } }
    }
    validateDag(dag)
    const { cid, op } = this.blocks.putOp(dag)
    if (key != null && key.length <= MAX_ENTRY_BYTES) this.keep(key, { cid, op: { ...op }, size: key.length + op.value.byteLength })
    return { cid, op }
  }

  private keep (key: string, entry: Entry): void {
    this.entries.set(key, entry)
    this.bytes += entry.size
    for (const [k, e] of this.entries) {
      if (this.bytes <= MAX_CACHED_BYTES) break
      this.entries.delete(k)
      this.bytes -= e.size
    }
  }
}
