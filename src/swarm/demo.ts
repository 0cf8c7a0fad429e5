#!/usr/bin/env node
/**
 * The README's main command (`npm run demo`): starts a local swarm of real
 * pl-node processes, submits the SummarizeDocument plan
 * (examples/plans/summarize.yaml) on node 0 — which installs no
 * capabilities, so every step is negotiated — and prints the result, which
 * node ran each step and why it won, and the receipt chain verified offline.
 */
import '../cli/require-node.js'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { clockSleep, systemClock } from '../core/clock.js'
import { join } from 'node:path'
import { Command } from 'commander'
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml'
import { Swarm } from './launcher.js'
import { swarmNodeSpec, swarmOffers } from './profiles.js'
import { ControlClient } from '../api/client.js'
import { packageRoot } from '../core/paths.js'
import { action } from '../cli/index.js'
import { verifyExport, type ChainVerification } from '../receipts/index.js'
import { renderDemoReport, type DemoRun } from './report.js'

const NAMES = ['FetchSections', 'Summarize', 'MergeSummaries', 'AttachReferences']

/** The plan the demo submits (the seed's DSL sample, bundled with the repo). */
export function demoPlanPath (): string {
  return join(packageRoot(), 'examples', 'plans', 'summarize.yaml')
}

/** Waits until the node behind `client` finds a provider for each of `names`. */
export async function waitForCapabilities (client: ControlClient, names: string[], timeoutMs: number, log: (l: string) => void = () => {}): Promise<void> {
  // wall time on purpose: the demo waits on a remote node from the CLI (no component clock)
  const deadline = Date.now() + timeoutMs
  const missing = new Set(names)
  while (missing.size > 0) {
    for (const name of [...missing]) {
      const found = await client.request<unknown[]>('GET', `/caps/find?name=${encodeURIComponent(name)}&timeout=2000`).catch(() => [])
      if (Array.isArray(found) && found.length > 0) { missing.delete(name); log(`  found ${name}: ${found.length} provider(s)`) }
    }
    if (missing.size === 0) break
    if (Date.now() > deadline) throw new Error(`the node could not find providers of ${[...missing].join(', ')} within ${timeoutMs} ms`)
    await clockSleep(systemClock, 300) // the control API has no event for 'a provider became findable': a bounded poll
  }
}

/** One progress line of the demo: the step, what happened, and which node ran it. */
export function eventLine (e: any, view: any, peers: string[]): string {
  const type = String(e.type).replace('pl:', '')
  if (e.type === 'pl:run:finished') return 'run finished: succeeded'
  if (e.type === 'pl:run:failed') return `run failed: ${String(e.error?.name)}: ${String(e.error?.message)}`
  const step = (view?.steps ?? []).find((s: any) => s.key === e.key)
  const i = peers.indexOf(String(step?.executor))
  const where = (e.type === 'pl:step:finished' || e.type === 'pl:step:failed') && step?.executor != null ? ` on ${i >= 0 ? `node ${i}` : String(step.executor).slice(-8)}` : ''
  return `${type} ${String(e.key ?? '')}${where}${e.error != null ? ` ${String(e.error.name)}: ${String(e.error.message)}` : ''}`
}

export interface PlanReportOptions {
  /** peer ids by swarm node index (node 0 = the requester), to name who ran each step */
  peers: string[]
  /** the Markdown document to summarize @default examples/documents/mesh-notes.md */
  document?: string
  json: boolean
  log: (line: string) => void
  /** replaces the plan's `constraints.deadline` (an ISO 8601 duration such as PT120S) */
  deadline?: string
  /** how long to wait until the requester finds every capability the plan needs @default 60 s */
  findTimeoutMs?: number
}

/**
 * Submits the SummarizeDocument plan on the node behind `client` (the
 * requester), follows its events, and prints the result, who ran each step
 * and why, and the receipt chain verified offline. True when the run
 * succeeded and the chain verifies.
 */
export async function runPlanReport (client: ControlClient, opts: PlanReportOptions): Promise<boolean> {
  const { log } = opts
  log('waiting until the requester can find every capability the plan needs (gossip + DHT)')
  await waitForCapabilities(client, NAMES, opts.findTimeoutMs ?? 60_000, log)

  const docFile = opts.document ?? join(packageRoot(), 'examples', 'documents', 'mesh-notes.md')
  const { cid: docCid } = await client.request<{ cid: string }>('POST', '/blocks', { doc: await readFile(docFile, 'utf8') })
  log(`document ${docFile} stored on the requester as ${docCid}`)
  let plan = await readFile(demoPlanPath(), 'utf8')
  if (opts.deadline != null) {
    const doc = parseYaml(plan)
    doc.constraints = { ...doc.constraints, deadline: opts.deadline }
    plan = stringifyYaml(doc)
    log(`plan deadline set to ${opts.deadline}`)
  }
  const { runId } = await client.request<{ runId: string }>('POST', '/runs', { plan, input: { doc: `cid:${docCid}` } })
  log(`run ${runId} submitted (plan ${demoPlanPath()})`)

  let since = 0
  let view: any
  // elapsed wall time for the operator's log (no component clock)
  const started = Date.now()
  for (;;) {
    // the view first: events read after it include every event up to a final state, so none is lost
    view = await client.request('GET', `/runs/${runId}`)
    const events = await client.request<{ events: any[], next: number }>('GET', `/runs/${runId}/events?since=${since}`).catch(() => ({ events: [], next: since }))
    since = events.next ?? since
    for (const e of events.events ?? []) log(`  ${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s  ${eventLine(e, view, opts.peers)}`)
    if (['succeeded', 'failed', 'cancelled'].includes(view.run.state)) break
    await clockSleep(systemClock, 250) // the control API's events are polled (no push on it); the loop ends with the run
  }
  const explanations = await client.request('GET', `/runs/${runId}/explanations`).catch(() => ({}))
  let exported: any
  let chain: ChainVerification | undefined
  let chainError: string | undefined
  try {
    exported = await client.request('GET', `/receipts/${runId}`)
    chain = verifyExport(exported)
  } catch (err: any) {
    chainError = `${String(err.name)}: ${String(err.message)}`
  }
  const demo: DemoRun = { runId, view, explanations, receipts: exported, chain, chainError, peers: opts.peers }
  process.stdout.write(opts.json ? JSON.stringify(demo, null, 2) + '\n' : renderDemoReport(demo))
  return view.run.state === 'succeeded' && chain != null
}

