/**
 * `pl-node doctor [--data-dir DIR]`: runs every check in `DOCTOR_CHECKS`
 * against the configuration (and the node running on the data dir, when
 * one does) and prints each finding, problems with their fix. Exits 1 when a
 * check fails.
 *
 * @example
 * pl-node doctor --data-dir /data
 *   ok    data dir      /data is writable; pl-node pid 7 runs on it
 *   FAIL  identity key  /data/identity.key has mode 644: readable by others
 *         fix: chmod 600 /data/identity.key
 */
import { SANDBOX_CHECKS, runDoctor as runSandboxChecks } from './sandbox.js'
import { ControlClient } from '../../api/client.js'
import type { DaemonConfig } from '../config.js'
import { ENVIRONMENT_CHECKS } from './checks.js'
import type { DoctorCheck, Finding, RunningClock, RunningHealth } from './types.js'

/** Every check `pl-node doctor` runs, in order. Other areas append theirs here. */
/** The sandbox checks (src/cli/doctor/sandbox.ts: PID/network namespaces, permission model) as findings. */
export const SANDBOX_FINDINGS: DoctorCheck[] = SANDBOX_CHECKS.map(c => ({
  name: c.name,
  run: async () => {
    const r = (await runSandboxChecks([c])).checks[0]
    return [{ check: c.name, level: r.status, message: `${c.title}: ${r.detail}`, ...(r.status !== 'ok' && r.consequence != null ? { fix: r.consequence } : {}) }]
  }
}))

export const DOCTOR_CHECKS: DoctorCheck[] = [...ENVIRONMENT_CHECKS, ...SANDBOX_FINDINGS]

async function running (dataDir: string): Promise<{ health?: RunningHealth, clock?: RunningClock }> {
  let client: ControlClient
  try {
    client = await ControlClient.fromDataDir(dataDir)
  } catch {
    return {}
  }
  const [health, clock] = await Promise.all([
    client.request<RunningHealth>('GET', '/health', undefined, { timeoutMs: 5000 }).catch(() => undefined),
    // asks every connected peer (at most 16) for its time, 10 s at most each
    client.request<RunningClock>('GET', '/net/clock', undefined, { timeoutMs: 15_000 }).catch(() => undefined)
  ])
  return { health, clock }
}

export async function runDoctor (config: DaemonConfig, checks: DoctorCheck[] = DOCTOR_CHECKS): Promise<Finding[]> {
  const { health, clock } = await running(config.dataDir)
  const out: Finding[] = []
  for (const check of checks) {
    try {
      out.push(...await check.run({ config, health, clock }))
    } catch (err) {
      out.push({ check: check.name, level: 'fail', message: `the check itself failed: ${(err as Error).message}`, fix: 'report this with PL_DEBUG=1 output' })
    }
  }
  return out
}

export function renderFindings (findings: Finding[]): string {
  const width = Math.max(...findings.map(f => f.check.length), 5)
  return findings.map(f => {
    const level = f.level === 'ok' ? 'ok  ' : f.level === 'warn' ? 'warn' : 'FAIL'
    return `${level}  ${f.check.padEnd(width)}  ${f.message}${f.fix != null ? `\n${' '.repeat(width + 8)}fix: ${f.fix}` : ''}`
  }).join('\n') + '\n'
}
