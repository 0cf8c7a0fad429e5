/**
 * The piscina worker that runs JS modules. Each module is imported once per
 * worker and cached by CID; instances are cached per constructor arguments.
 * The module's `eval(parameters, inputData, context)` may be async; its
 * result must be JSON. Usage is measured here: wall time, thread CPU time
 * (from /proc/thread-self/schedstat on Linux, else the event loop's active
 * time), and the worker's JS heap after the step.
 */
import { mkdirSync, readFileSync, readlinkSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { performance } from 'node:perf_hooks'
import v8 from 'node:v8'
import { BroadcastChannel, parentPort } from 'node:worker_threads'
import { errorToData, type ErrorData } from '../../core/errors.js'
import { toJsonValue } from '../json.js'
import { MAX_CACHED_INSTANCES } from '../constants.js'
import type { JsTask, JsTaskResult, JsThreadTask, MainToWorker, StepPort, TaggedMessage, WorkerToMain } from './protocol.js'
import type { AddonKind, HumanQuestion } from '../types.js'

type ModuleClass = new (...args: unknown[]) => { eval: (parameters: unknown, inputData: unknown, context: unknown) => unknown }

const classes = new Map<string, Promise<ModuleClass>>()
const instances = new Map<string, { eval: (...a: unknown[]) => unknown }>()
/** shared by every module instance in this worker (the seed format's globalState) */
const globalState: Record<string, unknown> = {}

/** this thread's OS id, read once (a worker thread keeps it for life) */
let tidOnce: { tid: number | undefined } | undefined

function threadId (): number | undefined {
  if (tidOnce != null) return tidOnce.tid
  try {
    tidOnce = { tid: Number(readlinkSync('/proc/thread-self').split('/').pop()) }
  } catch {
    tidOnce = { tid: undefined }
  }
  return tidOnce.tid
}

/** `process.threadCpuUsage` (Node >= 23.9): one getrusage(RUSAGE_THREAD) call, ~0.5 us against ~11 us for reading /proc */
const threadCpuUsage = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage

/**
 * CPU time of this thread in ms, exact on Linux; null when unavailable. getrusage's user + system time
 * of a thread is the kernel's `sum_exec_runtime`, the first field of /proc/<pid>/task/<tid>/schedstat
 * that the main thread's CPU watchdog reads: the two agree (to the microsecond).
 */
function threadCpuMs (): number | null {
  if (threadCpuUsage != null) {
    const u = threadCpuUsage.call(process)
    return (u.user + u.system) / 1000
  }
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6
  } catch {
    return null
  }
}

async function loadClass (task: JsTask): Promise<ModuleClass> {
  let p = classes.get(task.module.cid)
  if (p == null) {
    p = (async () => {
      let mod: Record<string, unknown>
      try {
        // the CID in the URL: import() caches by URL, and a module changed in place must not run its old code
        mod = await import(`${pathToFileURL(task.module.entry).href}?cid=${encodeURIComponent(task.module.cid)}`)
      } catch (err) {
        const e = err as Error
        throw Object.assign(new Error(`module ${task.module.key} cannot be loaded from ${task.module.entry}: ${e.name}: ${e.message}`), { name: 'ModuleLoadError', stack: e.stack, details: { module: task.module.key, entry: task.module.entry } })
      }
      const cls = mod.default ?? (mod as { 'module.exports'?: unknown })['module.exports']
      if (typeof cls !== 'function') {
        throw Object.assign(new Error(`module ${task.module.key} (${task.module.entry}) must default-export a class with an eval() method`), { name: 'ModuleLoadError', details: { module: task.module.key } })
      }
      return cls as ModuleClass
    })()
    classes.set(task.module.cid, p)
    p.catch(() => { classes.delete(task.module.cid) })
  }
  return await p
}

async function instanceFor (task: JsTask): Promise<{ eval: (...a: unknown[]) => unknown }> {
  const key = task.module.cid + '\0' + JSON.stringify(task.ctor)
  const hit = instances.get(key)
  if (hit != null) return hit
  const Cls = await loadClass(task)
  const c = task.ctor
  const inst = new Cls(c.name, c.settings, c.parameters, c.globalSettings, c.globalParameters, globalState)
  if (typeof inst?.eval !== 'function') {
    throw Object.assign(new Error(`module ${task.module.key}: the exported class has no eval() method`), { name: 'ModuleLoadError', details: { module: task.module.key } })
  }
  if (instances.size >= MAX_CACHED_INSTANCES) instances.delete(instances.keys().next().value as string)
  instances.set(key, inst)
  return inst
}

function remoteError (data: ErrorData): Error {
  const e = new Error(data.message) as Error & { details?: unknown, retryable?: boolean }
  e.name = data.name
  e.details = data.details
  e.retryable = data.retryable
  return e
}

