/**
 * One soak or chaos run, end to end: start a swarm of real `pl-node`
 * processes in a temp root, warm up, submit plans at a steady rate for the
 * given minutes or the given number of runs (with the fault schedule in chaos mode), let unfinished runs
 * settle within a grace period, collect final views and receipts, check the
 * invariants, stop the swarm, and return the report. The root is removed
 * when everything passed (unless `keep`), kept otherwise.
 *
 * @example
 * const report = await runSoak({ mode: 'soak', nodes: 5, minutes: 2, rate: 1, seed: 1, log: l => process.stderr.write(l + '\n') })
 * process.exitCode = report.passed ? 0 : 1
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, totalmem, tmpdir } from 'node:os'
import { join } from 'node:path'
import { errorToData } from '../../src/core/errors.js'
import { Swarm, type SwarmNodeSpec, swarmNodeSpec } from '../../src/swarm/index.js'
import { MemberApi } from './client.js'
import { FaultInjector } from './faults.js'
import { anyFailed, checkNoLostRuns, checkNoReexecutionAfterRestart, checkOneAcceptedReceiptPerStep, checkReceiptsVerify, NO_REEXECUTION, RECEIPTS_VERIFY, ONE_ACCEPTED_RECEIPT, type InvariantResult, type ReceiptCheck } from './invariants.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { Load, mapLimit } from './load.js'
import { baseDocument, loadPlans } from './plans.js'
import { TERMINAL_STATES, type RestartSnapshot, type RunReceipts, type TrackedRun } from './records.js'
import type { SoakReport } from './report.js'
import { seededRng } from './rng.js'
import { rssKiB } from './rss.js'
import { chaosSchedule, effectiveMaxDown, formatFault, type Fault } from './schedule.js'
import { latencyWindows, rssWindows, totals, type RssSample } from './stats.js'
import { breakdown, type ExplanationView } from './breakdown.js'
import { cliVerify, verifyRunReceipts } from './verify.js'
import type { SignedReceipt } from '../../src/receipts/index.js'

export interface SoakInit {
  mode: 'soak' | 'chaos'
  nodes: number
  /** how long to submit; with `runs`, whichever ends first (at least one of the two) */
  minutes?: number
  /** how many runs to submit (tests: the work done does not depend on the machine's speed) */
  runs?: number
  /** runs per second @default 1 */
  rate?: number
  seed: number
  /** @default ['sections', 'summarize'] */
  plans?: string[]
  /** nodes 0..requesters-1 submit runs @default 1 */
  requesters?: number
  /** @default 30000 */
  windowMs?: number
  /** after the load, how long unfinished runs may take to end @default 60000 */
  graceMs?: number
  /** @default a new folder under the OS temp dir */
  root?: string
  /** keep the root even when everything passed @default false */
  keep?: boolean
  /** @default 'warn' */
  logLevel?: string
  /** @default 5000 */
  rssEveryMs?: number
  /** how many runs to verify through `pl receipts verify` as well @default 3 */
  verifyCli?: number
  /** @default 60000 */
  warmupTimeoutMs?: number
  /** how long one `POST /runs` may take before it counts as a refused submission @default 10000 */
  submitTimeoutMs?: number
  /** chaos schedule tuning */
  maxDown?: number
  meanGapMs?: number
  /** @default swarmNodeSpec */
  spec?: (index: number) => SwarmNodeSpec
  log: (line: string) => void
  signal?: AbortSignal
  /** gets the raw records before the swarm stops (tests feed them to the checkers) */
  onRecords?: (records: SoakRecords) => void
}

export interface SoakRecords {
  runs: TrackedRun[]
  receipts?: RunReceipts
  snapshots: RestartSnapshot[]
  /** the data dir of each member */
  dataDirs: string[]
}

/** What a node answers for a route that does not exist (Fastify's default 404). */
function isMissingRoute (status: number, json: any): boolean {
  return status === 404 && typeof json?.message === 'string' && json.message.startsWith('Route ')
}

