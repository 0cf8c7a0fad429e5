/**
 * Spawns real `pl-node` / `pl` processes from the compiled output for
 * end-to-end tests.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { existsSync } from 'node:fs'

/** Compiled CLI entry points, next to this compiled helper. */
export const CLI_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli')
/** `pl-node` as users run it: the bundle `npm run build` makes (scripts/test.mjs makes it when the tsc output is newer) */
export const PL_NODE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bundle', 'pl-node.mjs')
export const PL = join(CLI_DIR, 'pl.js')

/** Tests run the bundled daemon: a missing bundle is a setup error, not a reason to test other code. */
function checkEntry (entry: string): void {
  if (entry === PL_NODE && !existsSync(PL_NODE)) throw new Error(`${PL_NODE} is missing: run npm run build (or node scripts/build-bundle.mjs after tsc); scripts/test.mjs makes it`)
}

export interface StartedInfo { peerId: string, addrs: string[], control?: string }

export interface NodeProcess {
  proc: ChildProcess
  info: StartedInfo
  stderr: () => string
  /** sends SIGTERM and resolves with the exit code */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

export interface StartOptions {
  /** run the node through this command, e.g. `['ip', 'netns', 'exec', 'ns1']` (test/helpers/netns.ts) */
  wrap?: string[]
  /** add `--local-swarm --listen /ip4/127.0.0.1/tcp/0` before `args` @default true */
  loopbackDefaults?: boolean
}

// a bound for a broken start, not a speed check: a loaded 2-core CI machine has taken over 30 s to start a node
export async function startNodeProcess (args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 180_000, options: StartOptions = {}): Promise<NodeProcess> {
  // --exit-with-parent: a test runner killed mid-test (SIGKILL, CI timeout) leaves no pl-node behind
  const defaults = options.loopbackDefaults === false ? ['--exit-with-parent'] : ['--local-swarm', '--exit-with-parent', '--listen', '/ip4/127.0.0.1/tcp/0']
  const wrap = options.wrap ?? []
  checkEntry(PL_NODE)
  const argv = [...wrap, process.execPath, PL_NODE, 'start', ...defaults, ...args]
  const proc = spawn(argv[0], argv.slice(1), {
    env: { ...process.env, PL_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let err = ''
  proc.stderr.on('data', (d: Buffer) => { err += d.toString(); if (err.length > 200_000) err = err.slice(-100_000) })
  const exited = new Promise<number | null>((resolve) => { proc.once('exit', (code) => { resolve(code) }) })
  const info = await new Promise<StartedInfo>((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`pl-node did not start within ${timeoutMs} ms:\n${err}`)) }, timeoutMs)
    const rl = createInterface({ input: proc.stdout })
    rl.on('line', (line) => {
      try {
        const ev = JSON.parse(line)
        if (ev.event === 'started') { clearTimeout(timer); resolve(ev) }
      } catch {}
    })
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`pl-node exited with ${String(code)} before starting:\n${err}`)) })
  })
  return {
    proc,
    info,
    stderr: () => err,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode == null && proc.signalCode == null) proc.kill(signal)
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000)
      const code = await exited
      clearTimeout(t)
      return code
    }
  }
}

export interface RunResult { code: number | null, stdout: string, stderr: string }

/** Runs a CLI (`pl` by default) to completion. */
export async function runCli (args: string[], options: { env?: NodeJS.ProcessEnv, entry?: string, timeoutMs?: number, input?: string } = {}): Promise<RunResult> {
  checkEntry(options.entry ?? PL)
  const proc = spawn(process.execPath, [options.entry ?? PL, ...args], { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  proc.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  proc.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  proc.stdin.end(options.input ?? '')
  const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs ?? 60_000)
  const code = await new Promise<number | null>((resolve) => { proc.once('exit', (c) => { resolve(c) }) })
  clearTimeout(timer)
  return { code, stdout, stderr }
}
