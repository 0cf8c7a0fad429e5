/**
 * `pl run`, `pl runs list|show`, `pl decide`. When a pl-node runs on the
 * data dir (control.json present and /health answers) they go through its
 * control API; otherwise the run happens in this process on the data dir's
 * own Store, journaled there so `pl run --resume <runId>` can continue it.
 *
 * Exit codes: 0 succeeded, 1 failed (error on stderr), 2 waiting for a human
 * decision (`pl decide <runId> <step> <choice>` continues it).
 */
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { type ControlClient } from '../../api/client.js'
import type { Executor, ModulePoolInit } from '../../exec/index.js'
import { CliProgress } from '../progress.js'
import { whyLine } from '../../swarm/report.js'
import type { StepExplanation } from '../../negotiation/index.js'
import { RunNotFoundError } from '../../exec/errors.js'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { runView, type RunView } from '../../exec/view.js'
import type { ExecEvent, RunRecord } from '../../exec/types.js'
import { connectDaemon, requireDaemon } from '../daemon.js'
import { action, printJson, resolveDataDir } from '../util.js'
import { InvalidRequestError } from '../../api/errors.js'

const selfPeer = new WeakMap<ControlClient, string | undefined>()

/** A data dir without a database holds no runs: read-only commands say so instead of creating one. */
function hasDatabase (dataDir: string): boolean {
  return existsSync(join(dataDir, 'db'))
}

function noData (dataDir: string): string {
  return `${dataDir} holds no pl-node data (no database; is --data-dir / PL_DATA_DIR right?)`
}

/** How often `pl run` polls a daemon for events. */
const POLL_MS = 200

interface DataDirOpts { dataDir?: string }

/** The daemon's control client when one answers on `dataDir`, else undefined. */
async function daemonFor (dataDir: string): Promise<ControlClient | undefined> {
  const client = await connectDaemon(dataDir)
  if (client == null) return undefined
  try {
    const health = await client.request<{ peerId?: string }>('GET', '/health', undefined, { timeoutMs: 3000 })
    selfPeer.set(client, health.peerId)
    return client
  } catch (err) {
    if ((err as Error).name === 'ControlApiUnavailableError') return undefined // a stale control.json
    throw err
  }
}

async function parseInput (text: string | undefined): Promise<Record<string, unknown>> {
  if (text == null) return {}
  const raw = text.startsWith('@') ? await readFile(text.slice(1), 'utf8') : text
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch (err) {
    throw new InvalidRequestError(`--input is not valid JSON: ${(err as Error).message}`)
  }
  if (value == null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidRequestError('--input must be a JSON object')
  return value as Record<string, unknown>
}

/** Prints the end of a run; returns the exit code. */
function finish (view: RunView): number {
  const { run } = view
  if (run.state === 'succeeded') {
    printJson(view.output ?? null)
    return 0
  }
  if (run.state === 'waiting-human') {
    for (const w of view.waiting ?? []) {
      process.stderr.write(`run ${run.id} waits for a decision on step ${w.key}: ${w.question}${w.choices.length > 0 ? ` [${w.choices.join('|')}]` : ''}\n`)
      process.stderr.write(`  continue with: pl decide ${run.id} ${w.key} <choice>\n`)
    }
    return 2
  }
  process.stderr.write(`error: ${run.error?.name ?? 'RunFailedError'}: ${run.error?.message ?? `run ${run.state}`}\n`)
  if (process.env.PL_DEBUG === '1' && run.error?.stack != null) process.stderr.write(run.error.stack + '\n')
  return 1
}

/** Runs `fn` with an in-process Executor on the data dir; stops it cleanly on SIGINT/SIGTERM. */
async function inProcess<T> (dataDir: string, fn: (executor: Executor) => Promise<T>): Promise<T> {
  // the executor, store and config loader load only for a run in this process: `pl --help` and calls through a node stay light
  const [{ createLogger }, { loadConfig }, { Store }, { Executor }] = await Promise.all([import('../../core/logger.js'), import('../config.js'), import('../../store/index.js'), import('../../exec/index.js')])
  const logger = createLogger({ level: (process.env.PL_LOG_LEVEL as any) ?? 'warn' })
  // the config file's module pool settings (services.exec.poolInit: sandbox grants, isolation) apply here as in the daemon
  const { services } = await loadConfig({ dataDir })
  const poolInit = (services.exec as { poolInit?: ModulePoolInit } | undefined)?.poolInit
  const store = await Store.open(dataDir)
  const executor = new Executor({ store, logger, ...(poolInit != null ? { poolInit } : {}) })
  const progress = new CliProgress(process.stderr)
  executor.on('event', (ev: ExecEvent) => { progress.event(ev) })
  let interrupted = false
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) return
    interrupted = true
    process.stderr.write(`\n${sig}: stopping; the run stays journaled and can be resumed\n`)
    void executor.stop().then(async () => { await store.close(); process.exit(130) })
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  executor.start()
  try {
    return await fn(executor)
  } finally {
    progress.done()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    if (!interrupted) {
      await executor.stop()
      await store.close()
    }
  }
}

