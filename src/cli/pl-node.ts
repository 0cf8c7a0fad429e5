#!/usr/bin/env node
/**
 * `pl-node`: the daemon. `pl-node start` runs one mesh peer until SIGINT or
 * SIGTERM (a second signal forces exit); `pl-node id` prints the identity;
 * `pl-node doctor` reports what the machine lets the node enforce.
 */
import './require-node.js'
import { Command, Option } from 'commander'
import { loadConfig, netInit, DEFAULT_LISTEN } from './config.js'
import { action, fail } from './util.js'
import { ControlClient } from '../api/client.js'
import type { PlNode } from '../node.js'
import type { DaemonServices } from '../services.js'
import { claimPidFile, startDetached, stopDaemon, watchParent, PID_FILE, LOG_FILE } from './daemon.js'
import { VERSION } from './version.js'
import { resolveDataDir } from './util.js'
import { fileURLToPath } from 'node:url'

const program = new Command('pl-node')
  .description('A node of the Pervasive.link mesh: finds capabilities, negotiates work, runs it and signs receipts.\nConfiguration precedence: flags > environment (PL_*) > config file > defaults.')
  .version(VERSION, '-V, --version')
  .showHelpAfterError()

// a --detach'ed node outlives the pipe its `started` line went to
process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'EPIPE') throw err })

