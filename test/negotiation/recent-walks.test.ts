/**
 * One DHT walk per capability per `walkEveryMs` (src/negotiation/recent-walks.ts):
 * on an injected clock, a bounded map (the oldest capability forgotten).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RecentWalks } from '../../src/negotiation/recent-walks.js'
import { DEFAULT_WALK_EVERY_MS } from '../../src/negotiation/constants.js'
import { FakeClock } from '../../src/core/clock.js'

/** A RecentWalks with a 1 s period on a FakeClock. */
function walksEverySecond (): { clock: FakeClock, walks: RecentWalks } {
  const clock = new FakeClock()
  return { clock, walks: new RecentWalks({ everyMs: 1_000, clock }) }
}

test('a capability is due for a walk, then not until everyMs passed on the injected clock', () => {
  const { clock, walks } = walksEverySecond()
  assert.equal(walks.due('A'), true)
  walks.walked('A')
  assert.equal(walks.due('A'), false)
  clock.advance(999)
  assert.equal(walks.due('A'), false)
  clock.advance(1)
  assert.equal(walks.due('A'), true)
})

test('each capability has its own period', () => {
  const { clock, walks } = walksEverySecond()
  walks.walked('A')
  clock.advance(600)
  walks.walked('B')
  clock.advance(400)
  assert.equal(walks.due('A'), true)
  assert.equal(walks.due('B'), false)
  assert.equal(walks.due('C'), true)
})

test('a walk recorded again restarts the period', () => {
  const { clock, walks } = walksEverySecond()
  walks.walked('A')
  clock.advance(1_000)
  walks.walked('A')
  clock.advance(500)
  assert.equal(walks.due('A'), false)
})

test('the map is bounded: the oldest capability is forgotten (and due again)', () => {
  const clock = new FakeClock()
  const walks = new RecentWalks({ everyMs: 60_000, max: 3, clock })
  for (const name of ['A', 'B', 'C']) walks.walked(name)
  // A walked again: B is now the oldest
  walks.walked('A')
  walks.walked('D')
  assert.equal(walks.size, 3)
  assert.equal(walks.due('B'), true)
  assert.equal(walks.due('A'), false)
  assert.equal(walks.due('C'), false)
  assert.equal(walks.due('D'), false)
})

test('everyMs 0 walks at every round; the default period applies otherwise', () => {
  const clock = new FakeClock()
  const always = new RecentWalks({ everyMs: 0, clock })
  always.walked('A')
  assert.equal(always.due('A'), true)
  const walks = new RecentWalks({ clock })
  assert.equal(walks.everyMs, DEFAULT_WALK_EVERY_MS)
  walks.walked('A')
  assert.equal(walks.due('A'), false)
  clock.advance(DEFAULT_WALK_EVERY_MS)
  assert.equal(walks.due('A'), true)
})

test('bad settings are clamped: a negative period is 0, a max below 1 is 1', () => {
  const walks = new RecentWalks({ everyMs: -5, max: 0 })
  assert.equal(walks.everyMs, 0)
  assert.equal(walks.max, 1)
})
