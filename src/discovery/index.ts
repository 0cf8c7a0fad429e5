/**
 * Discovery: capabilities over the mesh with no central registry. A provider
 * publishes a Capability.v1 descriptor once; the service stores it (LevelDB,
 * re-advertised after a restart), binds it to its module folder (pinned by
 * CID), announces it with signed AdvertiseCapability envelopes on gossip
 * topic `pl/v1/catalog` (re-signed at ttl/2, withdrawn on unpublish and
 * graceful stop) and with DHT provider records under the CID of
 * `pl:cap:<name>` and the descriptor CID, and serves descriptors over
 * `/pl/caps/1.0.0` + `/pl/fetch/1.0.0`. Every node keeps a catalog of what it
 * hears; `find` merges it with a DHT walk. See docs/DISCOVERY.md.
 *
 * @example
 * const node = await PlNode.create({ dataDir, services: { discovery: discovery({ ttlMs: 60_000 }) } })
 * await node.start()
 * const d = node.service<Discovery>('discovery')
 * const { cid } = await d.publish({ name: 'Summarize', version: '1.0.0', io: { input: { type: 'object' }, output: { type: 'object' } } }, { dir: './module_summarize' })
 * const providers = await d.find({ name: 'Summarize', attrs: [{ key: 'readability', op: '>=', value: 0.8 }] })
 * d.localCapability('Summarize') // → ModuleSpec of ./module_summarize
 */
export { Discovery, discovery, type DiscoveryInit, type DiscoveryComponents } from './service.js'
export { discoveryInitFromConfig } from './config.js'
export { capNameKey, compareVersions, buildDescriptor } from './descriptor.js'
export { readDescriptorFile, readDocument } from './descriptor-file.js'
export { queryFromParams } from './routes.js'
export { DhtProvider, type DhtProviderInit } from './dht.js'
export type { FinderFindOptions, FindProgress, WalkEndReason } from './finder.js'
export { bindRecord, LocalCapabilities } from './local.js'
export { CatalogListener, type CatalogListenerInit, type CatalogListenerComponents } from './listener.js'
export { matches, matchesStatic, ioMatches, validateQuery, parseAttrFilter } from './match.js'
export { Catalog } from './catalog.js'
export { PeerRateLimiter } from './rate-limit.js'
export { CATALOG_TOPIC, CAPS_PROTOCOL, CAP_KEY_PREFIX, DEFAULT_AD_TTL_MS, CATALOG_SYNC_PROTOCOL, catalogSyncProtocolId, MAX_SYNC_PAGE_ADS, MAX_SYNC_ADS, MAX_SYNC_ANSWER_BYTES } from './constants.js'
export { catalogSyncProtocol, checkSyncAnswer, checkSyncRequest, checkSyncedAd, type CatalogSyncResult, type CatalogSyncAnswer, type CatalogSyncRequest } from './sync.js'
export * from './errors.js'
export type * from './types.js'
