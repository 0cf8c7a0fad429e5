/** The `services.discovery` section of the daemon config → DiscoveryInit (checked, unknown keys refused). */
import { DiscoveryConfigError } from './errors.js'
import { DEFAULT_MAX_ENVELOPE_LIFETIME_MS } from '../core/envelope.js'
import type { DiscoveryInit } from './service.js'

const NUMERIC: Array<keyof DiscoveryInit> = [
  'ttlMs', 'maxDescriptorBytes', 'peerAdRate', 'peerAdBurst', 'publishRate', 'publishBurst', 'sweepMs',
  'reprovideMs', 'provideRetryMs', 'provideRetryMaxMs', 'findTimeoutMs', 'maxCatalogEntries', 'maxEntriesPerProvider'
]
const BOOLEAN: Array<keyof DiscoveryInit> = ['gossip', 'controlRoutes']

/**
 * @example
 * discoveryInitFromConfig({ ttlMs: 5000 }, { gossip: config.gossip }) // { ttlMs: 5000, gossip: true }
 */
export function discoveryInitFromConfig (section: unknown, overrides: DiscoveryInit = {}): DiscoveryInit {
  if (section == null) return { ...overrides }
  if (typeof section !== 'object' || Array.isArray(section)) throw new DiscoveryConfigError('services.discovery must be a mapping')
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(section)) {
    if (NUMERIC.includes(key as keyof DiscoveryInit)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new DiscoveryConfigError(`services.discovery.${key} must be a positive number, got ${JSON.stringify(value)}`)
      if (key === 'ttlMs' && value > DEFAULT_MAX_ENVELOPE_LIFETIME_MS) throw new DiscoveryConfigError(`services.discovery.ttlMs must be at most ${DEFAULT_MAX_ENVELOPE_LIFETIME_MS} (24 h): peers refuse envelopes that live longer`)
      out[key] = value
    } else if (BOOLEAN.includes(key as keyof DiscoveryInit)) {
      if (typeof value !== 'boolean') throw new DiscoveryConfigError(`services.discovery.${key} must be true or false, got ${JSON.stringify(value)}`)
      out[key] = value
    } else {
      throw new DiscoveryConfigError(`services.discovery: unknown key "${key}" (known: ${[...NUMERIC, ...BOOLEAN].join(', ')})`)
    }
  }
  return { ...out, ...overrides }
}
