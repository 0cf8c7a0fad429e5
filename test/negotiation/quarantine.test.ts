import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PeerQuarantine } from '../../src/negotiation/quarantine.js'
import { FakeClock } from '../../src/core/clock.js'

test('a quarantined peer stays quarantined for its period on the injected clock, then is free again', () => {
  const clock = new FakeClock()
  const q = new PeerQuarantine({ periodMs: 1_000, now: clock.now })
  q.add('a', 'unreachable')
  assert.equal(q.has('a'), true)
  clock.advance(999)
  assert.equal(q.has('a'), true)
  clock.advance(1)
  assert.equal(q.has('a'), false)
  assert.equal(q.size, 0)
})

test('a peer quarantined again gets twice the period, up to the ceiling', () => {
  const clock = new FakeClock()
  const q = new PeerQuarantine({ periodMs: 1_000, maxPeriodMs: 3_000, now: clock.now })
  const periods: number[] = []
  for (let i = 0; i < 4; i++) {
    const e = q.add('a', 'missed-bid')
    periods.push(e.until - e.since)
    clock.advance(e.until - e.since)
    assert.equal(q.has('a'), false)
  }
  assert.deepEqual(periods, [1_000, 2_000, 3_000, 3_000])
})

test('more failures while quarantined are the same outage: no longer period', () => {
  const clock = new FakeClock()
  const q = new PeerQuarantine({ periodMs: 1_000, now: clock.now })
  const first = q.add('a', 'unreachable')
  clock.advance(500)
  const again = q.add('a', 'missed-bid')
  assert.equal(again.until, first.until)
  assert.equal(again.strikes, 1)
})

test('a peer heard from again is released and its strikes are forgotten', () => {
  const clock = new FakeClock()
  const q = new PeerQuarantine({ periodMs: 1_000, now: clock.now })
  q.add('a', 'unreachable')
  clock.advance(1_000)
  q.add('a', 'unreachable')
  assert.equal(q.get('a')?.strikes, 2)
  assert.equal(q.release('a'), true)
  assert.equal(q.has('a'), false)
  assert.equal(q.release('a'), false)
  const e = q.add('a', 'unreachable')
  assert.equal(e.strikes, 1)
  assert.equal(e.until - e.since, 1_000)
})

test('the first ad seen while quarantined is the baseline; a fresher one releases the peer', () => {
  const clock = new FakeClock()
  const q = new PeerQuarantine({ periodMs: 60_000, now: clock.now })
  q.add('a', 'unreachable')
  assert.equal(q.sawAd('a', 5_000), false, 'the ad held when the peer went quiet')
  assert.equal(q.sawAd('a', 5_000), false, 'the same ad again')
  assert.equal(q.has('a'), true)
  assert.equal(q.sawAd('a', 6_000), true, 'a fresh ad')
  assert.equal(q.has('a'), false)
  assert.equal(q.sawAd('b', 9_000), false, 'a peer not quarantined')
})

test('the quarantine is bounded: beyond maxPeers the oldest entry is dropped', () => {
  const clock = new FakeClock()
  const q = new PeerQuarantine({ periodMs: 60_000, maxPeers: 3, now: clock.now })
  for (const p of ['a', 'b', 'c', 'd']) q.add(p, 'unreachable')
  assert.deepEqual(q.list().map(e => e.peer), ['b', 'c', 'd'])
  q.release('c')
  q.add('e', 'unreachable')
  q.add('f', 'unreachable')
  assert.deepEqual(q.list().map(e => e.peer), ['d', 'e', 'f'])
})
