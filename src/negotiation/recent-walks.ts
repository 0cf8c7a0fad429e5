/**
 * When the requester last walked the DHT for each capability. A call for
 * proposals needs candidates, and the discovery catalog (signed gossip ads,
 * earlier finds) already holds them for a capability in use; walking the DHT
 * under `pl:cap:<name>` for every call (and asking each provider found over
 * `/pl/caps`) only repeats what the last walk learned, at a few requests per
 * provider each time. So a capability is walked at most once per `everyMs`;
 * in between, a round asks discovery for this node's own and the catalog's
 * providers only, and walks anyway when those are none. The map is bounded
 * (the oldest capability is forgotten beyond `max`) and reads the injected
 * clock.
 *
 * @example
 * const walks = new RecentWalks({ everyMs: 30_000, clock })
 * if (walks.due('Summarize')) { walks.walked('Summarize'); await find(...) } else await find({ ..., localOnly: true })
 */
import { systemClock, type Clock } from '../core/clock.js'
import { DEFAULT_MAX_RECENT_WALKS, DEFAULT_WALK_EVERY_MS } from './constants.js'

export interface RecentWalksInit {
  /** at most one walk per capability in this period; 0 walks at every round @default DEFAULT_WALK_EVERY_MS */
  everyMs?: number
  /** capabilities remembered at once (the oldest is dropped beyond it) @default DEFAULT_MAX_RECENT_WALKS */
  max?: number
  /** @default systemClock */
  clock?: Clock
}

export class RecentWalks {
  /** capability name → time of its last walk, oldest first */
  private readonly at = new Map<string, number>()
  readonly everyMs: number
  readonly max: number
  private readonly clock: Clock

  constructor (init: RecentWalksInit = {}) {
    this.everyMs = Math.max(0, init.everyMs ?? DEFAULT_WALK_EVERY_MS)
    this.max = Math.max(1, init.max ?? DEFAULT_MAX_RECENT_WALKS)
    this.clock = init.clock ?? systemClock
  }

  /** Whether a walk for `name` is due: none was recorded in the last `everyMs`. */
  due (name: string): boolean {
    const last = this.at.get(name)
    return last == null || this.clock.now() - last >= this.everyMs
  }

  /** Records a walk for `name` now (it becomes the newest entry; the oldest go beyond `max`). */
  walked (name: string): void {
    this.at.delete(name)
    this.at.set(name, this.clock.now())
    while (this.at.size > this.max) this.at.delete(this.at.keys().next().value as string)
  }

  get size (): number {
    return this.at.size
  }
}