/** On restart a node listens on the ports it had before, so peers that knew it can dial it again. */
export function stickySpec (base: (i: number) => SwarmNodeSpec, swarm: () => Swarm | undefined): (i: number) => SwarmNodeSpec {
  return (i) => {
    const spec = base(i)
    const prev = swarm()?.members[i]?.addrs ?? []
    const listen = [...new Set(prev.filter(a => a.startsWith('/ip4/127.0.0.1/')).map(a => a.replace(/\/p2p\/[^/]+$/, '')))]
    if (listen.length === 0) return spec
    return { ...spec, config: { ...spec.config, listen } }
  }
}

/** SIGKILLs the process group of every member still running (last resort: the harness is exiting). */
function killAllSync (swarm: Swarm): void {
  for (const m of swarm.members) {
    const pid = m.proc?.pid
    if (pid == null || !swarm.isRunning(m.index)) continue
    try { process.kill(-pid, 'SIGKILL') } catch { try { process.kill(pid, 'SIGKILL') } catch {} }
  }
}

export async function runSoak (init: SoakInit): Promise<SoakReport> {
  const log = init.log
  const rate = init.rate ?? 1
  const windowMs = init.windowMs ?? 30_000
  const graceMs = init.graceMs ?? 60_000
  const nRequesters = init.requesters ?? 1
  if (!Number.isInteger(init.nodes) || init.nodes < 2 || init.nodes > 50) throw new TypeError('--nodes must be an integer 2..50')
  if (init.minutes == null && init.runs == null) throw new TypeError('give --minutes or a number of runs')
  if (init.minutes != null && !(init.minutes > 0)) throw new TypeError('--minutes must be > 0')
  if (init.runs != null && !(Number.isInteger(init.runs) && init.runs > 0)) throw new TypeError('runs must be a positive integer')
  if (!(rate > 0 && rate <= 50)) throw new TypeError('--rate must be in (0, 50] runs/s')
  if (!Number.isInteger(nRequesters) || nRequesters < 1 || nRequesters >= init.nodes) throw new TypeError('--requesters must be 1..nodes-1')
  const requesters = Array.from({ length: nRequesters }, (_, i) => i)
  const providers = Array.from({ length: init.nodes }, (_, i) => i).filter(i => !requesters.includes(i))
  // with only a count of runs, the load lasts about runs/rate seconds: the chaos schedule is spread over that
  const loadMs = init.minutes != null ? Math.round(init.minutes * 60_000) : Math.ceil(init.runs! / rate * 1000)
  const faults: Fault[] = init.mode === 'chaos' ? chaosSchedule({ seed: init.seed, durationMs: loadMs, providers, requesters, maxDown: init.maxDown, meanGapMs: init.meanGapMs }) : []
  const plans = await loadPlans(init.plans ?? ['sections', 'summarize'])
  const doc = await baseDocument()
  const rng = seededRng(init.seed)
  const root = init.root ?? await mkdtemp(join(tmpdir(), `pl-${init.mode}-`))
  const notes: string[] = []
  const report: SoakReport = {
    mode: init.mode,
    nodes: init.nodes,
    requesters,
    minutes: loadMs / 60_000,
    rate,
    seed: init.seed,
    plans: plans.map(p => p.name),
    root,
    kept: true,
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    started: new Date().toISOString(),
    loadMs,
    settleMs: 0,
    warmup: [],
    totals: totals([], []),
    skippedTicks: 0,
    windowMs,
    latency: [],
    rss: [],
    faults: [],
    invariants: [],
    notes,
    aborted: false,
    passed: false
  }
  log(`root: ${root}`)
  if (init.mode === 'chaos') {
    log(`fault schedule (seed ${init.seed}, load ${(loadMs / 1000).toFixed(0)} s):`)
    for (const f of faults) log(`  ${formatFault(f)}`)
  }

  let swarm: Swarm | undefined
  const onExit = (): void => { if (swarm != null) killAllSync(swarm) }
  process.on('exit', onExit)
  const aborted = (): boolean => init.signal?.aborted === true
  try {
    log(`starting ${init.nodes} pl-node processes…`)
    swarm = await Swarm.start({ nodes: init.nodes, root, logLevel: init.logLevel ?? 'warn', spec: stickySpec(init.spec ?? swarmNodeSpec, () => swarm) })
    const sw = swarm
    const apis = sw.members.map(m => new MemberApi(sw, m.index))
    for (const i of requesters) {
      const res = await apis[i].request('GET', '/runs', undefined, 10_000)
      if (isMissingRoute(res.status, res.json)) throw new Error(`node ${i} has no GET /runs route: the exec service is not wired into pl-node yet (src/services.ts)`)
    }

    let t0 = Date.now()
    const clock = (): number => Date.now() - t0
    const injector = new FaultInjector({ swarm: sw, faults, clock, log, snapshot: async (node) => await snapshotOf(node), maxDown: effectiveMaxDown(providers.length, init.maxDown) })
    const available = (i: number): boolean => sw.isRunning(i) && injector.available(i)
    const load = new Load({ apis, requesters, plans, doc, rate, rng, clock, available, log, submitTimeoutMs: init.submitTimeoutMs })

    const stepsOf = async (node: number, runs: TrackedRun[]): Promise<RestartSnapshot['runs']> => {
      const out: RestartSnapshot['runs'] = []
      await mapLimit(runs, 8, async (r) => {
        try {
          const res = await apis[node].request('GET', `/runs/${encodeURIComponent(r.runId)}`, undefined, 3000)
          if (res.status < 300 && Array.isArray(res.json?.steps)) {
            out.push({ runId: r.runId, state: res.json.run?.state, steps: res.json.steps.map((s: any) => ({ key: s.key, state: s.state, attempts: s.attempts, runner: s.runner, executor: s.executor, receipt: s.receipt })) })
          }
        } catch {}
      })
      return out
    }
    /**
     * The steps of every run on `node`, taken right before its restart. To
     * restart mid-run, waits (at most 10 s) until a run there has completed
     * some of its steps but not all.
     */
    const snapshotOf = async (node: number): Promise<RestartSnapshot> => {
      const done = await stepsOf(node, load.runs.filter(r => r.node === node && TERMINAL_STATES.has(r.state)))
      let open: RestartSnapshot['runs'] = []
      const deadline = Date.now() + 10_000
      while (Date.now() < deadline && !aborted()) {
        open = await stepsOf(node, load.unfinished().filter(r => r.node === node))
        if (open.some(r => !TERMINAL_STATES.has(r.state ?? '') && r.steps.some(s => s.state === 'succeeded'))) break
        await sleep(50)
      }
      return { node, at: clock(), runs: [...done.filter(d => !open.some(o => o.runId === d.runId)), ...open] }
    }

    // warm-up: discovery needs a moment to converge; not counted
    report.warmup = await warmUp(load, plans, requesters, init.warmupTimeoutMs ?? 60_000, aborted, log)

    // load phase
    const samples: RssSample[] = []
    t0 = Date.now()
    const sampleRss = async (): Promise<void> => {
      for (const m of sw.members) {
        if (!sw.isRunning(m.index) || m.proc?.pid == null) continue
        const kib = await rssKiB(m.proc.pid)
        if (kib != null) samples.push({ t: clock(), node: m.index, rssKiB: kib })
      }
    }
    await sampleRss()
    const rssTimer = setInterval(() => { void sampleRss() }, init.rssEveryMs ?? 5000)
    let lastProgress = 0
    const progress = setInterval(() => {
      const t = totals(load.runs, load.submitFailures)
      if (clock() - lastProgress >= 10_000) {
        lastProgress = clock()
        log(`[+${(clock() / 1000).toFixed(1).padStart(6)}s] submitted ${t.submitted}, ok ${t.succeeded}, failed ${t.failed}, in flight ${t.unfinished}, refused ${t.submitFailures}`)
      }
    }, 1000)
    try {
      load.startPolling()
      load.startSubmitting({ stopAtMs: init.minutes != null ? loadMs : undefined, maxSubmissions: init.runs })
      injector.start()
      await Promise.race([load.doneSubmitting, abortedPromise(init.signal)])
      await load.stopSubmitting()
      if (aborted()) injector.cancel()
      else await injector.finish()
      const settleStart = Date.now()
      if (!aborted()) {
        log(`[+${(clock() / 1000).toFixed(1).padStart(6)}s] load done; waiting up to ${(graceMs / 1000).toFixed(0)} s for ${load.unfinished().length} unfinished runs`)
        await load.settle(graceMs, init.signal)
      }
      report.settleMs = Date.now() - settleStart
      await load.stopPolling()
      await sampleRss()
    } finally {
      clearInterval(rssTimer)
      clearInterval(progress)
      injector.cancel()
    }
    report.aborted = aborted()
    report.faults = injector.applied
    for (const f of injector.applied) if (f.error != null && f.appliedAt != null) notes.push(`fault on node ${f.node} at +${(f.at / 1000).toFixed(1)}s: ${f.error}`)

    // final views of every run (terminal ones too: their step records are what the invariants read)
    if (!report.aborted) await load.pollOnce(load.runs)
    const collected = report.aborted ? undefined : await collectReceipts(apis, load.runs, notes)
    const checks = collected == null ? undefined : await verifyAll(load.runs, collected, sw, init.verifyCli ?? 3, notes, log)

    report.totals = totals(load.runs, load.submitFailures)
    report.skippedTicks = load.skipped
    report.latency = latencyWindows(load.runs, windowMs)
    if (!report.aborted) report.breakdown = breakdown(load.runs, await collectExplanations(apis, load.runs, notes))
    report.rss = rssWindows(samples, windowMs)
    report.invariants = invariantsOf(load.runs, collected?.receipts, checks, injector.snapshots, init.mode)
    report.passed = !report.aborted && !anyFailed(report.invariants)
    init.onRecords?.({ runs: load.runs, receipts: collected?.receipts, snapshots: injector.snapshots, dataDirs: sw.members.map(m => m.dataDir) })
  } catch (err) {
    notes.push(`harness error: ${errorToData(err).message}`)
    report.passed = false
    throw Object.assign(err as Error, { report })
  } finally {
    if (swarm != null) {
      log('stopping the swarm…')
      await swarm.stop()
      const left = swarm.members.filter(m => swarm!.isRunning(m.index))
      if (left.length > 0) notes.push(`nodes still running after stop: ${left.map(m => m.index).join(', ')}`)
    }
    process.off('exit', onExit)
    report.kept = !report.passed || init.keep === true
    if (!report.kept && init.root == null) await rm(root, { recursive: true, force: true })
  }
  return report
}

