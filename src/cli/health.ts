/**
 * `pl-node health`: a readiness probe for container health checks and
 * scripts. Asks the node running on the data dir (its control API) and exits
 * 0 only when it answers, has at least `minPeers` peers (default: 1 when
 * bootstrap peers are configured, else 0) and publishes every capability its
 * config lists (`services.capabilities`), active. Otherwise it prints what
 * is missing and exits 1.
 *
 * @example
 * pl-node health --data-dir /data            # healthy: 3 peers, 2 capabilities published
 */
import { ControlClient } from '../api/client.js'
import { parseOffers, readOffer } from '../offers.js'
import type { DaemonConfig } from './config.js'

export interface HealthReport {
  healthy: boolean
  peerId?: string
  peers: number
  capabilities: string[]
  problems: string[]
}

interface LocalCap { descriptor?: { name?: string, version?: string }, active?: boolean, problem?: string }

/** How long one probe waits for the control API. @default 5 s */
export const HEALTH_TIMEOUT_MS = 5_000

/** The names of the capabilities the config says this node publishes (`name@version`). */
export async function configuredCapabilities (config: DaemonConfig): Promise<string[]> {
  const out: string[] = []
  for (const offer of parseOffers(config.services?.capabilities)) {
    const { descriptor } = await readOffer(offer)
    out.push(`${String(descriptor.name)}@${String(descriptor.version)}`)
  }
  return out
}

export async function checkHealth (config: DaemonConfig, options: { minPeers?: number, timeoutMs?: number } = {}): Promise<HealthReport> {
  const minPeers = options.minPeers ?? (config.bootstrap.length > 0 ? 1 : 0)
  const timeoutMs = options.timeoutMs ?? HEALTH_TIMEOUT_MS
  const report: HealthReport = { healthy: false, peers: 0, capabilities: [], problems: [] }
  let client: ControlClient
  let health: { peerId?: string, peers?: number, warnings?: string[] }
  try {
    client = await ControlClient.fromDataDir(config.dataDir)
    health = await client.request('GET', '/health', undefined, { timeoutMs })
  } catch (err) {
    report.problems.push(`no pl-node answers on ${config.dataDir}: ${(err as Error).message.split('\n')[0]}`)
    return report
  }
  report.peerId = health.peerId
  report.peers = health.peers ?? 0
  if (report.peers < minPeers) {
    report.problems.push(`${report.peers} peer${report.peers === 1 ? '' : 's'}, need ${minPeers}${(health.warnings ?? []).length > 0 ? ` (${(health.warnings ?? []).join('; ')})` : ''}`)
  }
  const wanted = await configuredCapabilities(config)
  if (wanted.length > 0) {
    const local = await client.request<LocalCap[]>('GET', '/caps/local', undefined, { timeoutMs }).catch(() => [] as LocalCap[])
    const active = new Set(local.filter(c => c.active !== false).map(c => `${String(c.descriptor?.name)}@${String(c.descriptor?.version)}`))
    report.capabilities = wanted.filter(w => active.has(w))
    for (const w of wanted) if (!active.has(w)) report.problems.push(`capability ${w} is configured but not published`)
  }
  report.healthy = report.problems.length === 0
  return report
}
