/**
 * The two shapes of a catalog ad on `pl/v1/catalog`: one capability per
 * envelope (`AdvertiseCapability.v1`) or several of one provider in one
 * envelope (`AdvertiseCapabilitySet.v1`, one signature and one gossip
 * message per re-ad instead of one per capability). The listener, the
 * catalog sync and the advertiser read both through `adItems`.
 *
 * @example
 * for (const item of adItems(env)) console.log(item.capability, item.withdraw === true)
 */
import type { Envelope } from '../core/index.js'
import type { AdvertiseCapabilitySetV1 } from '../wire/index.js'
import type { AdvertiseCapability, CapabilityDescriptor } from './types.js'

export const AD_TYPE = 'AdvertiseCapability.v1'
export const AD_SET_TYPE = 'AdvertiseCapabilitySet.v1'
/** The envelope types the catalog topic and `/pl/catalog-sync` carry. */
export const AD_TYPES = [AD_TYPE, AD_SET_TYPE]

/** Capabilities in one set (the schema's `maxItems`). */
export const MAX_SET_ADS = 32
/**
 * Descriptor bytes (dag-cbor) the advertiser puts in one set before it
 * starts another: a set stays well under the gossip limit (256 KiB) and a
 * receiver's per-peer byte burst. A descriptor larger than this goes alone.
 */
export const SET_FILL_BYTES = 64 * 1024

export type AdvertiseCapabilitySet = AdvertiseCapabilitySetV1

/** A signed catalog ad of either shape. */
export type SignedAd = Envelope<AdvertiseCapability> | Envelope<AdvertiseCapabilitySet>

/** One capability an ad names. */
export interface AdItem { capability: string, descriptor: CapabilityDescriptor, withdraw?: boolean }

function isSet (env: SignedAd): env is Envelope<AdvertiseCapabilitySet> {
  return env.type === AD_SET_TYPE
}

/** The capabilities an ad names, in its order (a single ad: its body). */
export function adItems (env: SignedAd): readonly AdItem[] {
  return isSet(env) ? env.body.ads : [env.body]
}

/**
 * The body to sign for `items` (with this node's `addrs` and `ttl`): a
 * single ad for one capability — what every node before sets reads —, a set
 * for several.
 */
export function adBody (items: readonly AdItem[], addrs: string[], ttl: number): { type: string, body: AdvertiseCapability | AdvertiseCapabilitySet } {
  if (items.length === 1) {
    const [item] = items
    return { type: AD_TYPE, body: { capability: item.capability, descriptor: item.descriptor, addrs, ttl, ...(item.withdraw === true ? { withdraw: true } : {}) } }
  }
  return {
    type: AD_SET_TYPE,
    body: { ads: items.map(i => ({ capability: i.capability, descriptor: i.descriptor, ...(i.withdraw === true ? { withdraw: true } : {}) })), addrs, ttl }
  }
}

/**
 * Splits `items` into groups for one envelope each: at most `perSet`
 * (≤ MAX_SET_ADS) items and SET_FILL_BYTES of descriptor bytes (`sizeOf`) per
 * group, a larger descriptor alone; order kept.
 */
export function groupAds<T> (items: readonly T[], sizeOf: (item: T) => number, perSet = MAX_SET_ADS): T[][] {
  const max = Math.max(1, Math.min(MAX_SET_ADS, perSet))
  const groups: T[][] = []
  let group: T[] = []
  let bytes = 0
  for (const item of items) {
    const size = sizeOf(item)
    if (group.length > 0 && (group.length >= max || bytes + size > SET_FILL_BYTES)) {
      groups.push(group)
      group = []
      bytes = 0
    }
    group.push(item)
    bytes += size
  }
  if (group.length > 0) groups.push(group)
  return groups
}
