/**
 * JS modules run in piscina worker threads. There is one pool per JS heap
 * limit (`resourceLimits.maxOldGenerationSizeMb`), so a step never lands in
 * a worker with the wrong limit; beyond `maxPools` the least recently used
 * idle pool is closed. Hard limits: the wall clock (the task is aborted,
 * which terminates its worker), the heap (V8 kills the worker:
 * ERR_WORKER_OUT_OF_MEMORY) and, when a step sets `cpu_ms`, the thread's
 * CPU time read from /proc by a watchdog. piscina replaces dead workers.
 */
import { BroadcastChannel } from 'node:worker_threads'
import { readFileSync } from 'node:fs'
import { Piscina } from 'piscina'
import type { Logger } from 'pino'
import { errorToData, type ErrorData } from '../../core/errors.js'
import { silentLogger } from '../../core/logger.js'
import type { ModuleSpec } from '../../core/index.js'
import { DEFAULT_CANCEL_GRACE_MS, DEFAULT_CONCURRENCY, DEFAULT_IDLE_MS, DEFAULT_MAX_JS_POOLS } from '../constants.js'
import { ModuleCrashedError, rebuildExecError } from '../errors.js'
import { Stopwatch, cpuExceeded, memExceeded, round, wallExceeded, withUsage } from '../limits.js'
import { serveAddonCall, serveQuestion } from '../requests.js'
import { systemClock, type Clock } from '../clock.js'
import type { ModuleCall, ModuleCallOptions, ModuleResult, Usage } from '../types.js'
import { killThreadTree } from './tree.js'
import { DEFAULT_TMP_ROOT, newRunnerDir, removeDir, stepDirPath } from '../tmp.js'
import type { JsTaskResult, JsThreadTask, MainToWorker, TaggedMessage, WorkerToMain } from './protocol.js'

export interface JsPoolsInit {
  /** worker threads per pool @default DEFAULT_CONCURRENCY */
  maxThreads?: number
  /** pools (distinct heap limits) kept open @default 4 */
  maxPools?: number
  /** idle workers exit after this long @default 30 s */
  idleMs?: number
  /** a cancelled step may react to `context.signal` this long before its worker is killed @default 200 ms */
  cancelGraceMs?: number
  logger?: Logger
  /** timers of the wall-limit watchdog @default systemClock */
  clock?: Clock
  /** where per-step temp folders (context.tmpdir) are made @default DEFAULT_TMP_ROOT */
  tmpRoot?: string
}

const WORKER = new URL('./worker.js', import.meta.url).href
/** How often the CPU watchdog reads a worker thread's CPU time. */
const CPU_POLL_MS = 50

interface PoolEntry { pool: Piscina, memMb: number, active: number, used: number }

/** Names the BroadcastChannel of each JsPools of this process. */
let channelSeq = 0

/** CPU time (ms) of one thread of this process, or undefined off Linux. */
function threadCpuMs (tid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6
  } catch {
    return undefined
  }
}

export class JsPools {
  private readonly pools = new Map<number, PoolEntry>()
  private readonly init: Required<Omit<JsPoolsInit, 'logger' | 'clock' | 'tmpRoot'>>
  private readonly tmpRoot: string
  /** parent of this pool's step folders, made with the first step */
  private tmpDir?: string
  private readonly clock: Clock
  private readonly log: Logger
  private closed = false
  /** the running steps' message handlers, by task id (messages of every pool of this JsPools come through `onWorkerMessage`) */
  private readonly steps = new Map<number, (m: WorkerToMain) => void>()
  private nextTask = 0
  /** the main thread's messages to running steps (aborts, replies), made with the first step */
  private channel?: BroadcastChannel
  private readonly channelName = `pl-js-steps-${process.pid}-${++channelSeq}`
  private readonly onWorkerMessage = (d: TaggedMessage<WorkerToMain>): void => {
    if (typeof d?.plTask === 'number') this.steps.get(d.plTask)?.(d.m)
  }