async function settle (executor: Executor, runId: string): Promise<number> {
  await executor.wait(runId, { untilWaiting: true })
  return finish(await runView(executor, runId))
}

/** Follows a run on a daemon by polling its events until it ends or waits. */
async function follow (client: ControlClient, runId: string): Promise<number> {
  const progress = new CliProgress(process.stderr)
  const self = selfPeer.get(client)
  let since = 0
  try {
    for (;;) {
      const { events, next } = await client.request<{ events: ExecEvent[], next: number }>('GET', `/runs/${encodeURIComponent(runId)}/events?since=${since}`)
      since = next
      // the run view names the peer that ran each step: progress lines show remote providers
      const view = await client.request<RunView>('GET', `/runs/${encodeURIComponent(runId)}`)
      const executorOf = (key: string): string | undefined => view.steps.find(st => st.key === key)?.executor
      const show = (ev: ExecEvent): void => { progress.event(ev, { executor: 'key' in ev ? executorOf(ev.key) : undefined, self }) }
      for (const ev of events) show(ev)
      if (view.run.state !== 'running') {
        const rest = await client.request<{ events: ExecEvent[] }>('GET', `/runs/${encodeURIComponent(runId)}/events?since=${since}`)
        for (const ev of rest.events) show(ev)
        progress.done()
        return finish(view)
      }
      await new Promise(resolve => setTimeout(resolve, POLL_MS))
    }
  } finally {
    progress.done()
  }
}

/** `pl runs explain`: for each step, where it ran and why (bids, scores, declines, re-awards). */
function renderExplanation (view: RunView, explained: StepExplanation[], self: string | undefined): string {
  const byKey = new Map(explained.map(e => [e.step, e]))
  const name = (peer: string | undefined): string => peer == null || peer === '' ? '-' : peer === self || peer === 'local' ? 'this node' : `${peer.slice(0, 8)}…${peer.slice(-6)}`
  const lines = [`run ${view.run.id}: ${view.run.state}${view.run.error != null ? ` (${view.run.error.name}: ${view.run.error.message})` : ''}`]
  for (const st of view.steps) {
    const ex = byKey.get(st.key)
    const children = view.steps.filter(c => c.key.startsWith(`${st.key}[`)).length
    const ranOn = st.executor ?? (st.state === 'succeeded' && ex == null && children === 0 ? self : undefined)
    lines.push(`${st.key}  ${st.state}${children > 0 ? '' : `  ran on ${name(ranOn)}`}`)
    const why = children > 0
      ? `fan-out over ${children} item(s)`
      : ex != null
        ? whyLine(ex, [])
        : st.error != null
          ? `${st.error.name}: ${st.error.message}`
          : st.state === 'succeeded' ? 'a module of this node (no negotiation)' : `not run (${st.state})`
    lines.push(`  why: ${why}`)
    if (ex != null) for (const b of ex.bids) lines.push(`    bid ${name(b.provider)}: ${b.status}${b.rank != null ? ` rank ${b.rank}` : ''}${b.score != null ? ` score ${b.score.toFixed(2)}` : ''} price ${b.price} eta ${b.eta_ms} ms${b.reason != null ? ` (${b.reason})` : ''}${b.admitted != null ? ` admitted by ${b.admitted.join(', ')}` : ''}${b.self_attested != null ? ` self-attested ${b.self_attested.join(', ')}` : ''}`)
  }
  return lines.join('\n') + '\n'
}

