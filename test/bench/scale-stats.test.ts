import { test } from 'node:test'
import assert from 'node:assert/strict'
import { percentile, parseCpuTicks, parseIo, coreShare, sumCounter, parseSizes, growthExponent, growthTable } from '../../bench/scale/stats.js'

test('percentile takes the nearest rank, whatever the input order', () => {
  const v = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6]
  assert.equal(percentile(v, 50), 5)
  assert.equal(percentile(v, 95), 10)
  assert.equal(percentile(v, 0), 1)
  assert.equal(percentile([42], 95), 42)
  assert.ok(Number.isNaN(percentile([], 50)))
})

test('parseCpuTicks adds utime and stime, counting fields after the last parenthesis', () => {
  // comm with a space and a ')' in it: naive splitting on spaces would shift every field
  const stat = '4242 (node a) b) S 1 4242 4242 0 -1 4194560 1000 0 0 0 731 129 0 0 20 0 11 0 500 1000000 30000 18446744073709551615'
  assert.equal(parseCpuTicks(stat), 731 + 129)
  assert.throws(() => parseCpuTicks('garbage'), /malformed/)
  assert.throws(() => parseCpuTicks('1 (x) S 1'), /malformed/)
})

test('parseIo reads rchar and wchar', () => {
  const io = 'rchar: 123456\nwchar: 7890\nsyscr: 10\nsyscw: 3\nread_bytes: 0\nwrite_bytes: 4096\ncancelled_write_bytes: 0\n'
  assert.deepEqual(parseIo(io), { rchar: 123456, wchar: 7890 })
  assert.throws(() => parseIo('syscr: 1\n'), /rchar/)
})

test('coreShare turns a tick delta over a window into a share of one core', () => {
  assert.equal(coreShare(100, 160, 100, 60_000), 0.01) // 60 ticks = 0.6 s CPU over 60 s
  assert.equal(coreShare(0, 200, 100, 1_000), 2) // two cores busy
  assert.throws(() => coreShare(0, 1, 100, 0), RangeError)
})

test('sumCounter sums a counter over its label sets, optionally filtered by labels', () => {
  const text = [
    '# HELP pl_gossip_messages_total Gossip messages validated, by topic and result',
    '# TYPE pl_gossip_messages_total counter',
    'pl_gossip_messages_total{topic="pl/local/v1/catalog",result="accept"} 120',
    'pl_gossip_messages_total{topic="pl/local/v1/catalog",result="ignore"} 3',
    'pl_gossip_messages_total{topic="pl/local/v1/trust",result="accept"} 7',
    'pl_gossip_messages_total_other 1000',
    'pl_peers 9',
    ''
  ].join('\n')
  assert.equal(sumCounter(text, 'pl_gossip_messages_total'), 130)
  assert.equal(sumCounter(text, 'pl_gossip_messages_total', { result: 'accept' }), 127)
  assert.equal(sumCounter(text, 'pl_gossip_messages_total', { topic: 'pl/local/v1/catalog', result: 'ignore' }), 3)
  assert.equal(sumCounter(text, 'pl_peers'), 9)
  assert.equal(sumCounter(text, 'pl_missing_total'), 0)
})

test('parseSizes sorts and dedupes, and refuses what is not a node count', () => {
  assert.deepEqual(parseSizes('25,10,25', [1]), [10, 25])
  assert.deepEqual(parseSizes(undefined, [10, 25, 50]), [10, 25, 50])
  assert.deepEqual(parseSizes('none', [10, 25, 50]), [])
  assert.throws(() => parseSizes('10,x', []), RangeError)
  assert.throws(() => parseSizes('1', []), RangeError)
  assert.throws(() => parseSizes('2.5', []), RangeError)
})

test('growthExponent is the log-log slope between the smallest and the largest size', () => {
  assert.equal(growthExponent([{ n: 10, p50: 5 }, { n: 50, p50: 5 }]), 0)
  assert.ok(Math.abs(growthExponent([{ n: 50, p50: 100 }, { n: 10, p50: 20 }]) - 1) < 1e-12)
  assert.ok(Math.abs(growthExponent([{ n: 10, p50: 1 }, { n: 25, p50: 3 }, { n: 100, p50: 100 }]) - 2) < 1e-12)
  assert.ok(Number.isNaN(growthExponent([{ n: 10, p50: 1 }])))
  assert.ok(Number.isNaN(growthExponent([{ n: 10, p50: 0 }, { n: 20, p50: 1 }])))
})

test('growthTable has a column per size, p50 / p95 cells, the last/first ratio and the exponent', () => {
  const table = growthTable({
    'idle RSS per node': { unit: 'MiB', points: [{ n: 10, p50: 120, p95: 130 }, { n: 50, p50: 120, p95: 140 }] },
    'gossip received': { unit: 'msg/s', points: [{ n: 50, p50: 2.5, p95: 3 }, { n: 10, p50: 0.5, p95: 0.6 }] },
    'start': { unit: 's', points: [{ n: 10, p50: 20 }] }
  })
  const lines = table.split('\n')
  assert.match(lines[0], /figure\s+unit\s+N=10 p50\/p95\s+N=50 p50\/p95\s+last\/first\s+exp/)
  const rss = lines.find(l => l.startsWith('idle RSS per node'))
  assert.ok(rss != null)
  assert.match(rss, /120 \/ 130\s+120 \/ 140\s+1\.00x\s+0$/)
  const gossip = lines.find(l => l.startsWith('gossip received'))
  assert.ok(gossip != null)
  assert.match(gossip, /0\.500 \/ 0\.600\s+2\.50 \/ 3\.00\s+5\.00x\s+1\.00$/)
  const start = lines.find(l => l.startsWith('start'))
  assert.ok(start != null)
  assert.match(start, /s\s+20\.00\s+-\s+-$/)
})
