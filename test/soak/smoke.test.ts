/**
 * A short real soak: 3 pl-node processes, ~12 s of load. Skipped (with the
 * reason) only while this build has no exec route or no negotiation module;
 * PL_SOAK_SMOKE=force runs it anyway.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { runSoak, type SoakRecords } from '../../bench/soak/driver.js'
import { checkNoLostRuns } from '../../bench/soak/invariants.js'
import { tempDir } from '../helpers/tmp.js'

const negotiation = fileURLToPath(new URL('../../src/negotiation/index.js', import.meta.url))

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

test('a 3-node soak of ~12 s completes runs, loses none, passes its invariants and leaves no process behind', async (t) => {
  if (!existsSync(negotiation) && process.env.PL_SOAK_SMOKE !== 'force') {
    t.skip(`no ${negotiation} in this build: the negotiation service has not landed yet`)
    return
  }
  const { dir, cleanup } = await tempDir('pl-soak-smoke-')
  const lines: string[] = []
  let records: SoakRecords | undefined
  try {
    let report
    try {
      report = await runSoak({ mode: 'soak', nodes: 3, minutes: 0.2, rate: 2, seed: 11, plans: ['sections'], windowMs: 5000, graceMs: 20_000, warmupTimeoutMs: 30_000, verifyCli: 1, root: dir, log: (l) => { lines.push(l) }, onRecords: (r) => { records = r } })
    } catch (err) {
      if (/has no GET \/runs route/.test((err as Error).message) && process.env.PL_SOAK_SMOKE !== 'force') {
        t.skip((err as Error).message)
        return
      }
      throw err
    }
    const detail = `${lines.join('\n')}\n${JSON.stringify({ totals: report.totals, invariants: report.invariants, notes: report.notes }, null, 2)}`
    assert.equal(report.passed, true, detail)
    assert.ok(report.totals.submitted >= 10, detail)
    assert.ok(report.totals.succeeded > 0, detail)
    assert.equal(report.totals.unfinished, 0)
    assert.ok(report.invariants.every(i => i.verdict !== 'FAIL'))
    assert.ok(report.rss.some(w => Object.keys(w.maxMiB).length === 3), 'RSS sampled for every node')
    assert.ok(report.latency.length >= 2 && report.latency.some(w => w.p50Ms > 0))
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
