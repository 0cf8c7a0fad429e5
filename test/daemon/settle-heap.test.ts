import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks'
import { runInNewContext } from 'node:vm'
import { Worker } from 'node:worker_threads'
import { gcFunction, settleHeapWhenQuiet, type SettleHeapResult } from '../../src/cli/index.js'

const settled = async (init: Parameters<typeof settleHeapWhenQuiet>[0]): Promise<SettleHeapResult> =>
  await new Promise(resolve => { settleHeapWhenQuiet({ ...init, onDone: resolve }) })

test('a quiet node gets one forced major collection, and gc stays hidden from later contexts and workers', async () => {
  const seen: PerformanceEntry[] = []
  const observer = new PerformanceObserver((list) => { seen.push(...list.getEntries()) })
  observer.observe({ entryTypes: ['gc'] })
  try {
    const r = await settled({ delayMs: 10, busy: () => 0 })
    assert.equal(r.collected, true)
    assert.equal(r.tries, 1)
    assert.ok(typeof r.gcMs === 'number' && r.gcMs >= 0)
    assert.ok((r.heapUsedBefore ?? 0) > 0 && (r.heapUsedAfter ?? 0) > 0)
    // gc entries are delivered asynchronously
    while (!seen.some(isForcedMajor)) await new Promise(resolve => setTimeout(resolve, 10))
  } finally {
    observer.disconnect()
  }
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined')
  assert.equal(runInNewContext('typeof gc'), 'undefined')
  const inWorker = await new Promise((resolve, reject) => {
    const w = new Worker("require('node:worker_threads').parentPort.postMessage(typeof gc)", { eval: true })
    w.once('message', resolve)
    w.once('error', reject)
  })
  assert.equal(inWorker, 'undefined')
})

test('a busy node is checked again, then left alone when it stays busy', async () => {
  const loads = [0.9, 0.5, 0.01]
  const r = await settled({ delayMs: 1, busy: () => loads.shift() ?? 0 })
  assert.deepEqual({ collected: r.collected, tries: r.tries }, { collected: true, tries: 3 })
  let calls = 0
  const busy = await settled({ delayMs: 1, tries: 4, busy: () => { calls++; return 1 } })
  assert.deepEqual(busy, { collected: false, tries: 4 })
  assert.equal(calls, 4)
})

test('a cancelled settle does nothing', async () => {
  let checked = false
  const cancel = settleHeapWhenQuiet({ delayMs: 1, busy: () => { checked = true; return 0 } })
  cancel()
  // a later settle with a longer delay: the cancelled one's timer would have fired before it
  const later = await settled({ delayMs: 5, busy: () => 1, tries: 1 })
  assert.equal(later.collected, false)
  assert.equal(checked, false)
})

test('gcFunction returns a working gc', () => {
  const gc = gcFunction()
  assert.equal(typeof gc, 'function')
  gc()
  assert.equal(runInNewContext('typeof gc'), 'undefined')
})

function isForcedMajor (e: PerformanceEntry): boolean {
  const d = (e as PerformanceEntry & { detail?: { kind: number, flags: number } }).detail
  return d != null && d.kind === constants.NODE_PERFORMANCE_GC_MAJOR && (d.flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0
}
