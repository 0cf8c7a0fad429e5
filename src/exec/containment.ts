/**
 * How a step's processes are kept from outliving it, decided once per pool.
 *
 * `pid-namespace` (Linux, root or CAP_SYS_ADMIN, util-linux `setpriv` and
 * `unshare`): every Python runner starts as
 * `setpriv --pdeathsig KILL unshare --pid --fork --kill-child python3 runner.py`.
 * The runner's first process is the init of a fresh PID namespace: when it
 * dies the kernel kills every process in the namespace, also those that left
 * the process group (`start_new_session`) and also when the node is SIGKILLed
 * (each link of the chain has a parent-death signal). Between steps the
 * runner clears the namespace with `kill(-1, SIGKILL)`.
 *
 * `process-group` (anything else): the runner leads its own process group;
 * a kill reaches the group, a process that calls setsid() escapes. The pool
 * logs a warning saying so.
 *
 * A step under a policy with `network: none` also gets a fresh network
 * namespace (`unshare --net`): its only interface is its own loopback,
 * brought up by `ip link set lo up` (iproute2; without it the loopback stays
 * down, which refuses even more). The host's 127.0.0.1 is another namespace's
 * loopback and is unreachable too.
 */
import { execFile } from 'node:child_process'

export type ContainmentMode = 'pid-namespace' | 'process-group'

export interface Containment {
  mode: ContainmentMode
  /** argv put before the interpreter's own (empty for process-group) */
  prefix: string[]
  /** why the namespace could not be used (process-group only) */
  reason?: string
}

/** The wrapper that puts a process into its own PID namespace and ties it to its parent's life. */
export const PID_NAMESPACE_PREFIX = ['setpriv', '--pdeathsig', 'KILL', 'unshare', '--pid', '--fork', '--kill-child']

/**
 * The PID-namespace wrapper plus a network namespace: a shell brings the new
 * loopback up and `exec`s the runner, so the runner stays the namespace's PID 1.
 */
export const NET_NAMESPACE_PREFIX = [
  'setpriv', '--pdeathsig', 'KILL', 'unshare', '--pid', '--net', '--fork', '--kill-child',
  'sh', '-c', 'ip link set lo up 2>/dev/null; exec "$@"', 'sh'
]

/** The argv prefix of a runner: its containment's, or the network-less one when `network` is 'none' (PID namespaces only). */
export function runnerPrefix (c: Containment, network?: 'none'): string[] {
  return network === 'none' && c.mode === 'pid-namespace' ? NET_NAMESPACE_PREFIX : c.prefix
}

/** How long the probe may take (one exec of setpriv + unshare + true). */
const PROBE_TIMEOUT_MS = 10_000

/**
 * Finds out whether PID namespaces work here by running `true` in one.
 * `wanted` forces a mode ('process-group' never probes).
 */
export async function probeContainment (wanted: ContainmentMode | 'auto' = 'auto'): Promise<Containment> {
  if (wanted === 'process-group') return { mode: 'process-group', prefix: [], reason: 'configured' }
  if (process.platform !== 'linux') return { mode: 'process-group', prefix: [], reason: `PID namespaces are Linux only (this is ${process.platform})` }
  const why = await tryRun([...PID_NAMESPACE_PREFIX, 'true'])
  if (why == null) return { mode: 'pid-namespace', prefix: PID_NAMESPACE_PREFIX }
  return { mode: 'process-group', prefix: [], reason: `cannot create a PID namespace: ${why.includes('not found') ? 'setpriv/unshare (util-linux) not found' : why}` }
}

/** Runs `argv` once; resolves with why it failed, or undefined when it worked. */
async function tryRun (argv: string[]): Promise<string | undefined> {
  return await new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { timeout: PROBE_TIMEOUT_MS }, (err, _stdout, stderr) => {
      if (err == null) { resolve(undefined); return }
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${argv[0]} not found` : (stderr.trim() !== '' ? stderr.trim() : err.message)
      resolve(why.slice(0, 300))
    })
  })
}

/** Whether a step can be given a network namespace of its own (`network: none`); the reason when not. */
export async function probeNetNamespace (): Promise<{ ok: boolean, reason?: string }> {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces are Linux only (this is ${process.platform})` }
  const why = await tryRun([...NET_NAMESPACE_PREFIX, 'true'])
  return why == null ? { ok: true } : { ok: false, reason: `cannot create a network namespace: ${why}` }
}
