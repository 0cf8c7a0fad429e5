/**
 * `pl-node doctor`: what this machine lets a node enforce. Each check is a
 * `DoctorCheck` in a list; a new area adds its own checks to `DOCTOR_CHECKS`
 * (or passes its list to `runDoctor`). A check never throws: it reports
 * `ok`, `warn` (works, with less protection) or `fail` (a feature cannot work).
 *
 * @example
 * const report = await runDoctor()
 * report.checks.find(c => c.name === 'net-namespace')?.status // 'ok'
 */
import { execFile } from 'node:child_process'
import { probeContainment, probeNetNamespace } from '../../exec/index.js'

export type CheckStatus = 'ok' | 'warn' | 'fail'

export interface CheckResult {
  status: CheckStatus
  /** what was found, one line */
  detail: string
  /** what follows for the node, when not ok */
  consequence?: string
}

export interface DoctorCheck {
  /** stable id, e.g. `pid-namespace` */
  name: string
  /** what it checks, for people */
  title: string
  run: () => Promise<CheckResult>
}

export interface DoctorReport {
  ok: boolean
  checks: Array<{ name: string, title: string } & CheckResult>
}

/** How long one check may take before it counts as failed. */
const CHECK_TIMEOUT_MS = 20_000

/** Node's permission model refuses a child process when `--permission` is on. */
const PERMISSION_PROBE = "try { require('node:child_process').execFileSync('true'); process.exit(3) } catch (e) { process.exit(e.code === 'ERR_ACCESS_DENIED' ? 0 : 4) }"

export const SANDBOX_CHECKS: DoctorCheck[] = [
  {
    name: 'pid-namespace',
    title: 'steps in their own PID namespace (nothing a step starts outlives it)',
    run: async () => {
      const c = await probeContainment('auto')
      return c.mode === 'pid-namespace'
        ? { status: 'ok', detail: 'setpriv + unshare --pid --fork --kill-child work' }
        : { status: 'warn', detail: c.reason ?? 'no PID namespace', consequence: 'steps are contained by process group: a subprocess that calls setsid() can outlive its step' }
    }
  },
  {
    name: 'net-namespace',
    title: 'steps without network (policies with network: none)',
    run: async () => {
      const n = await probeNetNamespace()
      return n.ok
        ? { status: 'ok', detail: 'unshare --net works: network: none is enforced (only loopback)' }
        : { status: 'warn', detail: n.reason ?? 'no network namespace', consequence: 'steps under network: none fail with NetworkIsolationUnavailableError: do not offer capabilities under such a policy' }
    }
  },
  {
    name: 'permission-model',
    title: "Node's permission model for sandboxed JS modules",
    run: async () => await new Promise<CheckResult>((resolve) => {
      execFile(process.execPath, ['--permission', '-e', PERMISSION_PROBE], { timeout: CHECK_TIMEOUT_MS }, (err) => {
        resolve(err == null
          ? { status: 'ok', detail: `node ${process.version} --permission refuses child processes outside a grant` }
          : { status: 'fail', detail: `node ${process.version} --permission did not refuse a child process (${err.message.slice(0, 200)})`, consequence: 'sandboxed JS steps are not confined: run JS modules only with isolation: thread for modules you trust' })
      })
    })
  }
]

/** Every check `pl-node doctor` runs, in order. */
export const DOCTOR_CHECKS: DoctorCheck[] = [...SANDBOX_CHECKS]

export async function runDoctor (checks: DoctorCheck[] = DOCTOR_CHECKS): Promise<DoctorReport> {
  const results = await Promise.all(checks.map(async (c) => {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<CheckResult>((resolve) => { timer = setTimeout(() => { resolve({ status: 'fail', detail: `no answer within ${CHECK_TIMEOUT_MS} ms` }) }, CHECK_TIMEOUT_MS) })
    const r = await Promise.race([c.run().catch((err: Error): CheckResult => ({ status: 'fail', detail: err.message })), timeout])
    clearTimeout(timer)
    return { name: c.name, title: c.title, ...r }
  }))
  return { ok: results.every(r => r.status !== 'fail'), checks: results }
}

/** The report as lines for a terminal. */
export function formatDoctor (report: DoctorReport): string {
  return report.checks.map(c => `${c.status.padEnd(4)}  ${c.name.padEnd(18)} ${c.title}\n      ${c.detail}${c.consequence != null ? `\n      → ${c.consequence}` : ''}\n`).join('')
}
