/**
 * What the composition root (src/services.ts) reads of the daemon
 * configuration, below the CLI that loads it (src/cli/config.ts: flags >
 * environment > file > defaults), so that the root never imports cli/.
 */
import { PlError } from '../core/errors.js'
import type { Network } from '../net/network.js'

/** A flag, environment variable, config-file value or `services.<name>` section is invalid. */
export class ConfigError extends PlError {
  override name = 'ConfigError'
}

export interface DaemonConfig {
  dataDir: string
  listen: string[]
  bootstrap: string[]
  /** accept bootstrap addresses without /p2p/<peerId> (trusted networks such as a compose network) */
  learnBootstrapIds?: boolean
  controlPort: number
  logLevel: string
  localSwarm: boolean
  gossip: boolean
  /** `--network`: a name under networks/ or a network file (src/net/network.ts); its name scopes the DHT and gossip */
  network?: string
  /** the loaded network, when `network` is set */
  networkInfo?: Network
  /** addresses to announce instead of the listen addresses (a public host behind a port forward) */
  announce?: string[]
  /** addresses never announced (prefixes or `/ipcidr/` ranges); default from the network file */
  noAnnounce?: string[]
  /** serve circuit relay v2 (bootstrap/relay nodes on public hosts) */
  relayServer?: boolean
  /** relays to reserve a slot on; default from the network file */
  relays?: string[]
  /** AutoNAT; default from the network file, else off */
  autonat?: boolean
  /** DCUtR; default from the network file, else off */
  dcutr?: boolean
  /** close connections that stop answering pings; default from the network file, else off */
  connectionMonitor?: boolean
  /** true when `listen` is the built-in default (no flag, env or file set it): busy default ports then give way to free ones */
  listenIsDefault?: boolean
  /** sections read by the services: discovery, exec (incl. exec.addons), negotiation, capabilities (see src/services.ts) */
  services: Record<string, unknown>
  /** the agent gateway (src/gateway): `listen` (HOST:PORT; also --api-listen / PL_API_LISTEN), keys, limits */
  api?: Record<string, unknown>
}

