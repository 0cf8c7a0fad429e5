import { test } from 'node:test'
import assert from 'node:assert/strict'
import { latencyWindows, rssWindows, totals } from '../../bench/soak/stats.js'
import { parseVmRss, rssKiB } from '../../bench/soak/rss.js'
import { loadPlans, soakDocument, baseDocument } from '../../bench/soak/plans.js'
import { run } from './records.js'

test('totals count states, failures by error name and refused submissions', () => {
  const t = totals([
    run({ latencyMs: 100 }), run({ latencyMs: 300 }),
    run({ state: 'failed', error: { name: 'NoBidsError', message: 'm' } }),
    run({ state: 'failed', error: { name: 'NoBidsError', message: 'm' } }),
    run({ state: 'failed' }),
    run({ state: 'running' })
  ], [{ at: 1, node: 0, plan: 'p', name: 'ControlApiUnavailableError', message: 'down' }])
  assert.equal(t.submitted, 6)
  assert.equal(t.succeeded, 2)
  assert.equal(t.failed, 3)
  assert.equal(t.unfinished, 1)
  assert.deepEqual(t.failuresByName, { NoBidsError: 2, '(no reason)': 1 })
  assert.deepEqual(t.submitFailuresByName, { ControlApiUnavailableError: 1 })
  assert.equal(t.p50Ms, 100)
  assert.equal(t.p95Ms, 300)
})

test('latency windows group runs by submission time', () => {
  const w = latencyWindows([
    run({ submittedAt: 0, latencyMs: 10 }), run({ submittedAt: 29_999, latencyMs: 30 }),
    run({ submittedAt: 30_000, latencyMs: 500 }), run({ submittedAt: 31_000, state: 'failed', error: { name: 'X', message: 'y' } }),
    run({ submittedAt: 65_000, state: 'running' })
  ], 30_000)
  assert.equal(w.length, 3)
  assert.deepEqual(w.map(x => [x.from, x.submitted, x.succeeded, x.failed]), [[0, 2, 2, 0], [30_000, 2, 1, 1], [60_000, 1, 0, 0]])
  assert.equal(w[0].p50Ms, 10)
  assert.equal(w[0].p95Ms, 30)
  assert.equal(w[1].p50Ms, 500)
  assert.ok(Number.isNaN(w[2].p50Ms))
})

test('RSS windows keep the max per node, in MiB', () => {
  const w = rssWindows([
    { t: 0, node: 0, rssKiB: 102_400 }, { t: 5000, node: 0, rssKiB: 204_800 }, { t: 5000, node: 1, rssKiB: 51_200 },
    { t: 35_000, node: 1, rssKiB: 10_240 }
  ], 30_000)
  assert.deepEqual(w, [{ from: 0, maxMiB: { 0: 200, 1: 50 } }, { from: 30_000, maxMiB: { 1: 10 } }])
})

test('VmRSS is parsed from /proc status, and read for this process', async () => {
  assert.equal(parseVmRss('Name:\tnode\nVmPeak:\t  1 kB\nVmRSS:\t  123456 kB\nThreads: 7\n'), 123456)
  assert.equal(parseVmRss('Name:\tzombie\nState:\tZ\n'), undefined)
  const kib = await rssKiB(process.pid)
  assert.ok(kib != null && kib > 1024, `own RSS ${String(kib)} KiB`)
  assert.equal(await rssKiB(2 ** 22 + 12345), undefined)
})

test('plans load by name, unknown plans are refused, and each submission gets its own document', async () => {
  const plans = await loadPlans(['sections', 'summarize'])
  assert.deepEqual(plans.map(p => p.name), ['sections', 'summarize'])
  assert.match(plans[0].text, /FetchSections\(doc\)/)
  assert.match(plans[1].text, /goal: SummarizeDocument/)
  await assert.rejects(loadPlans(['nope']), /unknown plan 'nope'/)
  const base = await baseDocument()
  assert.equal(base.match(/^## /gm)?.length, 2)
  const d1 = soakDocument(base, 1)
  const d2 = soakDocument(base, 2)
  assert.notEqual(d1, d2)
  assert.match(d1, /^## .*\nSoak submission 1\.\n/m)
  assert.equal(d1.match(/^## /gm)?.length, 2)
})
