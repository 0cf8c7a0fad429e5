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

/** How long the probe may take (one exec of setpriv + unshare + true). */
const PROBE_TIMEOUT_MS = 10_000

/**
 * Finds out whether PID namespaces work here by running `true` in one.
 * `wanted` forces a mode ('process-group' never probes).
 */
export async function probeContainment (wanted: ContainmentMode | 'auto' = 'auto'): Promise<Containment> {
  if (wanted === 'process-group') return { mode: 'process-group', prefix: [], reason: 'configured' }
  if (process.platform !== 'linux') return { mode: 'process-group', prefix: [], reason: `PID namespaces are Linux only (this is ${process.platform})` }
  return await new Promise<Containment>((resolve) => {
    execFile(PID_NAMESPACE_PREFIX[0], [...PID_NAMESPACE_PREFIX.slice(1), 'true'], { timeout: PROBE_TIMEOUT_MS }, (err, _stdout, stderr) => {
      if (err == null) { resolve({ mode: 'pid-namespace', prefix: PID_NAMESPACE_PREFIX }); return }
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'setpriv/unshare (util-linux) not found' : (stderr.trim() !== '' ? stderr.trim() : err.message)
      resolve({ mode: 'process-group', prefix: [], reason: `cannot create a PID namespace: ${why.slice(0, 300)}` })
    })
  })
}
