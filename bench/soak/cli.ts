/**
 * The command line shared by `soak` and `chaos`: options, Ctrl-C handling
 * (first: stop gracefully, keep the root; second: SIGKILL the swarm), the
 * report on stdout (text or JSON), the exit code (0 = all invariants hold,
 * 1 = a FAIL or a LOST run, 2 = the harness could not run).
 */
import { Command } from 'commander'
import { runSoak, type SoakInit } from './driver.js'
import { formatReport, type SoakReport } from './report.js'

interface Opts {
  nodes: string
  minutes: string
  rate: string
  seed?: string
  json?: boolean
  window: string
  grace: string
  plans: string
  requesters: string
  root?: string
  keep?: boolean
  logLevel: string
  verifyCli: string
  maxDown?: string
  meanGap?: string
}

function num (value: string, flag: string): number {
  const n = Number(value)
  if (!Number.isFinite(n)) throw new TypeError(`${flag} must be a number (got ${JSON.stringify(value)})`)
  return n
}

export function soakCommand (mode: 'soak' | 'chaos'): Command {
  const cmd = new Command(mode)
    .description(mode === 'soak'
      ? 'Start a swarm of pl-node processes and submit small plans at a steady rate; report completed runs, failures by error name, latency and RSS over time. Exit 1 if any run was lost.'
      : 'The soak with a seeded, logged fault schedule (SIGKILL + restart of providers, SIGSTOP/SIGCONT, one requester restart); check the invariants at the end. Exit 1 on any FAIL.')
    .option('-n, --nodes <n>', 'number of pl-node processes (node 0 is the bootstrap and requester)', '5')
    .option('-m, --minutes <m>', 'length of the load phase (fractions allowed)', '2')
    .option('-r, --rate <runs/s>', 'submissions per second', '1')
    .option('-s, --seed <seed>', 'seed of plan choice and fault schedule (default: from the clock, printed)')
    .option('--json', 'print the report as JSON')
    .option('--window <s>', 'width of a latency/RSS window in seconds', '30')
    .option('--grace <s>', 'after the load, how long unfinished runs may take to end', '60')
    .option('--plans <list>', 'plans to submit (sections, summarize, or .yaml paths), comma-separated', 'sections,summarize')
    .option('--requesters <k>', 'nodes 0..k-1 submit runs', '1')
    .option('--root <dir>', 'folder for data dirs and logs (default: a new temp folder; kept on failure)')
    .option('--keep', 'keep the root folder even when everything passed')
    .option('--log-level <level>', 'log level of the nodes', 'warn')
    .option('--verify-cli <n>', 'runs whose receipts are also checked with `pl receipts verify`', '3')
  if (mode === 'chaos') {
    cmd.option('--max-down <k>', 'most providers down at once (default: a third of them, at least 1, never all)')
      .option('--mean-gap <s>', 'mean time between fault starts', '6')
  }
  cmd.action(async (opts: Opts) => {
    const controller = new AbortController()
    let interrupts = 0
    const onSignal = (): void => {
      interrupts++
      if (interrupts === 1) {
        process.stderr.write('\ninterrupted: stopping the load and the swarm (again to force)…\n')
        controller.abort()
      } else {
        process.exit(130) // the harness's exit hook SIGKILLs every node still running
      }
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    const log = (line: string): void => { process.stderr.write(line + '\n') }
    let init: SoakInit
    try {
      const seed = opts.seed != null ? num(opts.seed, '--seed') : Date.now() % 2 ** 31
      init = {
        mode,
        nodes: num(opts.nodes, '--nodes'),
        minutes: num(opts.minutes, '--minutes'),
        rate: num(opts.rate, '--rate'),
        seed,
        plans: opts.plans.split(',').map(s => s.trim()).filter(s => s !== ''),
        requesters: num(opts.requesters, '--requesters'),
        windowMs: num(opts.window, '--window') * 1000,
        graceMs: num(opts.grace, '--grace') * 1000,
        root: opts.root,
        keep: opts.keep === true,
        logLevel: opts.logLevel,
        verifyCli: num(opts.verifyCli, '--verify-cli'),
        maxDown: opts.maxDown != null ? num(opts.maxDown, '--max-down') : undefined,
        meanGapMs: opts.meanGap != null ? num(opts.meanGap, '--mean-gap') * 1000 : undefined,
        log,
        signal: controller.signal
      }
      log(`pl ${mode}: seed ${seed} (replay with --seed ${seed})`)
    } catch (err) {
      process.stderr.write(`error: ${(err as Error).message}\n`)
      process.exit(2)
    }
    let report: SoakReport
    try {
      report = await runSoak(init)
    } catch (err) {
      const r = (err as { report?: SoakReport }).report
      process.stderr.write(`error: ${(err as Error).message}\n`)
      if (r != null) process.stderr.write(`data dirs and logs kept in ${r.root}\n`)
      process.exit(2)
    }
    process.stdout.write((opts.json === true ? JSON.stringify(report, null, 2) : formatReport(report)) + '\n')
    process.exit(report.aborted ? 130 : report.passed ? 0 : 1)
  })
  return cmd
}
