/**
 * The sandboxed JS module runner: a Node process started by SandboxPools
 * (./pool.ts) as the PID 1 of its own PID namespace, under Node's permission
 * model. It runs steps one at a time with the worker-thread pool's own task
 * code (../js/worker.ts), so a module sees the same `context` in both
 * isolations.
 *
 * Protocol: JSON lines over fd 3, the same messages as the Python runner
 * (src/exec/python/runner.py):
 *   parent -> runner  {t:'run', module, ctor, parameters, inputData, step, tmpdir}  (a JsTask without its port)
 *                     {t:'reply', id, ok, value|error}  {t:'exit'}
 *   runner -> parent  {t:'ready'}  {t:'started'}  {t:'progress'|'log'|'call'|'ask', ...}
 *                     {t:'result', ok, output|error, usage:{cpu_ms, wall_ms, mem_peak_mb}, tmpdir}
 * (`tmpdir`: whether the step's temp folder was made: the module read `context.tmpdir`)
 * Cancellation: SIGUSR1 aborts `context.signal`; the parent kills the
 * process after a grace period.
 */
import { EventEmitter } from 'node:events'
import { Socket } from 'node:net'
import { runTask } from '../js/worker.js'
import type { JsTask, WorkerToMain } from '../js/protocol.js'

const PROTO_FD = 3
const MIB = 1024 * 1024

const channel = new Socket({ fd: PROTO_FD, readable: true, writable: true })
channel.on('error', () => { process.exit(1) })
channel.on('end', () => { process.exit(0) })

function send (m: Record<string, unknown>): void {
  channel.write(JSON.stringify(m) + '\n')
}

/** Stands in for the worker's MessagePort: messages of the running step go over the channel. */
class ChannelPort extends EventEmitter {
  postMessage (m: WorkerToMain): void { send(m) }
  close (): void { this.removeAllListeners() }
}

let port: ChannelPort | undefined

process.on('SIGUSR1', () => {
  port?.emit('message', { t: 'abort', reason: { name: 'AbortError', message: 'the step was cancelled' } })
})

async function run (task: Omit<JsTask, 'port'>): Promise<void> {
  const p = new ChannelPort()
  port = p
  const result = await runTask({ ...task, tmpdir: task.tmpdir ?? undefined, port: p })
  port = undefined
  const usage = { cpu_ms: result.usage.cpu_ms, wall_ms: result.usage.wall_ms, mem_peak_mb: process.memoryUsage.rss() / MIB }
  send(result.ok ? { t: 'result', ok: true, output: result.output, usage, tmpdir: result.tmpdir } : { t: 'result', ok: false, error: result.error, usage, tmpdir: result.tmpdir })
}

function onLine (line: string): void {
  let m: { t?: string } & Partial<Omit<JsTask, 'port'>>
  try {
    m = JSON.parse(line)
  } catch {
    return
  }
  if (m.t === 'run') void run(m as Omit<JsTask, 'port'>)
  else if (m.t === 'exit') process.exit(0)
  else port?.emit('message', m)
}

let buffered = ''
channel.setEncoding('utf8')
channel.on('data', (chunk: string) => {
  buffered += chunk
  let nl = buffered.indexOf('\n')
  while (nl !== -1) {
    const line = buffered.slice(0, nl)
    buffered = buffered.slice(nl + 1)
    onLine(line)
    nl = buffered.indexOf('\n')
  }
})

// the pid is the namespace's (1): the parent finds the runner's own from /proc
send({ t: 'ready', pid: null })
