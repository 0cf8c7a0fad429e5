import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chaosSchedule, formatFault, maxConcurrentDown } from '../../bench/soak/schedule.js'
import { seededRng } from '../../bench/soak/rng.js'

const base = { durationMs: 120_000, providers: [1, 2, 3, 4], requesters: [0] }

test('the same seed gives the same schedule, another seed another one', () => {
  assert.deepEqual(chaosSchedule({ seed: 7, ...base }), chaosSchedule({ seed: 7, ...base }))
  assert.notDeepEqual(chaosSchedule({ seed: 7, ...base }), chaosSchedule({ seed: 8, ...base }))
})

test('every schedule has one requester restart, kills and pauses of providers only, within the load, never all providers down', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const faults = chaosSchedule({ seed, ...base })
    const restarts = faults.filter(f => f.kind === 'restart-requester')
    assert.equal(restarts.length, 1, `seed ${seed}`)
    assert.equal(restarts[0].node, 0)
    const others = faults.filter(f => f.kind !== 'restart-requester')
    assert.ok(others.length >= 2, `seed ${seed}: ${others.length} provider faults in 2 minutes`)
    assert.ok(others.some(f => f.kind === 'kill') && others.some(f => f.kind === 'pause'), `seed ${seed}: both kills and pauses`)
    for (const f of others) {
      assert.ok(base.providers.includes(f.node), `seed ${seed}: fault on a provider`)
      const end = f.at + f.durationMs + (f.kind === 'kill' ? 5000 : 0)
      assert.ok(f.at >= 10_000 && end <= 120_000 - 15_000, `seed ${seed}: ${formatFault(f)} inside warm-up/cool-down bounds`)
      // nothing overlaps the requester restart (±3 s)
      assert.ok(end <= restarts[0].at - 3000 || f.at >= restarts[0].at + 3000, `seed ${seed}: ${formatFault(f)} overlaps the restart`)
    }
    assert.ok(maxConcurrentDown(faults, 5000) <= 1, `seed ${seed}: at most one of four providers down (default maxDown), relaunch time included`)
    assert.deepEqual(faults, [...faults].sort((a, b) => a.at - b.at))
  }
})

test('maxDown is capped below the number of providers', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const faults = chaosSchedule({ seed, durationMs: 300_000, providers: [1, 2], requesters: [0], maxDown: 5, meanGapMs: 500 })
    assert.ok(maxConcurrentDown(faults, 5000) <= 1, `seed ${seed}`)
  }
  const many = chaosSchedule({ seed: 3, durationMs: 300_000, providers: [1, 2, 3, 4, 5, 6], requesters: [0], maxDown: 3, meanGapMs: 300 })
  assert.ok(maxConcurrentDown(many, 5000) <= 3)
  assert.ok(maxConcurrentDown(many, 5000) >= 2, 'with short gaps, overlapping faults do happen')
})

test('maxConcurrentDown counts overlapping faults', () => {
  assert.equal(maxConcurrentDown([
    { at: 0, kind: 'kill', node: 1, durationMs: 100 },
    { at: 50, kind: 'pause', node: 2, durationMs: 100 },
    { at: 100, kind: 'pause', node: 1, durationMs: 10 },
    { at: 60, kind: 'restart-requester', node: 0, durationMs: 0 }
  ]), 2)
  assert.equal(maxConcurrentDown([
    { at: 0, kind: 'kill', node: 1, durationMs: 100 },
    { at: 120, kind: 'pause', node: 2, durationMs: 100 }
  ], 50), 2, 'a kill lasts until its relaunch has started')
})

test('a swarm without two providers, or with a node in both roles, is refused', () => {
  assert.throws(() => chaosSchedule({ seed: 1, durationMs: 60_000, providers: [1], requesters: [0] }), /at least 2 provider nodes/)
  assert.throws(() => chaosSchedule({ seed: 1, durationMs: 60_000, providers: [0, 1], requesters: [0] }), /both provider and requester/)
  assert.throws(() => chaosSchedule({ seed: 1, durationMs: 0, providers: [1, 2], requesters: [0] }), /durationMs/)
})

test('formatFault says what, where and for how long', () => {
  assert.equal(formatFault({ at: 12_345, kind: 'kill', node: 3, durationMs: 4100 }), '+  12.3s  SIGKILL           node 3  restart after 4.1s')
  assert.match(formatFault({ at: 1000, kind: 'pause', node: 2, durationMs: 1500 }), /SIGSTOP +node 2 +SIGCONT after 1\.5s/)
  assert.match(formatFault({ at: 1000, kind: 'restart-requester', node: 0, durationMs: 0 }), /restart requester node 0 +\(SIGKILL \+ relaunch\)/)
})

test('the seeded rng stays within bounds', () => {
  const rng = seededRng(5)
  for (let i = 0; i < 1000; i++) {
    const n = rng.int(2, 4)
    assert.ok(n >= 2 && n <= 4 && Number.isInteger(n))
    const x = rng.next()
    assert.ok(x >= 0 && x < 1)
  }
  assert.throws(() => rng.pick([]), TypeError)
})
