import type { Store, JsonSublevel } from './index.js'
import { systemClock, type Clock } from '../core/clock.js'

/**
 * How far ahead of the clock a write lease reaches (see `add` with `defer`);
 * renewed when less than half of it is left. After a crash, envelopes with a
 * `ts` before the lease on disk are refused for at most this long plus the
 * keep window. @default 10 s
 */
export const REPLAY_LEASE_MS = 10_000

export interface ReplayAddOptions {
  /**
   * Answer from memory and let the record's write land in the next group
   * commit instead of awaiting it, when the lease allows it (see `add`).
   */
  defer?: boolean
}

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
 * remembered. With `defer` (calls and awards on a round trip's critical
 * path) the write is not awaited when the envelope's `ts` is before the
 * lease on disk; a store opened on a lease a crashed run left refuses every
 * envelope signed before it (docs/NEGOTIATION.md "Replay records off the
 * critical path").
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
  /** adds answered from memory and the horizon, and those that read the database; `deferred`: of the first, those whose write was not awaited */
  readonly stats = { memory: 0, disk: 0, deferred: 0 }
  private readonly lease: JsonSublevel<number>
  /** the lease known to be on disk: envelopes with a `ts` before it may be accepted before their write lands */
  private leaseDurable = 0
  private leaseWriting = false
  /** set by the store's close: no more deferred writes or lease renewals */
  private closing = false
  /** the lease a run that did not close cleanly left on disk: envelopes with a `ts` before it are refused */
  private refuseBefore = 0
  /** envelopes with a `ts` before this are refused (see `add`) */
  get refusedBefore (): number {
    return this.refuseBefore
  }

  /** ids accepted with a deferred write that failed: refused until their window ends (no disk record will say so) */
  private readonly lost = new Map<string, number>()

  /**
   * @param keepMs how long an id is kept past its envelope's `exp` (the clock skew window) @default 60000
   * @param clock @default systemClock
   * @param maxRemembered ids kept in memory at most @default 20000
   */
  constructor (private readonly store: Store, private readonly keepMs: number = 60_000, private readonly clock: Clock = systemClock, private readonly maxRemembered = 20_000) {
    this.seen = store.json<number>('seen')
    this.byExp = store.json<string>('seen-exp')
    this.lease = store.json<number>('seen-lease')
    // Store.close waits for it: closing the database under the open iterator hangs the close
    this.horizonRead = store.track(this.readHorizon())
    store.beforeClose(async () => { await this.closeLease() })
  }

  private async readHorizon (): Promise<void> {
    try {
      // a lease left on disk: the last run stopped without a clean close and may have forgotten ids before it
      const lease = await this.lease.get('lease')
      if (typeof lease === 'number' && Number.isFinite(lease)) this.refuseBefore = lease
      let latest = 0
      for await (const key of this.byExp.keys({ reverse: true, limit: 1 })) latest = Number(String(key).slice(0, 16))
      if (Number.isFinite(latest)) this.diskLatest = latest
    } catch {
      // the database answers every add as before
    }
  }

  async has (id: string): Promise<boolean> {
    if (this.recent.has(id) || this.unwritten.has(id) || this.lost.has(id)) return true
    return (await this.seen.get(id)) != null
  }

  /**
   * Records `id`; returns false if it was already recorded (a replay), or if
   * `ts` is before the lease a run that did not close cleanly left (it may be
   * an envelope that run accepted and forgot). `ts` (the envelope's) lets a
   * new id skip the database read; with `defer`, such an id whose `ts` is
   * before the lease on disk is answered without awaiting its write.
   */
  async add (id: string, exp: number, ts?: number, options: ReplayAddOptions = {}): Promise<boolean> {
    // the horizon and a crashed run's lease are read once, when the store opens
    if (this.diskLatest === Infinity) await this.horizonRead
    if (ts != null && ts < this.refuseBefore) return false
    // checked and marked in memory with no await between, so two concurrent deliveries of one envelope cannot both pass
    if (this.recent.has(id) || this.unwritten.has(id) || this.lost.has(id)) return false
    const until = exp + this.keepMs
    this.recent.set(id, until)
    let deferred = false
    if (ts != null && ts > this.diskLatest && ts > this.forgottenLatest) {
      this.stats.memory++
      if (options.defer === true) {
        deferred = ts < this.leaseDurable
        this.renewLease()
      }
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
    if (deferred) {
      this.stats.deferred++
      this.persistDeferred(id, until)
    } else {
      try {
        await this.persist(id, until)
      } catch (err) {
        this.recent.delete(id)
        throw err
      }
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

  /** The write of an accepted id, not awaited: a failure keeps the id refused (in `lost`) and the lease on disk. */
  private persistDeferred (id: string, until: number): void {
    this.persist(id, until).catch(() => { this.lost.set(id, until) })
  }

  /**
   * Writes a lease `REPLAY_LEASE_MS` ahead when less than half of the
   * current one is left; adds may defer writes of envelopes before it once
   * it is on disk. Never moves backwards (a lease a crashed run left stays
   * covered).
   */
  private renewLease (): void {
    const now = this.clock.now()
    if (this.closing || this.leaseWriting || now + REPLAY_LEASE_MS / 2 < this.leaseDurable) return
    const until = Math.max(now + REPLAY_LEASE_MS, this.leaseDurable, this.refuseBefore)
    this.leaseWriting = true
    const write = this.store.write([{ type: 'put', key: 'lease', value: until, sublevel: this.lease }])
      .then(() => { if (!this.closing) this.leaseDurable = Math.max(this.leaseDurable, until) }, () => {})
      .finally(() => { this.leaseWriting = false; this.writing.delete(write) })
    this.writing.add(write)
  }

  /**
   * At a clean close, once every write has landed: no id can be forgotten, so
   * the lease goes, unless a deferred write failed (its id is not on disk),
   * or a crashed run's lease still refuses envelopes (it is kept as it was).
   */
  private async closeLease (): Promise<void> {
    // adds from here on await their writes: the lease is about to go
    this.closing = true
    this.leaseDurable = 0
    await this.flush()
    if (this.lost.size > 0) return
    const stillRefusing = this.refuseBefore + this.keepMs > this.clock.now()
    await this.store.write([stillRefusing
      ? { type: 'put', key: 'lease', value: this.refuseBefore, sublevel: this.lease }
      : { type: 'del', key: 'lease', sublevel: this.lease }])
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
    for (const [id, until] of this.lost) if (until <= now) this.lost.delete(id)
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
