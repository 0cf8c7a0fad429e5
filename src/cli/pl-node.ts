#!/usr/bin/env node
/**
 * `pl-node`: the daemon. `pl-node start` runs one mesh peer until SIGINT or
 * SIGTERM (a second signal forces exit); `pl-node id` prints the identity.
 */
import './require-node.js'
import { Command, Option } from 'commander'
import { loadConfig, DEFAULT_LISTEN } from './config.js'
import { action, fail } from './util.js'
import { ControlClient } from '../api/client.js'
import { createLogger } from '../core/logger.js'
import { loadOrCreateIdentity } from '../core/identity.js'
import { PlNode } from '../node.js'
import { daemonServices } from '../services.js'

const program = new Command('pl-node')
  .description('A node of the Pervasive.link mesh: finds capabilities, negotiates work, runs it and signs receipts.\nConfiguration precedence: flags > environment (PL_*) > config file > defaults.')
  .showHelpAfterError()

program.command('start')
  .description('Run the node until SIGINT/SIGTERM. The first signal stops gracefully (withdraws ads, finishes journal writes); a second forces exit.')
  .option('-d, --data-dir <dir>', 'data directory: identity key, LevelDB, control.json (env PL_DATA_DIR, default ~/.pl-node)')
  .option('-l, --listen <multiaddr...>', `addresses to listen on (env PL_LISTEN, comma-separated; default ${DEFAULT_LISTEN.join(' ')})`)
  .option('-b, --bootstrap <multiaddr...>', 'peers to join through, each a multiaddr ending in /p2p/<peerId> (env PL_BOOTSTRAP)')
  .option('-c, --config <file>', 'config file, JSON or YAML, with the same keys in camelCase plus a "services" section (env PL_CONFIG)')
  .option('--control-port <port>', 'port of the local control API on 127.0.0.1 (env PL_CONTROL_PORT; default 0 = any free port, written to <data-dir>/control.json)')
  .addOption(new Option('--log-level <level>', 'log level (env PL_LOG_LEVEL, default info)').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']))
  .option('--local-swarm', 'raise connection limits for many nodes on one host (env PL_LOCAL_SWARM)')
  .option('--api-listen <host:port>', 'serve the agent gateway (HTTP/JSON, WebSocket, OpenAPI at /openapi.json) on this address, any interface (env PL_API_LISTEN, config api.listen; default off; see docs/GATEWAY.md)')
  .option('--no-gossip', 'do not join gossip topics: capability discovery through the DHT only, no open calls for proposals (env PL_GOSSIP=false)')
  .action(action(async (opts: Record<string, unknown>) => {
    const flags: Record<string, unknown> = { ...opts }
    if (opts.gossip === true) delete flags.gossip // commander sets the default; only an explicit --no-gossip counts
    const config = await loadConfig(flags as any)
    const logger = createLogger({ level: config.logLevel as any })
    const node = await PlNode.create({
      dataDir: config.dataDir,
      listen: config.listen,
      bootstrap: config.bootstrap,
      controlPort: config.controlPort,
      localSwarm: config.localSwarm,
      gossip: config.gossip,
      logger,
      services: daemonServices(config)
    })
    let stopping = false
    const shutdown = (signal: string): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: forcing exit')
        process.exit(130)
      }
      stopping = true
      logger.info({ signal }, 'stopping (send the signal again to force)')
      node.stop().then(() => { logger.flush?.(); process.exitCode = 0 }, (err) => { logger.error({ err }, 'error while stopping'); process.exitCode = 1 })
    }
    process.on('SIGINT', () => { shutdown('SIGINT') })
    process.on('SIGTERM', () => { shutdown('SIGTERM') })
    await node.start()
    process.stdout.write(JSON.stringify({ event: 'started', peerId: node.peerId, addrs: node.addrs(), control: node.components.api?.address, gateway: (node.components.services.gateway as { address?: string } | undefined)?.address }) + '\n')
  }))

program.command('id')
  .description('Print the PeerId, public key and addresses: the running node\'s actual ones when a pl-node runs on the data dir, else the configured listen addresses (creates the identity key on first use).')
  .option('-d, --data-dir <dir>', 'data directory (env PL_DATA_DIR, default ~/.pl-node)')
  .option('-c, --config <file>', 'config file (env PL_CONFIG)')
  .option('--json', 'print JSON')
  .action(action(async (opts: { dataDir?: string, config?: string, json?: boolean }) => {
    const config = await loadConfig({ dataDir: opts.dataDir, config: opts.config })
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
