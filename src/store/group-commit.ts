/**
 * Group commit: writes submitted while a LevelDB batch is being written (or
 * in the same tick) go together in the next batch, so N concurrent writers
 * pay about one batch instead of N. Each `write` resolves only after the
 * batch holding its operations was written (the same durability as its own
 * `batch` call); if that batch fails, every waiter of it gets an error — its
 * own: a failed batch of several writers is retried writer by writer, so one
 * writer's bad value does not fail the others.
 *
 * A write's operations go straight into the open group's operation list (no
 * flattening when the batch is taken), and its promise is the one the caller
 * gets: `write(ops, result)` resolves with `result`, so a caller such as
 * `BlockStore.put` hands it back as it is, without an async wrapper. A
 * group of several operations goes to LevelDB as one chained batch
 * (`writeChained`). docs/PERFORMANCE.md "Receipt writes, second pass".
 *
 * @example
 * const commits = new GroupCommit(db)
 * const stored = await commits.write([{ type: 'put', key: cid, value: bytes, sublevel: blocks }], cid) // === cid, once written
 */
import type { Level } from 'level'

export type BatchOp = { type: 'put', key: string, value: unknown, sublevel?: unknown } | { type: 'del', key: string, sublevel?: unknown }

/** One writer of a group: its operations are `ops[start, end)` of the group. */
interface Writer { start: number, end: number, result: unknown, resolve: (value: any) => void, reject: (err: Error) => void }

/** The operations of one future batch and the writers waiting for it. */
interface Group { ops: BatchOp[], writers: Writer[] }

/** the options object of a chained batch operation on `sublevel`, one per sublevel (abstract-level copies it, never changes it) */
const optionsOf = new WeakMap<object, { sublevel: unknown }>()
function sublevelOptions (sublevel: unknown): { sublevel: unknown } {
  let options = optionsOf.get(sublevel as object)
  if (options == null) optionsOf.set(sublevel as object, options = { sublevel })
  return options
}

/** At most this many operations go into one batch; more wait for the next (a single write larger than this goes alone). */
export const MAX_GROUP_OPS = 4096

export class GroupCommit {
  /** groups not yet taken, oldest first; writes join the last one while it has room */
  private readonly queue: Group[] = []
  private queuedOps = 0
  private flushing = false
  private scheduled = false
  /** batches written, and writes they carried (for tests and benchmarks) */
  readonly stats = { batches: 0, writes: 0 }

  constructor (private readonly db: Pick<Level<string, any>, 'batch'>) {}

  /** Writes `ops` atomically, together with whatever else is waiting; resolves with `result` once they are written. */
  write<T = void> (ops: BatchOp[], result?: T): Promise<T> {
    if (ops.length === 0) return Promise.resolve(result as T)
    const group = this.openGroup(ops.length)
    const start = group.ops.length
    for (let i = 0; i < ops.length; i++) group.ops.push(ops[i])
    const { promise, resolve, reject } = Promise.withResolvers<T>()
    group.writers.push({ start, end: group.ops.length, result, resolve, reject })
    this.queuedOps += ops.length
    if (!this.flushing && !this.scheduled) {
      this.scheduled = true
      queueMicrotask(() => { this.scheduled = false; void this.flush() })
    }
    return promise
  }

  /** The group `n` more operations join: the last queued one if it has room (or is empty), else a new one. */
  private openGroup (n: number): Group {
    const last = this.queue.length > 0 ? this.queue[this.queue.length - 1] : undefined
    if (last != null && (last.ops.length === 0 || last.ops.length + n <= MAX_GROUP_OPS)) return last
    const group: Group = { ops: [], writers: [] }
    this.queue.push(group)
    return group
  }

  private async flush (): Promise<void> {
    if (this.flushing) return
    this.flushing = true
    try {
      while (this.queue.length > 0) {
        const group = this.queue.shift() as Group
        this.queuedOps -= group.ops.length
        await this.commit(group)
      }
    } finally {
      this.flushing = false
    }
  }

  private async commit (group: Group): Promise<void> {
    const { ops, writers } = group
    try {
      await (ops.length > 1 ? this.writeChained(ops) : this.db.batch(ops as any))
    } catch (err) {
      if (writers.length === 1) writers[0].reject(err as Error)
      else await this.retryEach(group)
      return
    }
    this.stats.batches++
    this.stats.writes += writers.length
    for (let i = 0; i < writers.length; i++) writers[i].resolve(writers[i].result)
  }

  /**
   * Writes `ops` as one chained batch: each operation goes to LevelDB's batch
   * through one native call with its key and value as arguments, where an
   * array batch reads each operation's fields through N-API property lookups
   * (and abstract-level clones every operation first). If an operation is
   * refused while the batch is built (a value its encoding cannot take), the
   * batch is discarded unwritten and the error thrown, as `batch(ops)` does.
   */
  private async writeChained (ops: BatchOp[]): Promise<void> {
    const batch = this.db.batch()
    try {
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i]
        const options = op.sublevel != null ? sublevelOptions(op.sublevel) : undefined
        if (op.type === 'put') batch.put(op.key, op.value, options as any)
        else batch.del(op.key, options as any)
      }
    } catch (err) {
      await batch.close()
      throw err
    }
    await batch.write()
  }

  /** After a failed batch of several writers, finds whose operations failed: each writer alone, in order. */
  private async retryEach ({ ops, writers }: Group): Promise<void> {
    for (const w of writers) {
      try {
        await this.db.batch(ops.slice(w.start, w.end) as any)
        this.stats.batches++
        this.stats.writes++
        w.resolve(w.result)
      } catch (e) {
        w.reject(e as Error)
      }
    }
  }

  /** Resolves once every write submitted so far has been settled (before closing the database). */
  async drain (): Promise<void> {
    while (this.queue.length > 0 || this.flushing || this.scheduled) {
      if (!this.flushing) await this.flush()
      else await new Promise<void>((resolve) => { setImmediate(resolve) })
    }
  }

  /** operations waiting for the next batch */
  get pending (): number {
    return this.queuedOps
  }
}
