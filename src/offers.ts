/**
 * Offers: the capabilities a daemon publishes at start, listed in its config
 * (`services.capabilities`). Each entry names a descriptor file (YAML or
 * JSON, a Capability.v1 without `provider`, with `impl:` naming the module
 * folder relative to the file) and may override price, attrs and
 * attestations — the local swarm uses that to give nodes different offers.
 *
 * @example
 * services:
 *   capabilities:
 *     - file: examples/capabilities/summarize/capability.yaml
 *       price: 2
 *       attrs: { readability: 0.9 }
 */
import { readDescriptorFile } from './discovery/descriptor-file.js'
import { PlError } from './core/errors.js'
import type { PlComponents, PlService, ServiceComponents } from './node.js'
import type { Discovery, ImplRef } from './discovery/index.js'

/** A configured capability offer cannot be read or is malformed. */
export class OfferConfigError extends PlError {
  override name = 'OfferConfigError'
}

export interface CapabilityOffer {
  file: string
  price?: number
  attrs?: Record<string, number | string | boolean>
  attestations?: string[]
}

/** The descriptor an offer publishes (its file, with the offer's overrides) and its module folder. */
export async function readOffer (offer: CapabilityOffer): Promise<{ descriptor: Record<string, unknown>, impl?: ImplRef }> {
  const { descriptor, impl } = await readDescriptorFile(offer.file).catch((err: Error) => {
    throw err.name === 'InvalidDescriptorError' ? new OfferConfigError(err.message, { file: offer.file }) : err
  })
  if (offer.price != null) descriptor.price = offer.price
  if (offer.attrs != null) descriptor.attrs = { ...(descriptor.attrs as object | undefined), ...offer.attrs }
  if (offer.attestations != null) descriptor.attestations = offer.attestations
  return { descriptor, impl }
}

/** Checks the `services.capabilities` config section. */
export function parseOffers (section: unknown): CapabilityOffer[] {
  if (section == null) return []
  if (!Array.isArray(section)) throw new OfferConfigError('services.capabilities must be a list of {file, price?, attrs?, attestations?}')
  return section.map((o, i) => {
    const where = `services.capabilities[${i}]`
    if (typeof o === 'string') return { file: o }
    if (o == null || typeof o !== 'object' || typeof o.file !== 'string') throw new OfferConfigError(`${where} needs a descriptor file`)
    if (o.price != null && (typeof o.price !== 'number' || o.price < 0)) throw new OfferConfigError(`${where}.price must be a number ≥ 0`)
    if (o.attrs != null && (typeof o.attrs !== 'object' || Array.isArray(o.attrs))) throw new OfferConfigError(`${where}.attrs must be a mapping`)
    if (o.attestations != null && !Array.isArray(o.attestations)) throw new OfferConfigError(`${where}.attestations must be a list`)
    return o as CapabilityOffer
  })
}

/** Offers publish through the discovery service (a node with offers but no discovery fails at start). */
export interface OffersServices { discovery?: Discovery }

export type OffersComponents = Pick<PlComponents, 'logger'> & { services: OffersServices }

export class Offers implements PlService {
  constructor (private readonly components: OffersComponents, private readonly offers: CapabilityOffer[]) {}

  async start (): Promise<void> {
    if (this.offers.length === 0) return
    const discovery = this.components.services.discovery
    if (discovery == null) throw new OfferConfigError('services.capabilities needs the discovery service')
    const log = this.components.logger.child({ component: 'offers' })
    for (const offer of this.offers) {
      const { descriptor, impl } = await readOffer(offer)
      const { cid } = await discovery.publish(descriptor as any, impl)
      log.info({ capability: descriptor.name, cid, file: offer.file }, 'published configured capability')
    }
  }
}

/** Service factory: `services: { offers: offers(config.services.capabilities) }` (after discovery). */
export function offers (section: unknown): (components: ServiceComponents<OffersServices>) => Offers {
  const list = parseOffers(section)
  return (components) => new Offers(components, list)
}
