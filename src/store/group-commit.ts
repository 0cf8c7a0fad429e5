/**
 * Group commit: writes submitted while a LevelDB batch is being written (or
 * in the same tick) go together in the next batch, so N concurrent writers
 * pay about one batch instead of N. Each `write` resolves only after the
 * batch holding its operations was written (the same durability as its own
 * `batch` call); if that batch fails, every waiter of it gets an error — its
 * own: a failed batch of several writers is retried writer by writer, so one
 * writer's bad value does not fail the others.
 *
 * @example
 * const commits = new GroupCommit(db)
 * await commits.write([{ type: 'put', key: cid, value: bytes, sublevel: blocks }])
 */
import type { Level } from 'level'

export type BatchOp = { type: 'put', key: string, value: unknown, sublevel?: unknown } | { type: 'del', key: string, sublevel?: unknown }

interface Pending { ops: BatchOp[], resolve: () => void, reject: (err: Error) => void }

/** At most this many operations go into one batch; more wait for the next. */
export const MAX_GROUP_OPS = 4096

export class GroupCommit {
  private queue: Pending[] = []
  private queuedOps = 0
  private flushing = false
  private scheduled = false
  /** batches written, and writes they carried (for tests and benchmarks) */
  readonly stats = { batches: 0, writes: 0 }

  constructor (private readonly db: Pick<Level<string, any>, 'batch'>) {}

  /** Writes `ops` atomically, together with whatever else is waiting; resolves once they are written. */
  async write (ops: BatchOp[]): Promise<void> {
    if (ops.length === 0) return
    const done = Promise.withResolvers<void>()
    this.queue.push({ ops, resolve: done.resolve, reject: done.reject })
    this.queuedOps += ops.length
    if (!this.flushing && !this.scheduled) {
      this.scheduled = true
      queueMicrotask(() => { this.scheduled = false; void this.flush() })
    }
    await done.promise
  }

  private async flush (): Promise<void> {
    if (this.flushing) return
    this.flushing = true
    try {
      while (this.queue.length > 0) {
        const group: Pending[] = []
        let n = 0
        while (this.queue.length > 0 && (group.length === 0 || n + this.queue[0].ops.length <= MAX_GROUP_OPS)) {
          const p = this.queue.shift() as Pending
          n += p.ops.length
          group.push(p)
        }
        this.queuedOps -= n
        await this.commit(group)
      }
    } finally {
      this.flushing = false
    }
  }

  private async commit (group: Pending[]): Promise<void> {
    try {
      await this.db.batch((group.length === 1 ? group[0].ops : group.flatMap(p => p.ops)) as any)
      this.stats.batches++
      this.stats.writes += group.length
      for (const p of group) p.resolve()
    } catch (err) {
      if (group.length === 1) { group[0].reject(err as Error); return }
      // find whose operations failed: each writer alone, in order
      for (const p of group) {
        try {
          await this.db.batch(p.ops as any)
          this.stats.batches++
          this.stats.writes++
          p.resolve()
        } catch (e) {
          p.reject(e as Error)
        }
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
