/**
 * The daemon's process life around `PlNode`: its pid file, `pl-node start
 * --detach` (returns once the node is ready), `pl-node stop`, the
 * parent-death watchdog (`--exit-with-parent`) and, for `pl`, finding the
 * node of a data dir — waiting a little while one is still starting.
 *
 * @example
 * const client = await connectDaemon('/tmp/pl-a')   // undefined when no node runs there
 */
import { spawn } from 'node:child_process'
import { openSync, closeSync, readFileSync } from 'node:fs'
import { mkdir, readFile, writeFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { ControlClient } from '../api/client.js'
import { CONTROL_FILE } from '../api/control-file.js'
import { ControlApiUnavailableError } from '../api/errors.js'
import { PlError } from '../core/errors.js'
import { processAlive } from '../core/process.js'
import { resolveDataDir } from './util.js'

/** `<data-dir>/pl-node.pid`: the pid of the pl-node using the data dir, present while it runs. */
export const PID_FILE = 'pl-node.pid'
/** `<data-dir>/pl-node.log`: stderr of a `--detach`ed node. */
export const LOG_FILE = 'pl-node.log'
/** How long `pl` waits for a starting node's control API. @default 10 s */
export const START_WAIT_MS = 10_000
/** How long `pl-node start --detach` waits for the node to be ready. @default 60 s */
export const DETACH_TIMEOUT_MS = 60_000
/** How long `pl-node stop` waits for a graceful exit before saying so. @default 30 s */
export const STOP_TIMEOUT_MS = 30_000

/** `pl-node start --detach` saw the node exit, or not start in time. */
export class DaemonStartError extends PlError {
  override name = 'DaemonStartError'
}

/** `pl-node stop`: the node did not exit within the timeout after SIGTERM. */
export class DaemonStopTimeoutError extends PlError {
  override name = 'DaemonStopTimeoutError'
}

const alive = processAlive

/** The pid in the data dir's pid file when that process still lives. */
export async function runningPid (dataDir: string): Promise<number | undefined> {
  let text: string
  try {
    text = await readFile(join(dataDir, PID_FILE), 'utf8')
  } catch {
    return undefined
  }
  const pid = Number(text.trim())
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined
}

/**
 * Writes this process's pid unless another live pl-node already holds the
 * file (then the store's lock refuses this start anyway). Returns a release
 * that removes the file only if it still names this process.
 */
export async function claimPidFile (dataDir: string): Promise<() => void> {
  const file = join(dataDir, PID_FILE)
  await mkdir(dataDir, { recursive: true })
  const other = await runningPid(dataDir)
  if (other != null && other !== process.pid) return () => {}
  await writeFile(file, `${process.pid}\n`)
  return () => {
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) void rm(file, { force: true })
    } catch {}
  }
}

/**
 * Calls `onGone` once the process that started this one has exited
 * (reparenting changes our ppid on Linux; elsewhere the old parent pid stops
 * answering). Polls every `intervalMs`; the timer is unref'd. Returns a stop.
 */
export function watchParent (onGone: () => void, intervalMs = 500): () => void {
  const parent = process.ppid
  const currentParent = (): number | undefined => {
    try {
      // /proc/self/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after the last ')'
      const stat = readFileSync('/proc/self/stat', 'utf8')
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    } catch {
      return undefined
    }
  }
  const timer = setInterval(() => {
    const now = currentParent()
    const gone = now != null ? now !== parent : !alive(parent)
    if (gone) {
      clearInterval(timer)
      onGone()
    }
  }, intervalMs)
  timer.unref()
  return () => { clearInterval(timer) }
}

export interface DetachedInfo { pid: number, peerId: string, addrs: string[], control?: string, logFile: string }

/**
 * Starts `pl-node start <args>` in the background (its own session, stderr
 * to `<data-dir>/pl-node.log`) and resolves once it printed its `started`
 * line; rejects with the node's own error line when it exits first.
 */
export async function startDetached (entry: string, args: string[], dataDir: string, timeoutMs = DETACH_TIMEOUT_MS): Promise<DetachedInfo> {
  await mkdir(dataDir, { recursive: true })
  const logFile = join(dataDir, LOG_FILE)
  const fd = openSync(logFile, 'a')
  const child = spawn(process.execPath, [...process.execArgv, entry, 'start', ...args], { detached: true, stdio: ['ignore', 'pipe', fd] })
  closeSync(fd)
  const lastError = async (): Promise<string> => {
    const text = await readFile(logFile, 'utf8').catch(() => '')
    const lines = text.trim().split('\n')
    return [...lines].reverse().find(l => l.startsWith('error: ')) ?? lines.slice(-3).join('\n')
  }
  try {
    return await new Promise<DetachedInfo>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new DaemonStartError(`pl-node (pid ${String(child.pid)}) did not report started within ${timeoutMs} ms; see ${logFile}`, { pid: child.pid, logFile })) }, timeoutMs)
      child.once('exit', (code) => {
        clearTimeout(timer)
        void lastError().then((line) => { reject(new DaemonStartError(`pl-node exited with ${String(code)} while starting: ${line.replace(/^error: /, '')} (log: ${logFile})`, { code, logFile })) })
      })
      createInterface({ input: child.stdout! }).on('line', (line) => {
        try {
          const ev = JSON.parse(line)
          if (ev.event === 'started') {
            clearTimeout(timer)
            resolve({ pid: child.pid!, peerId: ev.peerId, addrs: ev.addrs, control: ev.control, logFile })
          }
        } catch {}
      })
    })
  } finally {
    child.removeAllListeners('exit')
    child.stdout?.destroy()
    child.unref()
  }
}