async function warmUp (load: Load, plans: Awaited<ReturnType<typeof loadPlans>>, requesters: number[], timeoutMs: number, aborted: () => boolean, log: (l: string) => void): Promise<SoakReport['warmup']> {
  const out: SoakReport['warmup'] = []
  const deadline = Date.now() + timeoutMs
  for (const plan of plans) {
    const node = requesters[0]
    const entry: SoakReport['warmup'][number] = { plan: plan.name, node, state: 'not started', attempts: 0 }
    out.push(entry)
    while (Date.now() < deadline && !aborted()) {
      entry.attempts++
      const r = await load.submit(plan, node, false)
      if (!('runId' in r)) {
        entry.state = 'refused'; entry.error = `${r.name}: ${r.message}`
        await sleep(1000)
        continue
      }
      while (!TERMINAL_STATES.has(r.state) && Date.now() < deadline && !aborted()) {
        await load.pollOnce([r])
        await sleep(200)
      }
      entry.state = r.state
      entry.error = r.error != null ? `${r.error.name}: ${r.error.message}` : undefined
      if (r.state === 'succeeded') break
      await sleep(1000)
    }
    log(`warm-up ${plan.name}: ${entry.state} after ${entry.attempts} attempt(s)${entry.error != null ? ` — last error ${entry.error}` : ''}`)
  }
  return out
}