function makeContext (task: JsTask, abort: AbortController, pending: Map<number, { resolve: (v: unknown) => void, reject: (e: unknown) => void }>, made: { tmpdir: boolean }): Record<string, unknown> {
  const { port } = task
  let nextId = 1
  const send = (m: WorkerToMain): void => { port.postMessage(m) }
  const request = async (m: { t: 'call', kind: AddonKind, name: string, data: unknown } | { t: 'ask', question: HumanQuestion }): Promise<unknown> => {
    const id = nextId++
    const p = new Promise<unknown>((resolve, reject) => { pending.set(id, { resolve, reject }) })
    send({ ...m, id })
    return await p
  }
  const log = (level: 'debug' | 'info' | 'warn' | 'error') => (msg: unknown, data?: unknown) => {
    send({ t: 'log', level, msg: String(msg), data: data === undefined ? undefined : safeData(data) })
  }
  return {
    runId: task.step.runId,
    step: task.step.key,
    attempt: task.step.attempt,
    // made on first use: most steps never touch it
    get tmpdir () {
      if (task.tmpdir != null && !made.tmpdir) {
        mkdirSync(task.tmpdir, { recursive: true, mode: 0o700 })
        made.tmpdir = true
      }
      return task.tmpdir
    },
    constraints: task.step.constraints ?? {},
    signal: abort.signal,
    progress: (n: number, total?: number, message?: string) => { send({ t: 'progress', n: Number(n), total: total == null ? undefined : Number(total), message: message == null ? undefined : String(message) }) },
    log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    addons: {
      webhook: async (name: string, data: unknown) => await request({ t: 'call', kind: 'webhook', name, data: safeData(data) }),
      callback: async (name: string, data: unknown) => await request({ t: 'call', kind: 'callback', name, data: safeData(data) }),
      llm: async (name: string, req: unknown) => await request({ t: 'call', kind: 'llm', name, data: safeData(req) })
    },
    human: {
      ask: async (q: HumanQuestion) => await request({ t: 'ask', question: { question: String(q?.question), choices: Array.isArray(q?.choices) ? q.choices.map(String) : undefined, timeoutMs: q?.timeoutMs } })
    }
  }
}

function safeData (data: unknown): unknown {
  try {
    return toJsonValue(data)
  } catch {
    return String(data)
  }
}

function usageSince (t0: number, cpu0: number | null, elu0: ReturnType<typeof performance.eventLoopUtilization>): JsTaskResult['usage'] {
  const cpu1 = threadCpuMs()
  const heap = v8.getHeapStatistics().total_heap_size / (1024 * 1024)
  const wall = performance.now() - t0
  // one thread's CPU time cannot exceed its wall time; the kernel's counter lags by up to a scheduler tick (it is
  // brought up to date at ticks and switches, not when read), so a step that ran flat out can read a few ms over
  if (cpu0 != null && cpu1 != null) return { cpu_ms: Math.min(cpu1 - cpu0, wall), wall_ms: wall, heap_mb: heap, cpu_exact: true }
  return { cpu_ms: performance.eventLoopUtilization(elu0).active, wall_ms: wall, heap_mb: heap, cpu_exact: false }
}

/** The permission model's refusal (a sandboxed module) becomes SandboxAccessDeniedError naming what was refused. */
function accessDenied (err: unknown, error: ErrorData): void {
  const e = err as { code?: unknown, permission?: unknown, resource?: unknown }
  if (e?.code !== 'ERR_ACCESS_DENIED') return
  error.name = 'SandboxAccessDeniedError'
  error.details = { ...error.details, permission: String(e.permission), ...(e.resource != null ? { resource: String(e.resource) } : {}) }
}

/** The main thread's messages per pool channel, handed to the step they name. */
const inboxes = new Map<string, Map<number, (m: MainToWorker) => void>>()

/** The port of a step in a worker thread: out on `parentPort`, in on the pool's BroadcastChannel. */
function threadPort (task: JsThreadTask): StepPort {
  let inbox = inboxes.get(task.channel)
  if (inbox == null) {
    const handlers = new Map<number, (m: MainToWorker) => void>()
    const bc = new BroadcastChannel(task.channel)
    bc.onmessage = (ev) => {
      const d = (ev as { data?: TaggedMessage<MainToWorker> }).data
      if (d != null) handlers.get(d.plTask)?.(d.m)
    }
    // the worker's life is piscina's business: the channel does not keep it up
    bc.unref()
    inbox = handlers
    inboxes.set(task.channel, inbox)
  }
  const handlers = inbox
  return {
    postMessage: (m) => { parentPort?.postMessage({ plTask: task.id, m } satisfies TaggedMessage<WorkerToMain>) },
    on: (_event, fn) => { handlers.set(task.id, fn) },
    close: () => { handlers.delete(task.id) }
  }
}

/** The piscina task of the worker-thread pool. */
export default async function runThreadTask (task: JsThreadTask): Promise<JsTaskResult> {
  return await runTask({ ...task, port: threadPort(task) })
}

/** Runs one step of a module (the worker-thread pool's and the sandboxed runner's). */
export async function runTask (task: JsTask): Promise<JsTaskResult> {
  const t0 = performance.now()
  const cpu0 = threadCpuMs()
  const elu0 = performance.eventLoopUtilization()
  const { port } = task
  const abort = new AbortController()
  const pending = new Map<number, { resolve: (v: unknown) => void, reject: (e: unknown) => void }>()
  port.on('message', (m: MainToWorker) => {
    if (m.t === 'abort') {
      abort.abort(remoteError(m.reason))
      return
    }
    const waiter = pending.get(m.id)
    if (waiter == null) return
    pending.delete(m.id)
    if (m.ok) waiter.resolve(m.value)
    else waiter.reject(remoteError(m.error))
  })
  port.postMessage({ t: 'started', tid: threadId(), cpu0 } satisfies WorkerToMain)
  const made = { tmpdir: false }
  try {
    const inst = await instanceFor(task)
    const context = makeContext(task, abort, pending, made)
    const raw = await inst.eval(task.parameters, task.inputData, context)
    const output = toJsonValue(raw)
    return { ok: true, output, usage: usageSince(t0, cpu0, elu0), tmpdir: made.tmpdir }
  } catch (err) {
    const error = errorToData(err)
    accessDenied(err, error)
    if (error.details != null) error.details = safeData(error.details) as Record<string, unknown>
    return { ok: false, error, usage: usageSince(t0, cpu0, elu0), tmpdir: made.tmpdir }
  } finally {
    port.close()
  }
}
