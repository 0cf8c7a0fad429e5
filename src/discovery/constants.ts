/** Defaults of the discovery area (each one documented in docs/DISCOVERY.md and overridable through DiscoveryInit). */

/** Gossip topic of AdvertiseCapability envelopes. */
export const CATALOG_TOPIC = 'pl/v1/catalog'

/** Request-response protocol: `{name, version?}` → the descriptor CIDs a peer publishes under that name. */
export const CAPS_PROTOCOL = '/pl/caps/1.0.0'

/** DHT key prefix: provider records are kept under CID(raw, sha2-256) of the UTF-8 bytes of `pl:cap:<name>`. */
export const CAP_KEY_PREFIX = 'pl:cap:'

/** Lifetime of an ad (envelope `exp` = `ts` + ttl); the ad is re-signed and re-sent at ttl/2. */
export const DEFAULT_AD_TTL_MS = 60_000

/**
 * Largest descriptor (canonical dag-cbor bytes) published or accepted. Real
 * descriptors are 1–3 KiB; 16 KiB leaves room for large inline io schemas
 * while a padded one costs a flooder four times less than at 64 KiB.
 */
export const DEFAULT_MAX_DESCRIPTOR_BYTES = 16 * 1024

/** Per-peer ad token bucket on receipt: burst size. */
export const DEFAULT_PEER_AD_BURST = 50

/** Per-peer ad token bucket on receipt: refill, ads per second. */
export const DEFAULT_PEER_AD_RATE = 5

/** The peer that forwards ads (gossip propagation source) may send this many times the per-signer rate and burst. */
export const SOURCE_AD_FACTOR = 10

/** Longest a gossip ad is kept whatever its ttl (the service uses 10 × its own ad ttl, like DHT-found entries). */
export const MAX_AD_KEEP_MS = 10 * 60_000

/** Withdrawal tombstones kept at once; the oldest go first. */
export const MAX_TOMBSTONES = 10_000

/** Own ad pacing: burst (kept below the receivers' burst so an honest node never trips them). */
export const DEFAULT_PUBLISH_BURST = 16

/** Own ad pacing: ads per second (kept below the receivers' rate). */
export const DEFAULT_PUBLISH_RATE = 3

/** How often expired catalog entries are dropped. */
export const DEFAULT_CATALOG_SWEEP_MS = 1_000

/** How often this node re-provides its DHT records (kad-dht keeps them 48 h). */
export const DEFAULT_REPROVIDE_MS = 6 * 60 * 60_000

/** First retry delay of a failed DHT provide (doubles up to DEFAULT_PROVIDE_RETRY_MAX_MS). */
export const DEFAULT_PROVIDE_RETRY_MS = 1_000
export const DEFAULT_PROVIDE_RETRY_MAX_MS = 60_000

/** Default time budget of a find (DHT walk + /pl/caps + /pl/fetch). */
export const DEFAULT_FIND_TIMEOUT_MS = 5_000

/** Providers asked at once during a DHT find. */
export const FIND_CONCURRENCY = 8

/**
 * A find with a `limit` does not pull more providers from the DHT walk while
 * the providers being asked could meet the limit by themselves (the walk's
 * network query starts only when they cannot: the local provider records come
 * first). A provider asked this long without an answer no longer counts: the
 * walk goes on, so a slow or silent provider delays a find by at most this.
 */
export const FIND_HEDGE_MS = 200

/** Catalog size caps (memory and LevelDB). */
export const DEFAULT_MAX_CATALOG_ENTRIES = 100_000
export const DEFAULT_MAX_ENTRIES_PER_PROVIDER = 1_000

/**
 * Catalog byte budgets (an entry's bytes: its descriptor's dag-cbor bytes +
 * its addrs + CATALOG_ENTRY_OVERHEAD_BYTES): in total, per provider (signer),
 * and per peer that delivered the entries (the gossip propagation source, or
 * the provider itself for DHT-found entries). Signer keys are free to mint, so
 * only the per-source and total budgets bound what one connection can hold.
 */