interface Collected { receipts: RunReceipts, exports: Record<string, unknown> }

async function collectReceipts (apis: MemberApi[], runs: TrackedRun[], notes: string[]): Promise<Collected | undefined> {
  const out: RunReceipts = {}
  const exports: Record<string, unknown> = {}
  let missingRoute = false
  let failures = 0
  await mapLimit(runs, 8, async (r) => {
    try {
      const res = await apis[r.node].request('GET', `/receipts/${encodeURIComponent(r.runId)}`, undefined, 10_000)
      if (isMissingRoute(res.status, res.json)) { missingRoute = true; return }
      if (res.status === 404) { out[r.runId] = []; return }
      if (res.status >= 300) { failures++; return }
      const list = Array.isArray(res.json) ? res.json : Array.isArray(res.json?.receipts) ? res.json.receipts : undefined
      if (list == null) { failures++; return }
      out[r.runId] = list as SignedReceipt[]
      if (!Array.isArray(res.json)) exports[r.runId] = res.json
    } catch {
      failures++
    }
  })
  if (missingRoute) {
    notes.push('the requester has no GET /receipts/:runId route (negotiation/receipts not wired yet): receipt invariants not checked')
    return undefined
  }
  if (failures > 0) notes.push(`receipts of ${failures} run(s) could not be fetched`)
  return { receipts: out, exports }
}