/** SIGTERM to the data dir's pl-node, then waits for it to exit. Resolves with its pid, or undefined when none ran. */
export async function stopDaemon (dataDir: string, timeoutMs = STOP_TIMEOUT_MS): Promise<number | undefined> {
  const pid = await runningPid(dataDir)
  if (pid == null) {
    await rm(join(dataDir, PID_FILE), { force: true }) // stale
    return undefined
  }
  process.kill(pid, 'SIGTERM')
  // wall time on purpose: the CLI waits for another process and has no node, so no component clock
  const deadline = Date.now() + timeoutMs
  while (alive(pid)) {
    if (Date.now() > deadline) throw new DaemonStopTimeoutError(`pl-node (pid ${pid}) on ${dataDir} did not stop within ${timeoutMs} ms; run pl-node stop again to force it`, { pid })
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return pid
}

/**
 * The control client of the pl-node running on `dataDir`, or undefined when
 * none runs. When a node is starting (its pid file names a live process but
 * `control.json` is not written yet), waits up to `waitMs` for it, saying so
 * on stderr.
 */
export async function connectDaemon (dataDir: string, waitMs = Number(process.env.PL_START_WAIT_MS ?? START_WAIT_MS)): Promise<ControlClient | undefined> {
  const control = join(dataDir, CONTROL_FILE)
  const exists = async (): Promise<boolean> => await stat(control).then(() => true, () => false)
  if (!await exists()) {
    const pid = await runningPid(dataDir)
    if (pid == null) return undefined
    process.stderr.write(`pl-node (pid ${pid}) on ${dataDir} is starting; waiting up to ${Math.round(waitMs / 1000)} s for its control API…\n`)
    // wall time on purpose: the CLI waits for another process (no component clock here)
    const deadline = Date.now() + waitMs
    for (;;) {
      await new Promise(resolve => setTimeout(resolve, 100))
      if (await exists()) break
      if (await runningPid(dataDir) == null) return undefined
      if (Date.now() > deadline) throw new ControlApiUnavailableError(`pl-node (pid ${pid}) on ${dataDir} did not open its control API within ${Math.round(waitMs / 1000)} s; see its log`, { dataDir, pid })
    }
  }
  try {
    return await ControlClient.fromDataDir(dataDir)
  } catch (err) {
    if ((err as Error).name === 'ControlApiUnavailableError') return undefined
    throw err
  }
}

/** What `pl` commands that need a node talk to; errors of an unreachable node name the data dir. */
export interface DaemonHandle {
  url: string
  request: <T = any>(method: string, path: string, body?: unknown, timeoutMs?: number) => Promise<T>
  /** every page of a paged route (`x-pl-next-cursor`) */
  requestAll: <T = any>(method: 'GET' | 'POST', path: string, body?: Record<string, unknown>, options?: { timeoutMs?: number }) => Promise<T[]>
}

/** The data dir's running node; ControlApiUnavailableError "no pl-node is running on <dir>" when there is none. */
export async function requireDaemon (dataDirFlag?: string): Promise<DaemonHandle> {
  const dir = resolveDataDir(dataDirFlag)
  const notRunning = (why: string): ControlApiUnavailableError =>
    new ControlApiUnavailableError(`no pl-node is running on ${dir} (${why}); start one with: pl-node start --detach --data-dir ${dir}`, { dataDir: dir })
  const client = await connectDaemon(dir)
  if (client == null) throw notRunning('no control.json')
  const unavailable = (err: unknown): unknown => (err as Error).name === 'ControlApiUnavailableError' ? notRunning(`its control API at ${client.url} does not answer`) : err
  return {
    url: client.url,
    request: async (method, path, body, timeoutMs) => {
      try {
        return await client.request(method, path, body, { timeoutMs })
      } catch (err) {
        throw unavailable(err)
      }
    },
    requestAll: async (method, path, body, options) => {
      try {
        return await client.requestAll(method, path, body, options)
      } catch (err) {
        throw unavailable(err)
      }
    }
  }
}
