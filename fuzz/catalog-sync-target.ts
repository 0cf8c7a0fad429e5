/**
 * `/pl/catalog-sync/1.0.0` decoding: bytes read as a dag-cbor frame payload,
 * then checked as a request (the serving side) and as an answer page whose
 * ads are each checked as a gossiped ad would be (real verifier and schema
 * registry, the real CatalogListener checks; single ads and sets). Only the
 * typed refusals may come out.
 */
import { cidStringOf, decodeCanonical, encodeCanonical } from '../src/core/encoding.js'
import { createIdentity, EnvelopeVerifier, signEnvelope } from '../src/core/index.js'
import { silentLogger } from '../src/core/logger.js'
import { SchemaRegistry } from '../src/spec/index.js'
import { Catalog, CatalogListener, checkSyncAnswer, checkSyncRequest, checkSyncedAd } from '../src/discovery/index.js'
import { MAX_SYNC_PAGE_ADS } from '../src/discovery/constants.js'
import type { FuzzTarget } from './harness.js'

const ALLOWED = ['InvalidEncodingError', 'CatalogSyncRequestError', 'CatalogSyncAnswerError', 'ForgedCatalogAdError']

export async function catalogSyncTarget (): Promise<FuzzTarget> {
  const registry = await SchemaRegistry.load()
  const id = await createIdentity()
  const verifier = new EnvelopeVerifier(registry, undefined)
  const db: any = { put: async () => {}, del: async () => {}, batch: async () => {}, iterator: async function * () {} }
  const catalog = new Catalog(db, { maxEntries: 16, maxPerProvider: 4 })
  const listener = new CatalogListener({ identity: { id: 'self' }, metrics: { reject: () => {} }, logger: silentLogger(), libp2p: {} } as any, { catalog, peerAdRate: 5, peerAdBurst: 10, maxDescriptorBytes: 16 * 1024 })
  const descriptor = { name: 'Summarize', version: '1.0.0', provider: id.id, io: { input: { type: 'object' }, output: { type: 'object' } }, limits: {} }
  const ad = signEnvelope(id, registry, 'AdvertiseCapability.v1', { capability: cidStringOf(descriptor), descriptor, addrs: ['/ip4/127.0.0.1/tcp/4001'], ttl: 60_000 }, { ttlMs: 60_000 })
  const other = { ...descriptor, name: 'Translate' }
  const set = signEnvelope(id, registry, 'AdvertiseCapabilitySet.v1', { ads: [{ capability: cidStringOf(descriptor), descriptor }, { capability: cidStringOf(other), descriptor: other }], addrs: ['/ip4/127.0.0.1/tcp/4001'], ttl: 60_000 }, { ttlMs: 60_000 })
  const seeds = [
    encodeCanonical({ ads: [ad], next: `${id.id}/${cidStringOf(descriptor)}` }),
    encodeCanonical({ ads: [set, ad] }),
    encodeCanonical({ ads: [ad, { ...ad, sig: 'x' }] }),
    encodeCanonical({ after: 'a/b', limit: 3 })
  ]
  return {
    name: 'catalog-sync',
    allowed: new Set(ALLOWED),
    seeds: () => seeds,
    run: (input) => {
      const value = decodeCanonical(input)
      try {
        checkSyncRequest(value)
      } catch (err) {
        if ((err as Error).name !== 'CatalogSyncRequestError') throw err
      }
      const page = checkSyncAnswer(value, 'peer', { limit: MAX_SYNC_PAGE_ADS })
      page.ads.forEach((a, i) => { checkSyncedAd(a, { verifier, listener }, 'peer', i) })
    }
  }
}