export const DEFAULT_MAX_CATALOG_BYTES = 64 * 1024 * 1024
export const DEFAULT_MAX_PROVIDER_BYTES = 1024 * 1024
export const DEFAULT_MAX_SOURCE_BYTES = 16 * 1024 * 1024

/** Bytes counted per catalog entry on top of its descriptor and addrs (key, name, provider, numbers, maps). */
export const CATALOG_ENTRY_OVERHEAD_BYTES = 512

/**
 * Per-forwarder byte bucket on receipt (descriptor bytes of the ads a gossip
 * propagation source delivers): refill per second / burst. An honest relay
 * forwards about 50 ads/s of 1–3 KiB; a flood of padded descriptors is cut to
 * this rate and rejected (the forwarder loses gossipsub score).
 */
export const DEFAULT_SOURCE_AD_BYTES_RATE = 512 * 1024
export const DEFAULT_SOURCE_AD_BYTES_BURST = 2 * 1024 * 1024

/** Addrs of an ad kept in the catalog. */
export const MAX_AD_ADDRS = 32

/** Most descriptor CIDs a /pl/caps answer may list. */
export const MAX_CAPS_PER_ANSWER = 256

/** Deepest nesting the structural io matcher follows. */
export const MAX_SCHEMA_DEPTH = 8

/** Shape of a base32 CIDv1 string (schema CIDs in queries, descriptor CIDs in /pl/caps answers). */
export const CID_TEXT = /^b[a-z2-7]{20,}$/

/** `/caps/find` control route page: default and largest number of results per answer. */
export const FIND_PAGE_SIZE = 100
export const MAX_FIND_PAGE_SIZE = 1000

/** Request-response protocol: a joining node asks a peer for the signed ads it holds (its own and its catalog's), page by page. */
export const CATALOG_SYNC_PROTOCOL = '/pl/catalog-sync/1.0.0'

/**
 * The catalog sync protocol of a network: `/pl/<network>/catalog-sync/1.0.0`
 * on a named network (like its DHT protocol and gossip topics), so a node
 * never takes the ads of another network from a peer it is connected to;
 * the default network keeps CATALOG_SYNC_PROTOCOL.
 */
export function catalogSyncProtocolId (network?: string): string {
  return network == null ? CATALOG_SYNC_PROTOCOL : `/pl/${network}/catalog-sync/1.0.0`
}

/** Most ads in one /pl/catalog-sync answer (the asker asks for at most this many). */
export const MAX_SYNC_PAGE_ADS = 128

/** The answering node stops filling a page past this many dag-cbor bytes of ads (the frame limit is twice that). */
export const SYNC_PAGE_FILL_BYTES = 512 * 1024

/** Largest /pl/catalog-sync answer frame: bigger is FrameTooLargeError, before it is decoded. */
export const MAX_SYNC_ANSWER_BYTES = 2 * SYNC_PAGE_FILL_BYTES

/** Hard cap on the ads taken from one peer in one sync (all pages): the asker stops asking there. */
export const MAX_SYNC_ADS = 2048

/** Peers asked per round: a cold catalog is filled from the first few peers that connect. */
export const SYNC_PEERS_PER_ROUND = 3

/** A new round (and any one peer again) at most this often. */
export const DEFAULT_CATALOG_SYNC_INTERVAL_MS = 5 * 60_000

/** Serving side: pages answered per asking peer (token bucket; burst = a full sync of MAX_SYNC_ADS). */
export const SYNC_SERVE_BURST = MAX_SYNC_ADS / MAX_SYNC_PAGE_ADS
export const SYNC_SERVE_RATE = 1

/** A cursor is an entry key, `<PeerId>/<CID>`: at most this long. */
export const MAX_SYNC_CURSOR = 256
