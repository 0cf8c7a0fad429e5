/**
 * Networks: a named mesh with its own bootstrap peers, relays and protocol
 * names. `pl-node start --network testnet` reads `networks/testnet.yaml`
 * (shipped with the package); `--network ./my-net.yaml` reads a file. The
 * name goes into the DHT protocol (`/pl/<name>/kad/1.0.0`) and the gossip
 * topics (`pl/<name>/v1/catalog`, `pl/<name>/v1/cfp/<capability>`), so nodes
 * of different networks never share a routing table or a topic, even when
 * they are connected.
 *
 * @example
 * const net = await loadNetwork('local')
 * // { name: 'local', bootstrap: [...], relays: [], noAnnounce: [...], ... }
 */
import { readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { multiaddr } from '@multiformats/multiaddr'
import { packageRoot } from '../core/paths.js'
import { InvalidNetworkError } from './errors.js'
import { bootstrapPeerId } from './peer-addr.js'

/** A network name: lower-case letters, digits and dashes (it becomes part of protocol ids and topic names). */
const NAME = /^[a-z0-9][a-z0-9-]{0,31}$/

export interface Network {
  name: string
  /** one line for `pl-node start` and docs */
  description?: string
  /** multiaddrs ending in /p2p/<peerId> */
  bootstrap: string[]
  /** relay multiaddrs (with /p2p/<peerId>) a node behind NAT reserves a slot on */
  relays: string[]
  /** addresses never announced to peers (multiaddr prefixes; `/ip4/A.B.C.D/ipcidr/N` matches a range) */
  noAnnounce: string[]
  /** run AutoNAT (ask peers to dial back to learn whether this node is reachable) @default true */
  autonat: boolean
  /** run DCUtR (upgrade relayed connections to direct ones) @default true */
  dcutr: boolean
  /** ping every connection and close those that stop answering (dead links on real networks) @default true */
  connectionMonitor: boolean
}

const KEYS = ['name', 'description', 'bootstrap', 'relays', 'noAnnounce', 'autonat', 'dcutr', 'connectionMonitor']

/** The DHT protocol of a network; the default network (none given) keeps `/pl/kad/1.0.0`. */
export function dhtProtocol (network?: string): string {
  return network == null ? '/pl/kad/1.0.0' : `/pl/${network}/kad/1.0.0` // the first must equal DHT_PROTOCOL (src/net/libp2p.ts)
}

/** Where `--network NAME` looks: `networks/NAME.yaml` in the package. */
export function networkFile (name: string): string {
  return join(packageRoot(), 'networks', `${name}.yaml`)
}

function list (doc: Record<string, unknown>, key: string, origin: string, peerIds: boolean): string[] {
  const v = doc[key]
  if (v == null) return []
  if (!Array.isArray(v)) throw new InvalidNetworkError(`${origin}: ${key} must be a list of multiaddrs`, { key })
  return v.map((a) => {
    if (typeof a !== 'string') throw new InvalidNetworkError(`${origin}: ${key} entry ${JSON.stringify(a)} is not a string`, { key })
    try {
      multiaddr(a)
    } catch (err) {
      throw new InvalidNetworkError(`${origin}: ${key} entry ${a} is not a multiaddr: ${(err as Error).message}`, { key, addr: a })
    }
    if (peerIds) {
      try { bootstrapPeerId(a) } catch (err) { throw new InvalidNetworkError(`${origin}: ${key} entry: ${(err as Error).message}`, { key, addr: a }) }
    }
    return a
  })
}

function bool (doc: Record<string, unknown>, key: string, origin: string): boolean {
  const v = doc[key]
  if (v == null) return true
  if (typeof v !== 'boolean') throw new InvalidNetworkError(`${origin}: ${key} must be true or false`, { key })
  return v
}

/** Checks a parsed network document. */
export function parseNetwork (doc: unknown, origin: string): Network {
  if (doc == null || typeof doc !== 'object' || Array.isArray(doc)) throw new InvalidNetworkError(`${origin}: top level must be a mapping`)
  const d = doc as Record<string, unknown>
  for (const key of Object.keys(d)) if (!KEYS.includes(key)) throw new InvalidNetworkError(`${origin}: unknown key "${key}" (known: ${KEYS.join(', ')})`, { key })
  if (typeof d.name !== 'string' || !NAME.test(d.name)) throw new InvalidNetworkError(`${origin}: name must be 1-32 lower-case letters, digits or dashes, got ${JSON.stringify(d.name)}`, { key: 'name' })
  return {
    name: d.name,
    description: typeof d.description === 'string' ? d.description : undefined,
    bootstrap: list(d, 'bootstrap', origin, true),
    relays: list(d, 'relays', origin, true),
    noAnnounce: list(d, 'noAnnounce', origin, false),
    autonat: bool(d, 'autonat', origin),
    dcutr: bool(d, 'dcutr', origin),
    connectionMonitor: bool(d, 'connectionMonitor', origin)
  }
}

/** `nameOrFile`: a name under `networks/`, or a path to a YAML/JSON file. */
export async function loadNetwork (nameOrFile: string): Promise<Network> {
  const path = NAME.test(nameOrFile) && !existsSync(nameOrFile) ? networkFile(nameOrFile) : nameOrFile
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    throw new InvalidNetworkError(`network ${nameOrFile}: cannot read ${path}: ${String(err.code ?? err.message)}`, { network: nameOrFile })
  }
  let doc: unknown
  try {
    doc = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text)
  } catch (err) {
    throw new InvalidNetworkError(`network file ${path} does not parse: ${(err as Error).message}`, { network: nameOrFile })
  }
  return parseNetwork(doc, `network file ${path}`)
}
