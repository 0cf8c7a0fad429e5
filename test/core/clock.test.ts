import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as later } from 'node:timers/promises'
import { FakeClock, clockInterval, clockSleep, clockSleepUntil, systemClock, timeoutSignal } from '../../src/core/clock.js'

test('a fake clock stands still until advanced', () => {
  const clock = new FakeClock(1000)
  assert.equal(clock.now(), 1000)
  assert.equal(clock.now(), 1000)
  clock.advance(250)
  assert.equal(clock.now(), 1250)
  assert.equal(new FakeClock().now(), FakeClock.DEFAULT_START)
})

test('advance fires due timers in time order, each seeing its own time, and not the later ones', () => {
  const clock = new FakeClock(0)
  const fired: Array<[string, number]> = []
  clock.setTimeout(() => fired.push(['b', clock.now()]), 200)
  clock.setTimeout(() => fired.push(['a', clock.now()]), 100)
  clock.setTimeout(() => fired.push(['a2', clock.now()]), 100)
  clock.setTimeout(() => fired.push(['c', clock.now()]), 301)
  clock.advance(300)
  assert.deepEqual(fired, [['a', 100], ['a2', 100], ['b', 200]])
  assert.equal(clock.now(), 300)
  assert.equal(clock.pending, 1)
  clock.advance(1)
  assert.deepEqual(fired.at(-1), ['c', 301])
  assert.equal(clock.pending, 0)
})

test('a timer scheduled while advancing fires in the same advance when it falls inside it', () => {
  const clock = new FakeClock(0)
  const fired: number[] = []
  clock.setTimeout(() => {
    fired.push(clock.now())
    clock.setTimeout(() => fired.push(clock.now()), 50)
    clock.setTimeout(() => fired.push(clock.now()), 500)
  }, 100)
  clock.advance(200)
  assert.deepEqual(fired, [100, 150])
  assert.equal(clock.pending, 1)
})

test('a cleared timer never fires; clearing twice or clearing undefined is harmless', () => {
  const clock = new FakeClock(0)
  let fired = false
  const h = clock.setTimeout(() => { fired = true }, 10)
  clock.clearTimeout(h)
  clock.clearTimeout(h)
  clock.clearTimeout(undefined)
  clock.advance(100)
  assert.equal(fired, false)
  assert.equal(clock.pending, 0)
})

test('advance refuses to move time backwards', () => {
  assert.throws(() => { new FakeClock().advance(-1) }, TypeError)
  assert.throws(() => { new FakeClock().advance(Number.NaN) }, TypeError)
})

test('timeoutSignal aborts with a TimeoutError when the clock passes the limit, and clear() cancels it', () => {
  const clock = new FakeClock(0)
  const t = timeoutSignal(clock, 1000)
  clock.advance(999)
  assert.equal(t.signal.aborted, false)
  clock.advance(1)
  assert.equal(t.signal.aborted, true)
  assert.equal((t.signal.reason as Error).name, 'TimeoutError')

  const u = timeoutSignal(clock, 1000)
  u.clear()
  assert.equal(clock.pending, 0)
  clock.advance(5000)
  assert.equal(u.signal.aborted, false)
})

test('the system clock reads Date.now and its timers can be cleared', async () => {
  const before = Date.now()
  const now = systemClock.now()
  assert.ok(now >= before && now <= Date.now())
  let fired = false
  systemClock.clearTimeout(systemClock.setTimeout(() => { fired = true }, 0))
  // ordering, not waiting: a zero-delay timer armed after the cleared one runs after it would have
  await later(0)
  assert.equal(fired, false)
})

test('whenPending resolves once the code under test has armed enough timers', async () => {
  const clock = new FakeClock(0)
  let armed = false
  const waiting = clock.whenPending(2).then(() => { armed = true })
  clock.setTimeout(() => {}, 10)
  await Promise.resolve()
  assert.equal(armed, false)
  clock.setTimeout(() => {}, 20)
  await waiting
  assert.equal(armed, true)
  await clock.whenPending(1) // already satisfied: resolves at once
})

test('clockSleep resolves when the fake clock passes its time, not before', async () => {
  const clock = new FakeClock(0)
  let done = false
  const p = clockSleep(clock, 1_000).then(() => { done = true })
  clock.advance(999)
  await Promise.resolve()
  assert.equal(done, false)
  clock.advance(1)
  await p
  assert.equal(done, true)
  assert.equal(clock.pending, 0)
})

test('clockSleep rejects with the abort reason and leaves no timer behind; an aborted signal rejects at once', async () => {
  const clock = new FakeClock(0)
  const ac = new AbortController()
  const p = clockSleep(clock, 60_000, ac.signal)
  assert.equal(clock.pending, 1)
  ac.abort(new Error('stop'))
  await assert.rejects(p, /stop/)
  assert.equal(clock.pending, 0)
  await assert.rejects(clockSleep(clock, 10, ac.signal), /stop/)
  await clockSleep(clock, 0)
  await clockSleep(clock, -5)
})

test('clockSleepUntil resolves at the instant on the clock, and (not rejects) when its signal aborts', async () => {
  const clock = new FakeClock(1_000)
  const p = clockSleepUntil(clock, 3_000)
  clock.advance(2_000)
  await p
  const ac = new AbortController()
  const q = clockSleepUntil(clock, 10_000, ac.signal)
  ac.abort()
  await q
  assert.equal(clock.pending, 0)
})

test('clockInterval runs on every period of the fake clock until cleared', () => {
  const clock = new FakeClock(0)
  const at: number[] = []
  const i = clockInterval(clock, () => { at.push(clock.now()) }, 100)
  clock.advance(250)
  assert.equal(clock.pending, 1)
  clock.advance(100)
  assert.deepEqual(at, [100, 200, 300])
  i.clear()
  clock.advance(1_000)
  assert.deepEqual(at, [100, 200, 300])
  assert.equal(clock.pending, 0)
})
