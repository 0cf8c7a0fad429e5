/**
 * What each node of a local swarm publishes. Node 0 is the bootstrap and the
 * requester: it installs no capabilities, so every step of the demo plan is
 * negotiated. The providers offer the sample capabilities of
 * `examples/capabilities/` with different prices and attributes, so the
 * plan's `select` weights decide; one provider offers `Summarize` without the
 * PII attestation, so the requester filters its bids out (the demo policy,
 * examples/policies/pii-no-exfil.yaml, which every node stores).
 */
import { join } from 'node:path'
import { packageRoot } from '../core/paths.js'
import type { SwarmNodeSpec } from './launcher.js'
import type { CapabilityOffer } from '../offers.js'

const PII = 'cid:pol-PII-no-exfil'

function offer (dir: string, extra: Omit<CapabilityOffer, 'file'> = {}): CapabilityOffer {
  return { file: join(packageRoot(), 'examples', 'capabilities', dir, 'capability.yaml'), ...extra }
}

/** Provider profiles, assigned round-robin to nodes 1..N-1. */
const PROFILES: CapabilityOffer[][] = [
  [offer('fetch-sections', { price: 1 }), offer('merge-summaries', { price: 2, attrs: { readability: 0.7, coverage: 0.8 } })],
  [offer('summarize', { price: 3, attrs: { readability: 0.9, coverage: 0.8 } }), offer('attach-references', { price: 1 })],
  [offer('summarize', { price: 1, attrs: { readability: 0.6, coverage: 0.7 } }), offer('fetch-sections', { price: 2 }), offer('merge-summaries', { price: 1, attrs: { readability: 0.8, coverage: 0.9 } })],
  // the cheapest, best-rated Summarize — but without the PII attestation: its bids on policy-bound calls are filtered out
  [offer('summarize', { price: 0.5, attrs: { readability: 0.95, coverage: 0.95 }, attestations: [] }), offer('attach-references', { price: 2, attrs: { readability: 0.8, coverage: 0.8 } })]
]

/** The capabilities node `index` publishes (none for node 0). */
export function swarmOffers (index: number): CapabilityOffer[] {
  if (index === 0) return []
  return PROFILES[(index - 1) % PROFILES.length]
}

/** The demo plan's policy (examples/policies/pii-no-exfil.yaml): every node stores and announces it. */
export const DEMO_POLICY_FILE = join(packageRoot(), 'examples', 'policies', 'pii-no-exfil.yaml')

/** Swarm nodes join the `local` network (networks/local.yaml): their own DHT and gossip names. */
export function swarmNodeSpec (index: number): SwarmNodeSpec {
  return { config: { network: 'local', services: { capabilities: swarmOffers(index), trust: { policies: [DEMO_POLICY_FILE] } } } }
}

export { PII as DEMO_POLICY }
