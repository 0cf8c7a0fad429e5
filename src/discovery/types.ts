/** Shapes of the discovery area: descriptors, queries, results, catalog entries. */
import type { ExternalImpl, ModuleSpec, SandboxPermission } from '../core/index.js'
import type { AdvertiseCapabilityV1, CapabilityDescriptor, IoSchema } from '../wire/index.js'

export type { ModuleSpec }

/** Capability.v1 (CapabilityDescriptor, its CID is its identity) and its io schemas are the generated wire types (src/wire). */
export type { CapabilityDescriptor, IoSchema } from '../wire/index.js'

/** What a publisher gives: `provider` is filled in (and must be this node if present), `limits` defaults to `{}`, `module` is computed from `impl`. */
export type CapabilityDescriptorInput = Omit<CapabilityDescriptor, 'provider' | 'limits'> & { provider?: string, limits?: CapabilityDescriptor['limits'] }

/**
 * The local implementation bound to a published capability: a module folder
 * (`dir`, with the sandbox permissions the JS module asks for), or an
 * external implementation served by a bridge (`external`: an A2A agent, an
 * MCP tool, an attached process; src/exec/external.ts).
 */
export type ImplRef =
  | { dir: string, className?: string, permissions?: SandboxPermission[], confined?: boolean, external?: undefined, plan?: undefined }
  | { external: ExternalImpl, dir?: undefined, className?: undefined, permissions?: undefined, plan?: undefined }
  /** a composite capability: the plan (a YAML file, or a stored plan's CID) runs when it is awarded; bound as `external: {kind: 'plan'}` (src/composite) */
  | { plan: string, external?: undefined, dir?: undefined, className?: undefined, permissions?: undefined }

/** AdvertiseCapability.v1 body. */
export type AdvertiseCapability = AdvertiseCapabilityV1

export type AttrOp = '>=' | '<=' | '=' | '>' | '<'

export interface AttrFilter { key: string, op: AttrOp, value: number | string | boolean }

export interface CapabilityQuery {
  name: string
  /** exact version */
  version?: string
  io?: { input?: IoSchema, output?: IoSchema }
  attrs?: AttrFilter[]
  /** each must appear in the descriptor's `policies` or `attestations` */
  policies?: string[]
}

export interface FindOptions {
  signal?: AbortSignal
  /** @default DEFAULT_FIND_TIMEOUT_MS */
  timeoutMs?: number
  /** skip the catalog and this node's own capabilities: DHT walk only */
  dhtOnly?: boolean
  /** no network: the catalog and this node's own capabilities only */
  localOnly?: boolean
  /** stop the DHT walk once this many distinct providers are known (catalog included); no walk at all if the catalog already has them */
  limit?: number
}

export type FindSource = 'local' | 'gossip' | 'dht'

export interface FoundCapability {
  cid: string
  descriptor: CapabilityDescriptor
  provider: string
  addrs: string[]
  /** ms since epoch */
  expires: number
  source: FindSource
}

/** A capability this node publishes, as persisted in LevelDB. */
export interface LocalRecord {
  cid: string
  descriptor: CapabilityDescriptor
  impl?: ImplRef
  publishedAt: number
}

export interface LocalCapability extends LocalRecord {
  /** the bound module; absent when published without impl */
  module?: ModuleSpec
  /** false when the impl folder changed or vanished since publish (not advertised, not bound) */
  active: boolean
  problem?: string
}

/** One catalog entry: a capability heard from a peer. */
export interface CatalogEntry {
  cid: string
  name: string
  version: string
  provider: string
  descriptor: CapabilityDescriptor
  addrs: string[]
  /** ad ts (ms since epoch): newer ads replace older ones */
  ts: number
  expires: number
  source: 'gossip' | 'dht'
  /** the peer that delivered the entry (gossip propagation source; for DHT finds the provider): its catalog byte budget is charged */
  via?: string
}
