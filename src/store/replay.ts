import type { Store, JsonSublevel } from './index.js'
import { systemClock, type Clock } from '../core/clock.js'

/**
 * Ids of envelopes already accepted, kept until they expire (plus the skew
 * window) so that a replay is refused even after a restart. A second keyspace
 * ordered by expiry makes the sweep a range delete. `sweep()` reads the
 * time from the clock given at construction (a FakeClock in tests).
 */
export class ReplayStore {
  private readonly seen: JsonSublevel<number>
  private readonly byExp: JsonSublevel<string>
  private readonly recent = new Map<string, number>()

  /**
   * @param keepMs how long an id is kept past its envelope's `exp` (the clock skew window) @default 60000
   * @param clock @default systemClock
   */
  constructor (store: Store, private readonly keepMs: number = 60_000, private readonly clock: Clock = systemClock) {
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
    this.recent.set(id, exp)
    try {
      if ((await this.seen.get(id)) != null) return false
      await this.persist(id, exp)
      return true
    } finally {
      this.recent.delete(id)
    }
  }

  private async persist (id: string, exp: number): Promise<void> {
    const until = exp + this.keepMs
    const expKey = `${String(until).padStart(16, '0')}|${id}`
    await this.seen.db.batch([
      { type: 'put', key: id, value: until, sublevel: this.seen as any },
      { type: 'put', key: expKey, value: id, sublevel: this.byExp as any }
    ] as any)
  }

  /** Deletes entries whose keep window has passed by the store's clock; returns how many. */
  async sweep (): Promise<number> {
    const now = this.clock.now()
    const ops: any[] = []
    const limit = `${String(now).padStart(16, '0')}|\uffff`
    for await (const [key, id] of this.byExp.iterator({ lt: limit, limit: 10_000 })) {
      ops.push({ type: 'del', key, sublevel: this.byExp }, { type: 'del', key: id, sublevel: this.seen })
    }
    if (ops.length > 0) await this.seen.db.batch(ops)
    return ops.length / 2
  }

  async size (): Promise<number> {
    let n = 0
    for await (const _ of this.seen.keys()) n++
    return n
  }
}
