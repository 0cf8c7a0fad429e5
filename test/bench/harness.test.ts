import { test } from 'node:test'
import assert from 'node:assert/strict'
import { median, pairSummary, runBench } from '../../bench/harness.js'

test('median takes the middle value, or the mean of the two middle ones', () => {
  assert.equal(median([3, 1, 2]), 2)
  assert.equal(median([4, 1, 3, 2]), 2.5)
  assert.ok(Number.isNaN(median([])))
})

test('pairSummary: the ratio is the median of per-round ratios, not a ratio of medians', () => {
  // a load spike in round 3 slows both sides; the per-round ratio stays 0.8
  const base = [100, 100, 20, 100, 100]
  const subj = [80, 80, 16, 80, 80]
  const s = pairSummary(base, subj)
  assert.equal(s.ratio, 0.8)
  assert.equal(s.p50, 80)
  assert.equal(s.baselineP50, 100)
  // spikes hitting different sides in different rounds: the medians of each side would say 1.0
  const skewed = pairSummary([100, 50, 100, 50, 100], [50, 50, 50, 25, 50])
  assert.equal(skewed.ratio, 0.5)
  assert.throws(() => pairSummary([1, 2], [1]), RangeError)
})

test('runBench alternates which side of a pair goes first, round by round', async () => {
  const order: string[] = []
  const rows = await runBench({
    name: 'pair',
    rounds: 4,
    baseline: { name: 'b', run: async () => { order.push('b'); return 1 } },
    subject: { name: 's', run: async () => { order.push('s'); return 1 } }
  })
  // warm-up, then b s | s b | b s | s b
  assert.deepEqual(order, ['b', 's', 'b', 's', 's', 'b', 'b', 's', 's', 'b'])
  assert.equal(rows.length, 1)
  assert.equal(rows[0].baseline, 'b')
  assert.ok(typeof rows[0].ratio === 'number' && rows[0].ratio > 0)
})

test('a pair with cpuTime gets a second row in ops per CPU-second, with its own median of per-round ratios', async () => {
  const rows = await runBench({
    name: 'pair',
    rounds: 3,
    cpuTime: true,
    baseline: { name: 'b', run: async () => 1 },
    subject: { name: 's', run: async () => 1 }
  })
  assert.deepEqual(rows.map(r => [r.figure, r.unit]), [['s', 'ops/s'], ['s, CPU time', 'ops/cpu-s']])
  assert.ok(rows.every(r => typeof r.ratio === 'number' && r.ratio > 0))
})
