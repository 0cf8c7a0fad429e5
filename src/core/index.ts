/**
 * The bottom layer: errors (PlError and its plain-data form), encoding
 * (dag-cbor/dag-json, CIDs), identity (the ed25519 key that is the PeerId),
 * signed envelopes, module folders pinned by CID, logger, metrics, paths,
 * clocks. Loading all of it loads libp2p's crypto, multiformats, pino and
 * prom-client: code on a cold path (the `pl` commands' top level) imports
 * the light entries instead (`errors.ts`, `json-guard.ts`, `process.ts`,
 * `paths.ts`, `clock.ts`; docs/ARCHITECTURE.md "Areas and their surfaces").
 *
 * @example
 * const me = await loadOrCreateIdentity(dataDir)
 * const env = signEnvelope(me, { type: 'Bid.v1', schema, body })
 * const cid = cidOf({ hello: 'world' })
 */
export * from './errors.js'
export * from './encoding.js'
export * from './canonical-cbor.js'
export * from './identity.js'
export * from './envelope.js'
export * from './module.js'
export * from './logger.js'
export * from './metrics.js'
export * from './paths.js'
export * from './process.js'
export * from './clock.js'
export * from './json-guard.js'
export * from './bounded.js'