  constructor (init: JsPoolsInit = {}) {
    this.init = {
      maxThreads: init.maxThreads ?? DEFAULT_CONCURRENCY,
      maxPools: init.maxPools ?? DEFAULT_MAX_JS_POOLS,
      idleMs: init.idleMs ?? DEFAULT_IDLE_MS,
      cancelGraceMs: init.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS
    }
    this.log = init.logger ?? silentLogger()
    this.clock = init.clock ?? systemClock
    this.tmpRoot = init.tmpRoot ?? DEFAULT_TMP_ROOT
  }

  /** Heap limits (MiB) that currently have an open pool, most recently used last. */
  openPools (): number[] {
    return [...this.pools.values()].sort((a, b) => a.used - b.used).map(e => e.memMb)
  }

  private poolFor (memMb: number): PoolEntry {
    let entry = this.pools.get(memMb)
    if (entry == null) {
      const pool = new Piscina({
        filename: WORKER,
        minThreads: 0,
        maxThreads: this.init.maxThreads,
        idleTimeout: this.init.idleMs,
        resourceLimits: { maxOldGenerationSizeMb: memMb },
        // a task must be able to keep async work (ports, timers) going between messages
        atomics: 'disabled'
      })
      pool.on('message', this.onWorkerMessage)
      entry = { pool, memMb, active: 0, used: this.clock.now() }
      this.pools.set(memMb, entry)
      this.log.debug({ mem_mb: memMb }, 'opened a JS worker pool')
    }
    entry.used = this.clock.now()
    // counted before evicting: the pool just opened for this call is busy, not idle
    entry.active++
    this.evict()
    return entry
  }

  /** Closes least recently used idle pools beyond `maxPools`. */
  private evict (): void {
    if (this.pools.size <= this.init.maxPools) return
    const idle = [...this.pools.values()].filter(e => e.active === 0).sort((a, b) => a.used - b.used)
    for (const e of idle) {
      if (this.pools.size <= this.init.maxPools) break
      this.pools.delete(e.memMb)
      this.log.debug({ mem_mb: e.memMb }, 'closed a JS worker pool (LRU)')
      void e.pool.destroy().catch(() => {})
    }
  }

