import type { Store, JsonSublevel } from './index.js'
import { systemClock, type Clock } from '../core/clock.js'

/**
 * Ids of envelopes already accepted, kept until they expire (plus the skew
 * window) so that a replay is refused even after a restart. A second keyspace
 * ordered by expiry makes the sweep a range delete. `sweep()` reads the
 * time from the clock given at construction (a FakeClock in tests).
 *
 * `add` answers once the id is known to be new (a read of the database)
 * and marked in memory; the write that records it goes in the store's next
 * group commit, after the answer, with other writes of the moment. Until
 * that write has landed the id stays in memory, so a replay is refused at
 * once; `Store.close` (and `flush`) wait for the pending writes. A crash
 * in the window of one batch (usually well under a millisecond) can forget
 * the ids of that batch: the price of keeping a LevelDB write off every
 * verified message's path.
 */
export class ReplayStore {
  private readonly seen: JsonSublevel<number>
  private readonly byExp: JsonSublevel<string>
  /** ids being checked or whose write has not landed, with the time they are kept until */
  private readonly recent = new Map<string, number>()
  private readonly writing = new Set<Promise<void>>()
  /** writes that failed (their ids stay in memory until their keep window ends) */
  failedWrites = 0

  /**
   * @param keepMs how long an id is kept past its envelope's `exp` (the clock skew window) @default 60000
   * @param clock @default systemClock
   */
  constructor (private readonly store: Store, private readonly keepMs: number = 60_000, private readonly clock: Clock = systemClock) {
    this.seen = store.json<number>('seen')
    this.byExp = store.json<string>('seen-exp')
  }

  async has (id: string): Promise<boolean> {
    if (this.recent.has(id)) return true
    return (await this.seen.get(id)) != null
  }

  /** Records `id`; returns false if it was already recorded (a replay). */
  async add (id: string, exp: number): Promise<boolean> {
    // Mark in memory before the first await so two concurrent deliveries of one envelope cannot both pass.
    if (this.recent.has(id)) return false
    const until = exp + this.keepMs
    this.recent.set(id, until)
    let fresh = false
    try {
      fresh = (await this.seen.get(id)) == null
    } finally {
      if (!fresh) this.recent.delete(id)
    }
    if (fresh) this.persist(id, until)
    return fresh
  }

  /** Resolves once every id added so far is written. */
  async flush (): Promise<void> {
    while (this.writing.size > 0) await Promise.all([...this.writing])
  }

  private persist (id: string, until: number): void {
    const expKey = `${String(until).padStart(16, '0')}|${id}`
    const write = this.store.write([
      { type: 'put', key: id, value: until, sublevel: this.seen },
      { type: 'put', key: expKey, value: id, sublevel: this.byExp }
    ]).then(() => { this.recent.delete(id) }, () => { this.failedWrites++ }).finally(() => { this.writing.delete(write) })
    this.writing.add(write)
  }

  /** Deletes entries whose keep window has passed by the store's clock; returns how many. */
  async sweep (): Promise<number> {
    await this.flush()
    const now = this.clock.now()
    // ids whose write failed are only in memory: they go when their window has passed
    for (const [id, until] of this.recent) if (until <= now) this.recent.delete(id)
    const ops: any[] = []
    const limit = `${String(now).padStart(16, '0')}|\uffff`
    for await (const [key, id] of this.byExp.iterator({ lt: limit, limit: 10_000 })) {
      ops.push({ type: 'del', key, sublevel: this.byExp }, { type: 'del', key: id, sublevel: this.seen })
    }
    if (ops.length > 0) await this.seen.db.batch(ops)
    return ops.length / 2
  }

  async size (): Promise<number> {
    await this.flush()
    let n = 0
    for await (const _ of this.seen.keys()) n++
    return n
  }
}