program.command('start')
  .description('Run the node until SIGINT/SIGTERM. The first signal stops gracefully (withdraws ads, finishes journal writes); a second forces exit.')
  .option('-d, --data-dir <dir>', 'data directory: identity key, LevelDB, control.json (env PL_DATA_DIR, default ~/.pl-node)')
  .option('-l, --listen <multiaddr...>', `addresses to listen on (env PL_LISTEN, comma-separated; default ${DEFAULT_LISTEN.join(' ')})`)
  .option('-b, --bootstrap <multiaddr...>', 'peers to join through, each a multiaddr ending in /p2p/<peerId> (env PL_BOOTSTRAP)')
  .option('--learn-bootstrap-ids', 'accept --bootstrap addresses without /p2p/<peerId>: take whoever answers there as the bootstrap (trusted networks only, e.g. a compose network; env PL_LEARN_BOOTSTRAP_IDS)')
  .option('-c, --config <file>', 'config file, JSON or YAML, with the same keys in camelCase plus a "services" section (env PL_CONFIG)')
  .option('--control-port <port>', 'port of the local control API on 127.0.0.1 (env PL_CONTROL_PORT; default 0 = any free port, written to <data-dir>/control.json)')
  .addOption(new Option('--log-level <level>', 'log level (env PL_LOG_LEVEL, default info)').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']))
  .option('--local-swarm', 'raise connection limits for many nodes on one host (env PL_LOCAL_SWARM)')
  .option('--api-listen <host:port>', 'serve the agent gateway (HTTP/JSON, WebSocket, OpenAPI at /openapi.json) on this address, any interface (env PL_API_LISTEN, config api.listen; default off; see docs/GATEWAY.md)')
  .option('--network <name|file>', 'join a named network (networks/<name>.yaml: bootstrap peers, relays, DHT and gossip names) or one described by a YAML/JSON file (env PL_NETWORK; see docs/TESTNET.md)')
  .option('--announce <multiaddr...>', 'announce these addresses to peers instead of the listen addresses, e.g. a public host\'s /ip4/PUBLIC_IP/tcp/4001 (env PL_ANNOUNCE)')
  .option('--dont-announce <multiaddr...>', 'never announce addresses matching these prefixes or ranges, e.g. /ip4/127.0.0.0/ipcidr/8 (env PL_NO_ANNOUNCE, config noAnnounce; default from the network file)')
  .option('--relay-server', 'relay connections for peers behind NAT (circuit relay v2; bootstrap/relay nodes on public hosts) (env PL_RELAY_SERVER)')
  .option('--relays <multiaddr...>', 'relays to reserve a slot on when behind NAT, each ending in /p2p/<peerId> (env PL_RELAYS; default from the network file)')
  .option('--no-gossip', 'do not join gossip topics: capability discovery through the DHT only, no open calls for proposals (env PL_GOSSIP=false)')
  .option('--detach', `run in the background: returns once the node is ready and prints its peer id and addresses; logs go to <data-dir>/${LOG_FILE}; stop it with pl-node stop`)
  .option('--exit-with-parent', 'stop when the process that started this one exits (env PL_EXIT_WITH_PARENT=1; used by the swarm launcher)')
  .action(action(async (opts: Record<string, unknown>) => {
    const flags: Record<string, unknown> = { ...opts }
    if (opts.gossip === true) delete flags.gossip // commander sets the default; only an explicit --no-gossip counts
    if (opts.dontAnnounce !== undefined) { flags.noAnnounce = opts.dontAnnounce; delete flags.dontAnnounce }
    const config = await loadConfig(flags)
    if (opts.detach === true) {
      const args = process.argv.slice(3).filter(a => a !== '--detach')
      if (opts.dataDir == null) args.push('--data-dir', config.dataDir)
      // the file this process was started from: the bundle's launcher (dist/bundle/pl-node.mjs) rather than the module holding this code
      const info = await startDetached(process.argv[1] ?? fileURLToPath(import.meta.url), args, config.dataDir)
      process.stdout.write(`pl-node started in the background (pid ${info.pid})\npeer id  ${info.peerId}\n${info.addrs.map(a => `addr     ${a}\n`).join('')}control  ${String(info.control)}\ndata     ${config.dataDir}\nlogs     ${info.logFile}\nstop with: pl-node stop --data-dir ${config.dataDir}\n`)
      return
    }
    // the node's modules (libp2p, fastify, …) load only for `start`: probes like `pl-node health` stay quick
    const [{ PlNode }, { daemonServices }, { createLogger }, { settleHeapWhenQuiet }] = await Promise.all([import('../node.js'), import('../services.js'), import('../core/logger.js'), import('./settle-heap.js')])
    const releasePid = await claimPidFile(config.dataDir)
    const logger = createLogger({ level: config.logLevel as any })
    const create = async (listen: string[]): Promise<PlNode<DaemonServices>> => {
      const n = await PlNode.create({
        dataDir: config.dataDir,
        listen,
        bootstrap: config.bootstrap,
        learnBootstrapIds: config.learnBootstrapIds,
        controlPort: config.controlPort,
        localSwarm: config.localSwarm,
        gossip: config.gossip,
        net: netInit(config),
        logger,
        services: daemonServices(config)
      })
      try {
        await n.start()
      } catch (err) {
        await n.stop().catch(() => {})
        throw err
      }
      return n
    }
    let node: PlNode<DaemonServices>
    try {
      try {
        node = await create(config.listen)
      } catch (err) {
        // only the built-in default ports give way; an address the operator chose fails loudly
        if ((err as Error).name !== 'ListenAddressInUseError' || !config.listenIsDefault) throw err
        const free = config.listen.map(a => a.replace(/\/tcp\/\d+/, '/tcp/0'))
        logger.warn({ busy: config.listen, listen: free }, `default ports are in use (${(err as Error).message.split(' is in use')[0]}): listening on free ports instead`)
        node = await create(free)
      }
    } catch (err) {
      releasePid()
      throw err
    }
    let stopping = false
    const shutdown = (signal: string): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: forcing exit')
        process.exit(130)
      }
      stopping = true
      logger.info({ signal }, 'stopping (send the signal again to force)')
      stopWatch?.()
      cancelSettle()
      node.stop().then(() => { releasePid(); logger.flush?.(); process.exitCode = 0 }, (err) => { releasePid(); logger.error({ err }, 'error while stopping'); process.exitCode = 1 })
    }
    process.on('SIGINT', () => { shutdown('SIGINT') })
    process.on('SIGTERM', () => { shutdown('SIGTERM') })
    const stopWatch = opts.exitWithParent === true || process.env.PL_EXIT_WITH_PARENT === '1'
      ? watchParent(() => { shutdown('parent exited') })
      : undefined
    // the start's garbage and grown young generation, given back once the node is quiet (docs/PERFORMANCE.md "Idle memory, third pass")
    const cancelSettle = settleHeapWhenQuiet({ onDone: (r) => { logger.debug(r, r.collected ? 'settled the heap after start' : 'heap not settled: the node stayed busy') } })
    process.stdout.write(JSON.stringify({ event: 'started', peerId: node.peerId, addrs: node.addrs(), control: node.components.api?.address, gateway: node.components.services.gateway.address }) + '\n')
  }))

program.command('stop')
  .description(`Stop the pl-node running on the data dir (found through <data-dir>/${PID_FILE}) gracefully and wait until it has exited.`)
  .option('-d, --data-dir <dir>', 'data directory (env PL_DATA_DIR, default ~/.pl-node)')
  .action(action(async (opts: { dataDir?: string }) => {
    const dataDir = resolveDataDir(opts.dataDir)
    const pid = await stopDaemon(dataDir)
    process.stdout.write(pid != null ? `stopped pl-node (pid ${pid}) on ${dataDir}\n` : `no pl-node is running on ${dataDir}\n`)
  }))