  async run (module: ModuleSpec, call: ModuleCall, options: ModuleCallOptions = {}): Promise<ModuleResult> {
    if (this.closed) throw new ModuleCrashedError('the JS worker pools are closed')
    options.signal?.throwIfAborted()
    this.tmpDir ??= newRunnerDir(this.tmpRoot, 'thread')
    // the worker makes it if the module reads context.tmpdir
    const stepDir = stepDirPath(this.tmpDir)
    let stepDirMade: boolean | undefined
    const limits = call.limits
    const what = `module ${module.key}`
    const kill = new AbortController()
    let breach: Error | undefined
    let tid: number | undefined
    let cpuAtKill: number | undefined
    let cpuStart: number | undefined
    // processes the step started die with it, before its worker thread does (their parent thread must still exist to find them)
    const killChildren = (): void => { if (tid != null) killThreadTree(tid) }
    const killWith = (err: Error): void => {
      if (breach != null) return
      breach = err
      killChildren()
      kill.abort(err)
    }
    const stopwatch = new Stopwatch(limits.wall_ms, (elapsed) => {
      cpuAtKill = cpuNow()
      killWith(wallExceeded(limits.wall_ms, elapsed, what))
    }, () => cpuNow(), this.clock)
    const cpuNow = (): number | undefined => {
      if (tid == null || cpuStart == null) return undefined
      const c = threadCpuMs(tid)
      return c == null ? undefined : c - cpuStart
    }
    let cpuTimer: NodeJS.Timeout | undefined
    const id = ++this.nextTask
    if (this.channel == null) {
      this.channel = new BroadcastChannel(this.channelName)
      this.channel.unref()
    }
    const channel = this.channel
    const post = (m: MainToWorker): void => { try { channel.postMessage({ plTask: id, m } satisfies TaggedMessage<MainToWorker>) } catch {} }
    let graceTimer: NodeJS.Timeout | undefined
    const onAbort = (): void => {
      const reason = options.signal?.reason as Error
      post({ t: 'abort', reason: errorToData(reason) })
      graceTimer = setTimeout(() => { cpuAtKill = cpuNow(); killWith(reason) }, this.init.cancelGraceMs)
    }
    options.signal?.addEventListener('abort', onAbort, { once: true })

    this.steps.set(id, (m: WorkerToMain) => {
      switch (m.t) {
        case 'started':
          tid = m.tid
          // the worker read its CPU clock as the step began; /proc only when it could not
          if (tid != null) cpuStart = m.cpu0 ?? threadCpuMs(tid)
          stopwatch.start()
          if (limits.cpu_ms != null && cpuStart != null) {
            cpuTimer = setInterval(() => {
              const used = cpuNow()
              if (used != null && used > (limits.cpu_ms as number)) {
                cpuAtKill = used
                killWith(cpuExceeded(limits.cpu_ms as number, used, what))
              }
            }, CPU_POLL_MS)
          }
          break
        case 'progress':
          options.onProgress?.(m.n, m.total, m.message)
          break
        case 'log':
          options.log?.[m.level]({ module: module.key, data: m.data }, m.msg)
          break
        case 'call':
          void reply(m.id, async () => await serveAddonCall(options, what, m.kind, m.name, m.data))
          break
        case 'ask':
          void reply(m.id, async () => await serveQuestion(options, what, m.question, stopwatch, () => breach == null))
          break
      }
    })
    const reply = async (id: number, fn: () => Promise<unknown>): Promise<void> => {
      try {
        post({ t: 'reply', id, ok: true, value: await fn() })
      } catch (err) {
        const error: ErrorData = errorToData(err)
        post({ t: 'reply', id, ok: false, error })
      }
    }

    const task: JsThreadTask = {
      module: { cid: module.cid, entry: module.entry, key: module.key },
      ctor: { name: call.name ?? module.key, settings: call.settings ?? {}, parameters: call.parameters ?? {}, globalSettings: call.globalSettings ?? {}, globalParameters: call.globalParameters ?? {} },
      parameters: call.parameters ?? {},
      inputData: call.inputData ?? {},
      step: call.step ?? { runId: '', key: module.key, attempt: 1 },
      tmpdir: stepDir,
      id,
      channel: this.channelName
    }
    const entry = this.poolFor(limits.mem_mb)
    const t0 = performance.now()
    try {
      let result: JsTaskResult
      try {
        result = await entry.pool.run(task, { signal: kill.signal })
      } catch (err) {
        const wall = stopwatch.elapsed() || performance.now() - t0
        const usage: Usage = { cpu_ms: round(cpuAtKill ?? cpuNow() ?? 0), wall_ms: round(wall), mem_peak_mb: limits.mem_mb }
        if (breach != null) throw withUsage(breach, usage)
        const e = err as Error & { code?: string }
        if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') throw withUsage(memExceeded(limits.mem_mb, undefined, what, 'JS heap'), usage)
        if (/worker exited/i.test(e.message)) {
          throw withUsage(new ModuleCrashedError(`${what} ended its worker thread (${e.message}); modules must return from eval(), not exit`, { module: module.key }), { ...usage, mem_peak_mb: 0 })
        }
        throw withUsage(new ModuleCrashedError(`${what}: its worker failed: ${e.message}`, { module: module.key }), { ...usage, mem_peak_mb: 0 })
      }
      stepDirMade = result.tmpdir
      const usage: Usage = { cpu_ms: round(result.usage.cpu_ms), wall_ms: round(result.usage.wall_ms), mem_peak_mb: round(result.usage.heap_mb) }
      if (!result.ok) throw withUsage(rebuildExecError(result.error), usage)
      if (options.signal?.aborted === true) throw options.signal.reason
      return { output: result.output, usage }
    } finally {
      killChildren()
      // a step killed or failed in its worker may have made it without saying so
      if (stepDirMade !== false) await removeDir(stepDir)
      entry.active--
      entry.used = this.clock.now()
      stopwatch.clear()
      clearInterval(cpuTimer)
      clearTimeout(graceTimer)
      options.signal?.removeEventListener('abort', onAbort)
      this.steps.delete(id)
      this.evict()
    }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    const all = [...this.pools.values()]
    this.pools.clear()
    await Promise.allSettled(all.map(async e => { await e.pool.destroy() }))
    this.channel?.close()
    await removeDir(this.tmpDir)
  }
}
