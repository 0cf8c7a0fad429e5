/** The `services.discovery` section of the daemon config → DiscoveryInit (checked, unknown keys refused). */
import { DiscoveryConfigError } from './errors.js'
import { DEFAULT_MAX_ENVELOPE_LIFETIME_MS } from '../core/index.js'
import { DISCOVERY_DEFAULTS, type DiscoveryInit } from './service.js'

const DEFAULTS: Readonly<Record<string, unknown>> = DISCOVERY_DEFAULTS

/**
 * @example
 * discoveryInitFromConfig({ ttlMs: 5000 }, { gossip: config.gossip }) // { ttlMs: 5000, gossip: true }
 */
export function discoveryInitFromConfig (section: unknown, overrides: DiscoveryInit = {}): DiscoveryInit {
  if (section == null) return { ...overrides }
  if (typeof section !== 'object' || Array.isArray(section)) throw new DiscoveryConfigError('services.discovery must be a mapping')
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(section)) {
    const kind = Object.hasOwn(DEFAULTS, key) ? typeof DEFAULTS[key] : undefined
    if (kind === 'number') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new DiscoveryConfigError(`services.discovery.${key} must be a positive number, got ${JSON.stringify(value)}`)
      if (key === 'ttlMs' && value > DEFAULT_MAX_ENVELOPE_LIFETIME_MS) throw new DiscoveryConfigError(`services.discovery.ttlMs must be at most ${DEFAULT_MAX_ENVELOPE_LIFETIME_MS} (24 h): peers refuse envelopes that live longer`)
      out[key] = value
    } else if (kind === 'boolean') {
      if (typeof value !== 'boolean') throw new DiscoveryConfigError(`services.discovery.${key} must be true or false, got ${JSON.stringify(value)}`)
      out[key] = value
    } else {
      throw new DiscoveryConfigError(`services.discovery: unknown key "${key}" (known: ${Object.keys(DEFAULTS).join(', ')})`)
    }
  }
  return { ...out, ...overrides }
}
