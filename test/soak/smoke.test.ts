/**
 * A short real soak: 3 pl-node processes, a fixed count of runs submitted at
 * 2 runs/s. It always runs: a build without the exec routes or negotiation
 * fails it. The work is bounded by the count, not by time, and the waits
 * (warm-up, settling) end on the runs' states; their limits are only there to
 * turn a stuck swarm into a failure, so they are generous.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { runSoak, type SoakRecords } from '../../bench/soak/driver.js'
import { checkNoLostRuns } from '../../bench/soak/invariants.js'
import { tempDir } from '../helpers/tmp.js'

const RUNS = 12
const RATE = 2
/** with RUNS at RATE the last submission is due 5.5 s after the first, and the schedule never runs early: >= 3 windows */
const WINDOW_MS = 2000
const STUCK_MS = 5 * 60_000

/** pids of processes whose command line mentions `text` */
function processesMentioning (text: string): number[] {
  const out: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(text)) out.push(Number(name))
    } catch {}
  }
  return out
}

test(`a 3-node soak of ${RUNS} runs completes them, loses none, passes its invariants and leaves no process behind`, { timeout: 4 * STUCK_MS }, async () => {
  const { dir, cleanup } = await tempDir('pl-soak-smoke-')
  const lines: string[] = []
  let records: SoakRecords | undefined
  try {
    const report = await runSoak({ mode: 'soak', nodes: 3, runs: RUNS, rate: RATE, seed: 11, plans: ['sections'], windowMs: WINDOW_MS, graceMs: STUCK_MS, warmupTimeoutMs: STUCK_MS, submitTimeoutMs: STUCK_MS, verifyCli: 1, root: dir, log: (l) => { lines.push(l) }, onRecords: (r) => { records = r } })
    const detail = `${lines.join('\n')}\n${JSON.stringify({ totals: report.totals, invariants: report.invariants, notes: report.notes }, null, 2)}`
    assert.equal(report.passed, true, detail)
    assert.equal(report.totals.submitted, RUNS, detail)
    assert.equal(report.totals.submitFailures, 0, detail)
    assert.equal(report.skippedTicks, 0, detail)
    assert.ok(report.totals.succeeded > 0, detail)
    assert.equal(report.totals.unfinished, 0, detail)
    assert.ok(report.invariants.every(i => i.verdict !== 'FAIL'), detail)
    assert.ok(report.invariants.some(i => i.verdict === 'PASS' && i.checked > 0), `the invariants checked something: ${detail}`)
    assert.deepEqual(report.notes, [], 'no harness notes (missing routes, unfetched receipts)')
    assert.ok(report.rss.some(w => Object.keys(w.maxMiB).length === 3), 'RSS sampled for every node')
    assert.ok(report.latency.length >= 3 && report.latency.some(w => w.p50Ms > 0), JSON.stringify(report.latency))
    // the breakdown reads every succeeded run's step times and explanations (real ones: the phases of its remote steps)
    assert.equal(report.breakdown?.explained, report.totals.succeeded, JSON.stringify(report.breakdown))
    assert.ok(report.breakdown.phases.some(g => g.steps.execution.n > 0), JSON.stringify(report.breakdown))
    assert.deepEqual(processesMentioning(dir), [], 'no pl-node of the soak is still running')

    // the checker, fed the real records with one run made to look lost, fails
    assert.ok(records != null)
    const real = records.runs
    assert.equal(checkNoLostRuns(real).verdict, 'PASS')
    const broken = real.map((r, i) => i === 3 ? { ...r, state: 'running' as const } : r)
    const verdict = checkNoLostRuns(broken)
    assert.equal(verdict.verdict, 'FAIL')
    assert.match(verdict.problems[0], new RegExp(`LOST run ${real[3].runId}`))
  } finally {
    await cleanup()
  }
})
