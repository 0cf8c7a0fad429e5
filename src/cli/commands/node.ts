/**
 * `pl status` and `pl peers`: the operator's first questions about the
 * pl-node running on the data dir — who it is, where it listens, whom it
 * talks to, what it publishes and runs, and what is wrong.
 *
 * @example
 * pl status --data-dir /tmp/pl-a
 * pl peers --json
 */
import type { Command } from 'commander'
import { requireDaemon } from '../daemon.js'
import { action, printJson, resolveDataDir } from '../util.js'

interface Health { peerId: string, addrs: string[], peers: number, uptimeMs: number, warnings?: string[], services?: Record<string, Record<string, unknown>> }
interface Peer { peerId: string, addr: string, direction: string, openedAt?: number, limited?: boolean }

function duration (ms: number): string {
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}

export function register (program: Command): void {
  program.command('status')
    .description('The running pl-node of the data dir: peer id, addresses, peers, published capabilities, catalog size, active runs and warnings')
    .option('-d, --data-dir <dir>', 'data directory of the running pl-node (env PL_DATA_DIR)')
    .option('--json', 'print JSON')
    .action(action(async (opts: { dataDir?: string, json?: boolean }) => {
      const node = await requireDaemon(opts.dataDir)
      const health = await node.request<Health>('GET', '/health')
      const [peers, caps, runs] = await Promise.all([
        node.request<Peer[]>('GET', '/peers'),
        node.request<any[]>('GET', '/caps/local').catch(() => undefined),
        node.request<any[]>('GET', '/runs').catch(() => undefined)
      ])
      const active = (runs ?? []).filter(r => r.state === 'running' || r.state === 'waiting-human')
      const catalog = health.services?.discovery?.catalog
      const warnings = health.warnings ?? []
      if (opts.json === true) {
        printJson({ dataDir: resolveDataDir(opts.dataDir), control: node.url, ...health, peerList: peers, capabilities: caps, catalog, activeRuns: active })
        return
      }
      const lines = [
        `peer id       ${health.peerId}`,
        `data dir      ${resolveDataDir(opts.dataDir)}  (control API ${node.url}, up ${duration(health.uptimeMs)})`,
        'addresses' + (health.addrs.length === 0 ? '     none' : ''),
        ...health.addrs.map(a => `  ${a}`),
        `peers         ${peers.length}${peers.length > 0 ? '' : ' (alone: start others with --bootstrap <one of the addresses above>)'}`,
        ...peers.slice(0, 10).map(p => `  ${p.peerId}  ${p.addr}  ${p.direction}`),
        ...(peers.length > 10 ? [`  … ${peers.length - 10} more (pl peers)`] : []),
        `capabilities  ${caps == null ? 'n/a (no discovery service)' : caps.length === 0 ? 'none published (pl cap publish <folder>)' : String(caps.length)}`,
        ...(caps ?? []).map(c => `  ${String(c.descriptor?.name)}@${String(c.descriptor?.version)}  ${String(c.cid)}${c.active === false ? `  INACTIVE: ${String(c.problem)}` : ''}`),
        `catalog       ${catalog == null ? 'n/a' : `${String(catalog)} entr${catalog === 1 ? 'y' : 'ies'} heard from peers`}`,
        `runs          ${runs == null ? 'n/a' : active.length === 0 ? `none active (${runs.length} journaled)` : `${active.length} active`}`,
        ...active.map(r => `  ${String(r.id)}  ${String(r.state)}  ${String(r.name)}`),
        `warnings      ${warnings.length === 0 ? 'none' : String(warnings.length)}`,
        ...warnings.map(w => `  ! ${w}`)
      ]
      process.stdout.write(lines.join('\n') + '\n')
    }))

  program.command('peers')
    .description('Open connections of the running pl-node: peer id, remote address, direction, since when')
    .option('-d, --data-dir <dir>', 'data directory of the running pl-node (env PL_DATA_DIR)')
    .option('--json', 'print JSON')
    .action(action(async (opts: { dataDir?: string, json?: boolean }) => {
      const peers = await (await requireDaemon(opts.dataDir)).request<Peer[]>('GET', '/peers')
      if (opts.json === true) { printJson(peers); return }
      if (peers.length === 0) { process.stdout.write('no peers\n'); return }
      for (const p of peers) process.stdout.write(`${p.peerId}  ${p.addr}  ${p.direction}${p.openedAt != null ? `  since ${new Date(p.openedAt).toISOString()}` : ''}${p.limited === true ? '  relayed' : ''}\n`)
    }))
}