export function register (program: Command): void {
  program.command('run')
    .summary('Run a workflow (folder, workflow.json, .zip or .yaml plan) and print its output as JSON')
    .description('Run a workflow (folder, workflow.json, .zip bundle or .yaml DSL plan) and print its output as JSON.\nThrough the pl-node running on the data dir when there is one (remote capabilities, receipts), else in this process with local modules only.\nExit codes: 0 succeeded, 1 failed, 2 waiting for a human decision (answer with pl decide).')
    .argument('[path]', 'the workflow to run (not needed with --resume)')
    .option('--input <json>', 'run input: a JSON object, or @file to read it from a file')
    .option('--resume <runId>', 'continue a journaled run instead of starting one')
    .option('-d, --data-dir <dir>', 'data dir of the node / journal (default: PL_DATA_DIR or ~/.pl-node)')
    .action(action(async (path: string | undefined, opts: DataDirOpts & { input?: string, resume?: string }) => {
      const dataDir = resolveDataDir(opts.dataDir)
      if (opts.resume == null && path == null) throw new InvalidRequestError('pl run needs a workflow path, or --resume <runId>')
      const input = await parseInput(opts.input)
      const client = await daemonFor(dataDir)
      if (client != null) {
        let runId: string
        if (opts.resume != null) {
          runId = opts.resume
          await client.request('POST', `/runs/${encodeURIComponent(runId)}/resume`, {})
        } else {
          if (/\.ya?ml$/i.test(path as string)) {
            // the daemon logs unknown input keys; say it here too, where the operator looks
            const { loadWorkflow } = await import('../../workflow/index.js')
            const plan = await loadWorkflow(resolve(path as string))
            const declared = Object.keys(plan.dag.inputs)
            const unknown = Object.keys(input).filter(k => !declared.includes(k))
            if (declared.length > 0 && unknown.length > 0) process.stderr.write(`warning: unknown input${unknown.length > 1 ? 's' : ''} ${unknown.map(k => `'${k}'`).join(', ')}: the plan declares ${declared.map(k => `'${k}'`).join(', ')}\n`)
            await plan.cleanup()
          }
          runId = (await client.request<{ runId: string }>('POST', '/runs', { path: resolve(path as string), input })).runId
        }
        process.stderr.write(`run ${runId} (on the pl-node of ${dataDir})\n`)
        process.exitCode = await follow(client, runId)
        return
      }
      if (opts.resume != null && !hasDatabase(dataDir)) throw new RunNotFoundError(`no run ${opts.resume}: ${noData(dataDir)}`, { run: opts.resume })
      // load (and check) the workflow before touching the data dir: a failed run leaves no database behind
      const source = opts.resume == null ? resolve(path as string) : undefined
      const wf = source != null ? await (await import('../../workflow/index.js')).loadWorkflow(source) : undefined
      process.exitCode = await inProcess(dataDir, async (executor) => {
        if (opts.resume != null || wf == null || source == null) {
          process.stderr.write(`run ${String(opts.resume)} resuming\n`)
          await executor.resume(opts.resume as string)
          return await settle(executor, opts.resume as string)
        }
        let runId: string
        try {
          runId = await executor.submit(wf.dag, input, { modules: wf.bundle?.modules, source, cleanup: wf.cleanup })
        } catch (err) {
          await wf.cleanup()
          throw err
        }
        process.stderr.write(`run ${runId} started\n`)
        return await settle(executor, runId)
      })
    }))

  const runs = program.command('runs').description('Runs journaled on this node')
  runs.command('list')
    .description('List runs: id, state, name, started, source')
    .option('--json', 'print the run records as JSON')
    .option('-d, --data-dir <dir>', 'data dir of the node / journal')
    .action(action(async (opts: DataDirOpts & { json?: boolean }) => {
      const dataDir = resolveDataDir(opts.dataDir)
      const client = await daemonFor(dataDir)
      if (client == null && !hasDatabase(dataDir)) {
        if (opts.json === true) printJson([])
        else process.stdout.write(`no runs: ${noData(dataDir)}\n`)
        return
      }
      const list = client != null
        ? await client.request<RunRecord[]>('GET', '/runs')
        : await inProcess(dataDir, async (executor) => await executor.list())
      if (opts.json === true) { printJson(list); return }
      if (list.length === 0) { process.stdout.write(`no runs in ${dataDir}\n`); return }
      for (const r of list) {
        process.stdout.write(`${r.id}  ${r.state.padEnd(13)}  ${r.name}  ${new Date(r.created).toISOString()}${r.source != null ? `  ${r.source}` : ''}${r.error != null ? `  ${r.error.name}` : ''}\n`)
      }
    }))
  runs.command('show')
    .description('Show a run: its record, every step (state, attempts, usage, output CID) and its output')
    .argument('<runId>', 'the run id (see pl runs list)')
    .option('-d, --data-dir <dir>', 'data dir of the node / journal')
    .action(action(async (runId: string, opts: DataDirOpts) => {
      const dataDir = resolveDataDir(opts.dataDir)
      const client = await daemonFor(dataDir)
      if (client == null && !hasDatabase(dataDir)) throw new RunNotFoundError(`no run ${runId}: ${noData(dataDir)}`, { run: runId })
      printJson(client != null
        ? await client.request<RunView>('GET', `/runs/${encodeURIComponent(runId)}`)
        : await inProcess(dataDir, async (executor) => await runView(executor, runId)))
    }))
  runs.command('explain')
    .description('Why each step of a run went where it went: the bids (rank, score, price), declines and re-awards of its negotiation. Needs the running pl-node that ran it.')
    .argument('<runId>', 'the run id (see pl runs list)')
    .option('--json', 'print {run, steps} (the explanations) as JSON')
    .option('-d, --data-dir <dir>', 'data dir of the node')
    .action(action(async (runId: string, opts: DataDirOpts & { json?: boolean }) => {
      const client = await requireDaemon(opts.dataDir)
      const explained = await client.request<{ run: string, steps: StepExplanation[] }>('GET', `/runs/${encodeURIComponent(runId)}/explanations`)
      if (opts.json === true) { printJson(explained); return }
      const view = await client.request<RunView>('GET', `/runs/${encodeURIComponent(runId)}`)
      const health = await client.request<{ peerId?: string }>('GET', '/health')
      process.stdout.write(renderExplanation(view, explained.steps ?? [], health.peerId))
    }))

  program.command('decide')
    .description('Answer the question a run waits on; the run continues (in this process when no pl-node runs)')
    .argument('<runId>', 'the waiting run (see pl runs list)')
    .argument('<stepKey>', 'the waiting step key (see pl runs show)')
    .argument('<choice>', 'one of the choices the question offers')
    .option('-d, --data-dir <dir>', 'data dir of the node / journal')
    .action(action(async (runId: string, stepKey: string, choice: string, opts: DataDirOpts) => {
      const dataDir = resolveDataDir(opts.dataDir)
      const client = await daemonFor(dataDir)
      if (client == null && !hasDatabase(dataDir)) throw new RunNotFoundError(`no run ${runId}: ${noData(dataDir)}`, { run: runId })
      if (client != null) {
        await client.request('POST', `/runs/${encodeURIComponent(runId)}/decide`, { step: stepKey, choice })
        process.exitCode = await follow(client, runId)
        return
      }
      process.exitCode = await inProcess(dataDir, async (executor) => {
        await executor.decide(runId, stepKey, choice)
        return await settle(executor, runId)
      })
    }))
}
