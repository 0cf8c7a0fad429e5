import type { Store, JsonSublevel } from './index.js'
import { systemClock, type Clock } from '../core/clock.js'

/**
 * Ids of envelopes already accepted, kept until they expire (plus the skew
 * window) so that a replay is refused even after a restart. A second keyspace
 * ordered by expiry makes the sweep a range delete. `sweep()` reads the
 * time from the clock given at construction (a FakeClock in tests).
 *
 * `add` answers once the id is known to be new and its record is written
 * (in the store's group commit, shared with the other writes of the
 * moment): a crash never forgets an id whose envelope was accepted. A write
 * that fails fails the `add` (the envelope is refused), and the id is not
 * remembered.
 *
 * Knowing an id is new needs no read of the database when the caller gives
 * the envelope's `ts` and it is later than the horizon: the largest
 * keep-until time on disk when the store was opened (every id recorded
 * before has `ts` ≤ `exp` < keep-until) and of every id dropped from memory
 * since. Ids accepted by this store stay in memory until their window ends
 * (at most `maxRemembered`; the oldest go first and move the horizon).
 */
export class ReplayStore {
  private readonly seen: JsonSublevel<number>
  private readonly byExp: JsonSublevel<string>
  /** ids accepted (or being checked) by this store, with the time they are kept until */
  private readonly recent = new Map<string, number>()
  private readonly writing = new Set<Promise<void>>()
  /** ids whose write has not landed yet: refused even once dropped from `recent` (a disk read would not find them) */
  private readonly unwritten = new Set<string>()
  private readonly horizonRead: Promise<void>
  /** the latest keep-until on disk when opened; Infinity until it is read */
  private diskLatest = Infinity
  /** the latest keep-until of the ids dropped from memory */
  private forgottenLatest = 0
  /** writes that failed (their ids stay in memory until their keep window ends) */
  failedWrites = 0
  /** adds answered from memory and the horizon, and those that read the database */
  readonly stats = { memory: 0, disk: 0 }

  /**
   * @param keepMs how long an id is kept past its envelope's `exp` (the clock skew window) @default 60000
   * @param clock @default systemClock
   * @param maxRemembered ids kept in memory at most @default 20000
   */
  constructor (private readonly store: Store, private readonly keepMs: number = 60_000, private readonly clock: Clock = systemClock, private readonly maxRemembered = 20_000) {
    this.seen = store.json<number>('seen')
    this.byExp = store.json<string>('seen-exp')
    // Store.close waits for it: closing the database under the open iterator hangs the close
    this.horizonRead = store.track(this.readHorizon())
  }

  private async readHorizon (): Promise<void> {
    try {
      let latest = 0
      for await (const key of this.byExp.keys({ reverse: true, limit: 1 })) latest = Number(String(key).slice(0, 16))
      if (Number.isFinite(latest)) this.diskLatest = latest
    } catch {
      // the database answers every add as before
    }
  }

  async has (id: string): Promise<boolean> {
    if (this.recent.has(id) || this.unwritten.has(id)) return true
    return (await this.seen.get(id)) != null
  }

  /**
   * Records `id`; returns false if it was already recorded (a replay).
   * `ts` (the envelope's) lets a new id skip the database read.
   */
  async add (id: string, exp: number, ts?: number): Promise<boolean> {
    // Mark in memory before the first await so two concurrent deliveries of one envelope cannot both pass.
    if (this.recent.has(id) || this.unwritten.has(id)) return false
    const until = exp + this.keepMs
    this.recent.set(id, until)
    if (ts != null && ts > this.diskLatest && ts > this.forgottenLatest) {
      this.stats.memory++
    } else {
      this.stats.disk++
      let fresh = false
      try {
        fresh = (await this.seen.get(id)) == null
      } finally {
        if (!fresh) this.recent.delete(id)
      }
      if (!fresh) return false
    }
    try {
      await this.persist(id, until)
    } catch (err) {
      this.recent.delete(id)
      throw err
    }
    if (this.recent.size > this.maxRemembered) this.forgetOldest()
    return true
  }

  /** Drops the oldest remembered id; anything at or before its window's end must be read from disk from now on. */
  private forgetOldest (): void {
    const [id, until] = this.recent.entries().next().value as [string, number]
    this.recent.delete(id)
    this.forgottenLatest = Math.max(this.forgottenLatest, until)
  }

  /** Resolves once every id added so far is written. */
  async flush (): Promise<void> {
    await this.horizonRead
    while (this.writing.size > 0) await Promise.allSettled([...this.writing])
  }

  private async persist (id: string, until: number): Promise<void> {
    const expKey = `${String(until).padStart(16, '0')}|${id}`
    const write = this.store.write([
      { type: 'put', key: id, value: until, sublevel: this.seen },
      { type: 'put', key: expKey, value: id, sublevel: this.byExp }
    ]).then(() => { this.unwritten.delete(id) }, (err: unknown) => { this.failedWrites++; this.unwritten.delete(id); throw err }).finally(() => { this.writing.delete(write) })
    this.unwritten.add(id)
    this.writing.add(write)
    await write
  }

  /** Deletes entries whose keep window has passed by the store's clock; returns how many. */
  async sweep (): Promise<number> {
    await this.flush()
    const now = this.clock.now()
    // remembered ids leave memory when their window has passed (their envelopes are refused as expired by then)
    for (const [id, until] of this.recent) {
      if (until <= now) { this.recent.delete(id); this.unwritten.delete(id) }
    }
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