program.command('id')
  .description('Print the PeerId, public key and addresses: the running node\'s actual ones when a pl-node runs on the data dir, else the configured listen addresses (creates the identity key on first use).')
  .option('-d, --data-dir <dir>', 'data directory (env PL_DATA_DIR, default ~/.pl-node)')
  .option('-c, --config <file>', 'config file (env PL_CONFIG)')
  .option('--json', 'print JSON')
  .action(action(async (opts: { dataDir?: string, config?: string, json?: boolean }) => {
    const config = await loadConfig({ dataDir: opts.dataDir, config: opts.config })
    const { loadOrCreateIdentity } = await import('../core/index.js')
    const identity = await loadOrCreateIdentity(config.dataDir)
    const running = await runningAddrs(config.dataDir)
    const info = {
      peerId: identity.id,
      publicKey: Buffer.from(identity.publicKey).toString('base64'),
      running: running != null,
      listen: running ?? config.listen.map(a => `${a}/p2p/${identity.id}`)
    }
    if (opts.json === true) {
      process.stdout.write(JSON.stringify(info, null, 2) + '\n')
    } else {
      process.stdout.write(`peer id:    ${info.peerId}\npublic key: ${info.publicKey} (ed25519, base64)\n${running != null ? 'listening (running node):' : 'listen (configured; no node running):'}\n${info.listen.map(a => `  ${a}`).join('\n')}\n`)
    }
  }))

program.command('health')
  .description('Readiness probe (container health checks): exits 0 when the node running on the data dir answers, has peers (when it has bootstrap peers, or --min-peers) and publishes every capability its config lists; else prints what is missing and exits 1.')
  .option('-d, --data-dir <dir>', 'data directory (env PL_DATA_DIR, default ~/.pl-node)')
  .option('-c, --config <file>', 'config file of that node (env PL_CONFIG), for its bootstrap list and capabilities')
  .option('--min-peers <n>', 'peers needed (default: 1 when bootstrap peers are configured, else 0)')
  .option('--json', 'print JSON')
  .action(action(async (opts: { dataDir?: string, config?: string, minPeers?: string, json?: boolean }) => {
    const config = await loadConfig({ dataDir: opts.dataDir, config: opts.config })
    const minPeers = opts.minPeers != null ? Number(opts.minPeers) : undefined
    if (minPeers != null && !(Number.isInteger(minPeers) && minPeers >= 0)) throw new TypeError(`--min-peers must be a whole number ≥ 0, got ${String(opts.minPeers)}`)
    const { checkHealth } = await import('./health.js')
    const report = await checkHealth(config, { minPeers })
    if (opts.json === true) process.stdout.write(JSON.stringify(report, null, 2) + '\n')
    else if (report.healthy) process.stdout.write(`healthy: ${report.peers} peer${report.peers === 1 ? '' : 's'}, ${report.capabilities.length} configured capabilit${report.capabilities.length === 1 ? 'y' : 'ies'} published\n`)
    else process.stderr.write(`unhealthy:\n${report.problems.map(p => `  - ${p}`).join('\n')}\n`)
    process.exitCode = report.healthy ? 0 : 1
  }))

program.command('doctor')
  .description('Check this node\'s environment — data dir, identity key permissions, python3, listen ports, what the machine lets it enforce (PID and network namespaces, Node\'s permission model) and, when a node runs on the data dir, its peers, bootstrap peers, advertised addresses and clock skew — and print each problem with its fix. Exits 1 when a check fails.')
  .option('-d, --data-dir <dir>', 'data directory (env PL_DATA_DIR, default ~/.pl-node)')
  .option('-c, --config <file>', 'config file (env PL_CONFIG)')
  .option('--json', 'print JSON')
  .action(action(async (opts: { dataDir?: string, config?: string, json?: boolean }) => {
    const config = await loadConfig({ dataDir: opts.dataDir, config: opts.config })
    const { runDoctor, renderFindings } = await import('./doctor/index.js')
    const findings = await runDoctor(config)
    process.stdout.write(opts.json === true ? JSON.stringify(findings, null, 2) + '\n' : renderFindings(findings))
    process.exitCode = findings.some(f => f.level === 'fail') ? 1 : 0
  }))

/** The addresses of the pl-node running on `dataDir`, if one answers on its control API. */
async function runningAddrs (dataDir: string): Promise<string[] | undefined> {
  try {
    const client = await ControlClient.fromDataDir(dataDir)
    const health = await client.request<{ addrs?: string[] }>('GET', '/health', undefined, { timeoutMs: 2000 })
    return Array.isArray(health.addrs) ? health.addrs : undefined
  } catch {
    return undefined
  }
}

program.parseAsync(process.argv).catch(fail)