/** The explanations of the remote steps of every succeeded run (`GET /runs/:id/explanations`), for the phase breakdown. */
async function collectExplanations (apis: MemberApi[], runs: TrackedRun[], notes: string[]): Promise<Record<string, ExplanationView[]>> {
  const out: Record<string, ExplanationView[]> = {}
  let failures = 0
  await mapLimit(runs.filter(r => r.state === 'succeeded'), 8, async (r) => {
    try {
      const res = await apis[r.node].request('GET', `/runs/${encodeURIComponent(r.runId)}/explanations`, undefined, 10_000)
      if (res.status >= 300 || !Array.isArray(res.json?.steps)) { failures++; return }
      out[r.runId] = res.json.steps as ExplanationView[]
    } catch {
      failures++
    }
  })
  if (failures > 0) notes.push(`explanations of ${failures} succeeded run(s) could not be fetched: the phase breakdown leaves them out`)
  return out
}

async function verifyAll (runs: TrackedRun[], { receipts, exports }: Collected, swarm: Swarm, cliSample: number, notes: string[], log: (l: string) => void): Promise<ReceiptCheck[]> {
  const checks: ReceiptCheck[] = []
  for (const r of runs) {
    const list = receipts[r.runId]
    if (list == null) { checks.push({ runId: r.runId, receipts: 0, problems: ['receipts could not be fetched'] }); continue }
    checks.push({ runId: r.runId, receipts: list.length, problems: await verifyRunReceipts(r.runId, list, r.view?.steps ?? [], { exportDoc: exports[r.runId] }) })
  }
  // the user's path too, on a sample spread over the run
  const withReceipts = runs.filter(r => (receipts[r.runId]?.length ?? 0) > 0)
  const step = Math.max(1, Math.floor(withReceipts.length / Math.max(1, cliSample)))
  const sample = withReceipts.filter((_, i) => i % step === 0).slice(0, cliSample)
  for (const r of sample) {
    const problem = await cliVerify(swarm.members[r.node].dataDir, r.runId)
    if (problem != null && /unknown command|error: unknown option/.test(problem)) {
      notes.push(`\`pl receipts verify\` is not available in this build: ${problem}`)
      break
    }
    log(`pl receipts verify ${r.runId}: ${problem ?? 'ok'}`)
    if (problem != null) checks.find(c => c.runId === r.runId)?.problems.push(problem)
  }
  return checks
}

function invariantsOf (runs: TrackedRun[], receipts: RunReceipts | undefined, checks: ReceiptCheck[] | undefined, snapshots: RestartSnapshot[], mode: 'soak' | 'chaos'): InvariantResult[] {
  const skipped = (name: string, why: string): InvariantResult => ({ name, verdict: 'SKIP', checked: 0, problems: [why] })
  const out = [checkNoLostRuns(runs)]
  out.push(receipts != null ? checkOneAcceptedReceiptPerStep(receipts) : skipped(ONE_ACCEPTED_RECEIPT, 'receipts unavailable'))
  if (mode === 'chaos') out.push(checkNoReexecutionAfterRestart(snapshots, runs, receipts ?? {}))
  else out.push(skipped(NO_REEXECUTION, 'soak: no requester restart'))
  out.push(checks != null ? checkReceiptsVerify(checks) : skipped(RECEIPTS_VERIFY, 'receipts unavailable'))
  return out
}

/** Resolves when `signal` aborts (never without one); lets a wait end on an interrupt without polling. */
async function abortedPromise (signal: AbortSignal | undefined): Promise<void> {
  if (signal == null) return await new Promise<void>(() => {})
  if (signal.aborted) return
  await new Promise<void>(resolve => { signal.addEventListener('abort', () => { resolve() }, { once: true }) })
}
