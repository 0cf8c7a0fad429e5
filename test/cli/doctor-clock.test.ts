/**
 * The clock-skew finding of `pl-node doctor` from what the running node
 * reports (`GET /health` rejections, `GET /net/clock` offsets): pure logic,
 * the route itself is tested with real nodes in test/net/time.test.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { clockSkewCheck } from '../../src/cli/doctor/checks.js'
import type { DaemonConfig } from '../../src/cli/config.js'
import type { RunningClock } from '../../src/cli/doctor/types.js'

const config = { dataDir: '/nowhere' } as unknown as DaemonConfig
const clock = (medianMs: number, skewed: string[] = []): RunningClock => ({ peers: 3, medianMs, maxAbsMs: Math.abs(medianMs), skewed, samples: [] })

test('no running node: nothing to say', async () => {
  assert.deepEqual(await clockSkewCheck.run({ config }), [])
})

test('peers on time: ok with the measured median', async () => {
  const f = await clockSkewCheck.run({ config, health: { peers: 3, rejected: {} }, clock: clock(12) })
  assert.deepEqual(f.map(x => x.level), ['ok', 'ok'])
  assert.match(f[1].message, /median offset of 3 peer clock\(s\) from this one: 12 ms/)
})

test('this clock off from most peers: fail with the fix; a few peers off: warn naming them', async () => {
  const off = await clockSkewCheck.run({ config, health: { peers: 3, rejected: {} }, clock: clock(-42_000, ['a', 'b', 'c']) })
  assert.equal(off[1].level, 'fail')
  assert.match(off[1].fix ?? '', /timedatectl set-ntp true/)
  const some = await clockSkewCheck.run({ config, health: { peers: 3, rejected: {} }, clock: clock(3, ['12D3KooWpeer']) })
  assert.equal(some[1].level, 'warn')
  assert.match(some[1].message, /12D3KooWpeer/)
})

test('rejected envelopes fail; peers that cannot be measured warn', async () => {
  const f = await clockSkewCheck.run({ config, health: { peers: 2, rejected: { 'envelope/ClockSkewError': 4 } }, clock: { peers: 0, skewed: [], samples: [] } })
  assert.equal(f[0].level, 'fail')
  assert.match(f[0].message, /4 envelope\(s\)/)
  assert.equal(f[1].level, 'warn')
})
