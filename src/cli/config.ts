/**
 * Daemon configuration: flags > environment (PL_*) > config file (JSON or
 * YAML) > defaults. Every key, its flag, env var and default in one table.
 */
import { readFile } from 'node:fs/promises'
import { parse as parseYaml } from 'yaml'
import { ConfigError, type DaemonConfig } from '../config/index.js'
import { resolveDataDir } from './util.js'
import { loadNetwork } from '../net/network.js'
import type { PlNodeInit } from '../node.js'

// below the composition root (src/services.ts reads them); re-exported for the rest of the CLI
export { ConfigError, type DaemonConfig }

interface Key {
  key: keyof DaemonConfig
  env: string
  kind: 'string' | 'list' | 'int' | 'bool'
}

const KEYS: Key[] = [
  { key: 'dataDir', env: 'PL_DATA_DIR', kind: 'string' },
  { key: 'listen', env: 'PL_LISTEN', kind: 'list' },
  { key: 'bootstrap', env: 'PL_BOOTSTRAP', kind: 'list' },
  { key: 'learnBootstrapIds', env: 'PL_LEARN_BOOTSTRAP_IDS', kind: 'bool' },
  { key: 'controlPort', env: 'PL_CONTROL_PORT', kind: 'int' },
  { key: 'logLevel', env: 'PL_LOG_LEVEL', kind: 'string' },
  { key: 'localSwarm', env: 'PL_LOCAL_SWARM', kind: 'bool' },
  { key: 'gossip', env: 'PL_GOSSIP', kind: 'bool' },
  { key: 'network', env: 'PL_NETWORK', kind: 'string' },
  { key: 'announce', env: 'PL_ANNOUNCE', kind: 'list' },
  { key: 'noAnnounce', env: 'PL_NO_ANNOUNCE', kind: 'list' },
  { key: 'relayServer', env: 'PL_RELAY_SERVER', kind: 'bool' },
  { key: 'relays', env: 'PL_RELAYS', kind: 'list' },
  { key: 'autonat', env: 'PL_AUTONAT', kind: 'bool' },
  { key: 'dcutr', env: 'PL_DCUTR', kind: 'bool' },
  { key: 'connectionMonitor', env: 'PL_CONNECTION_MONITOR', kind: 'bool' }
]

/** Keys a network file provides when nothing above it set them. */
const FROM_NETWORK = ['bootstrap', 'relays', 'noAnnounce', 'autonat', 'dcutr', 'connectionMonitor'] as const

/** `api.listen` is also a flag and an env var (the gateway checks the value) */
const API_LISTEN = { flag: 'apiListen', env: 'PL_API_LISTEN' }

export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws']

function coerce (k: Key, value: unknown, origin: string): unknown {
  switch (k.kind) {
    case 'string':
      if (typeof value !== 'string' || value === '') throw new ConfigError(`${origin}: ${k.key} must be a non-empty string`)
      return value
    case 'list': {
      const list = Array.isArray(value) ? value : String(value).split(/[,\s]+/)
      const out = list.map(String).filter(s => s.length > 0)
      for (const a of out) if (!a.startsWith('/')) throw new ConfigError(`${origin}: ${k.key} entry "${a}" is not a multiaddr (must start with /)`)
      return out
    }
    case 'int': {
      const n = typeof value === 'number' ? value : Number(value)
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${origin}: ${k.key} must be a port number 0-65535, got ${String(value)}`)
      return n
    }
    case 'bool':
      if (typeof value === 'boolean') return value
      if (['1', 'true', 'yes', 'on'].includes(String(value).toLowerCase())) return true
      if (['0', 'false', 'no', 'off'].includes(String(value).toLowerCase())) return false
      throw new ConfigError(`${origin}: ${k.key} must be true or false, got ${String(value)}`)
  }
}

export async function readConfigFile (path: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    throw new ConfigError(`cannot read config file ${path}: ${err.code ?? err.message}`)
  }
  try {
    const doc = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text)
    if (doc == null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('top level must be a mapping')
    return doc as Record<string, unknown>
  } catch (err: any) {
    throw new ConfigError(`config file ${path} is not valid: ${err.message}`)
  }
}

/** Merges the layers; `flags` holds only options the user actually gave. */
export async function loadConfig (flags: Partial<Record<keyof DaemonConfig, unknown>> & { config?: string, apiListen?: unknown }, env: NodeJS.ProcessEnv = process.env): Promise<DaemonConfig> {
  const configPath = flags.config ?? env.PL_CONFIG
  const file = configPath != null ? await readConfigFile(configPath) : {}
  const known = new Set<string>([...KEYS.map(k => k.key), 'services', 'api', 'trust'])
  for (const key of Object.keys(file)) if (!known.has(key)) throw new ConfigError(`config file ${String(configPath)}: unknown key "${key}" (known: ${[...known].join(', ')})`)
  const out: Record<string, unknown> = {
    listen: DEFAULT_LISTEN,
    bootstrap: [],
    learnBootstrapIds: false,
    controlPort: 0,
    logLevel: 'info',
    localSwarm: false,
    gossip: true,
    announce: [],
    noAnnounce: [],
    relayServer: false,
    relays: [],
    autonat: false,
    dcutr: false,
    connectionMonitor: false,
    // `trust:` at the top level (trusted issuers, policy aliases) is the trust service's section
    services: file.trust != null ? { ...(file.services ?? {}), trust: file.trust } : file.services ?? {},
    api: file.api != null && typeof file.api === 'object' && !Array.isArray(file.api) ? { ...(file.api as Record<string, unknown>) } : file.api ?? {}
  }
  const given = new Set<string>()
  for (const k of KEYS) {
    if (file[k.key] !== undefined) { out[k.key] = coerce(k, file[k.key], `config file ${String(configPath)}`); given.add(k.key) }
    if (env[k.env] !== undefined && env[k.env] !== '') { out[k.key] = coerce(k, env[k.env], `environment ${k.env}`); given.add(k.key) }
    if (flags[k.key] !== undefined) { out[k.key] = coerce(k, flags[k.key], `--${k.key.replace(/[A-Z]/g, c => '-' + c.toLowerCase())}`); given.add(k.key) }
  }
  if (typeof out.network === 'string') {
    const net = await loadNetwork(out.network)
    out.networkInfo = net
    for (const key of FROM_NETWORK) if (!given.has(key)) out[key] = net[key]
  }
  const apiListen = flags[API_LISTEN.flag as 'apiListen'] ?? (env[API_LISTEN.env] !== '' ? env[API_LISTEN.env] : undefined)
  if (apiListen != null && typeof out.api === 'object' && out.api != null) (out.api as Record<string, unknown>).listen = apiListen
  out.listenIsDefault = out.listen === DEFAULT_LISTEN
  out.dataDir = resolveDataDir(out.dataDir as string | undefined)
  return out as unknown as DaemonConfig
}

/** The libp2p settings of a daemon config, for `PlNode.create({ net })`. */
export function netInit (config: DaemonConfig): NonNullable<PlNodeInit['net']> {
  return {
    network: config.networkInfo?.name,
    announce: config.announce,
    noAnnounce: config.noAnnounce,
    relayServer: config.relayServer,
    relays: config.relays,
    autonat: config.autonat,
    dcutr: config.dcutr,
    connectionMonitor: config.connectionMonitor,
    identifyPush: config.networkInfo != null
  }
}