export async function runDemo (opts: { nodes: number, root?: string, keep: boolean, document?: string, json: boolean }): Promise<number> {
  const log = (line: string): void => { process.stderr.write(line + '\n') }
  const root = opts.root ?? await mkdtemp(join(tmpdir(), 'pl-demo-'))
  log(`starting ${opts.nodes} pl-node processes on 127.0.0.1 (data and logs in ${root})`)
  const swarm = await Swarm.start({ nodes: opts.nodes, root, logLevel: 'warn', spec: swarmNodeSpec })
  let ok = false
  // Ctrl-C: stop the nodes and remove the temp folder (unless --keep/--root) before exiting
  const interrupt = (sig: string): void => {
    log(`${sig}: stopping the swarm…`)
    void swarm.stop().then(async () => {
      if (!opts.keep && opts.root == null) await rm(root, { recursive: true, force: true })
      else log(`swarm data and logs kept in ${root}`)
    }).finally(() => process.exit(130))
  }
  process.once('SIGINT', interrupt)
  process.once('SIGTERM', interrupt)
  try {
    for (const m of swarm.members) {
      const offers = swarmOffers(m.index).map(o => `${o.file.split('/').at(-2) ?? '?'}${o.price != null ? ` @${o.price}` : ''}`)
      log(`  node ${m.index} ${m.peerId ?? '?'} ${offers.length > 0 ? 'offers ' + offers.join(', ') : '(requester, no capabilities)'}`)
    }
    const client = await ControlClient.fromDataDir(swarm.members[0].dataDir)
    ok = await runPlanReport(client, { peers: swarm.members.map(m => m.peerId ?? ''), document: opts.document, json: opts.json, log })
    return ok ? 0 : 1
  } finally {
    await swarm.stop()
    if (!opts.keep && ok && opts.root == null) await rm(root, { recursive: true, force: true })
    else log(`swarm data and logs kept in ${root}`)
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const program = new Command('demo')
    .description('Start a local swarm, run the SummarizeDocument plan across it, and print the result, who ran each step and why, and the verified receipt chain.')
    .option('-n, --nodes <n>', 'number of pl-node processes (node 0 is the requester)', '5')
    .option('--root <dir>', 'folder for data dirs and logs (default: a temp folder, removed after a successful run)')
    .option('--keep', 'keep the data dirs and logs', false)
    .option('--document <file>', 'the Markdown document to summarize (default: examples/documents/mesh-notes.md)')
    .option('--json', 'print the whole run (outputs, steps, explanations, receipts) as JSON', false)
    .option('--attach <data-dir>', 'start no swarm: submit the plan on the pl-node already running on this data dir (the docker swarm runs it in its bootstrap container)')
    .option('--deadline <duration>', 'replace the plan\'s deadline (ISO 8601 duration, e.g. PT120S): containers on a busy machine start slower')
    .option('--peers <ids>', 'with --attach: comma-separated peer ids named node 0, 1, … in the report (node 0 = the requester)')
    .action(action(async (o: { nodes: string, root?: string, keep: boolean, document?: string, json: boolean, attach?: string, peers?: string, deadline?: string }) => {
      if (o.attach != null) {
        const client = await ControlClient.fromDataDir(o.attach)
        const log = (line: string): void => { process.stderr.write(line + '\n') }
        const peers = o.peers != null ? o.peers.split(',') : [String((await client.request<{ peerId: string }>('GET', '/health')).peerId)]
        process.exitCode = await runPlanReport(client, { peers, document: o.document, json: o.json, log, deadline: o.deadline }) ? 0 : 1
        return
      }
      const nodes = Number(o.nodes)
      if (!Number.isInteger(nodes) || nodes < 5 || nodes > 50) throw new TypeError('--nodes must be 5..50 (one requester and four provider profiles)')
      process.exitCode = await runDemo({ nodes, root: o.root, keep: o.keep, document: o.document, json: o.json })
    }))
  await program.parseAsync(process.argv)
}
