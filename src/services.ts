/**
 * The services a `pl-node` daemon runs, in start order. Each area adds its
 * factory here; each factory reads its own section of `config.services`.
 */
import type { ServiceFactory } from './node.js'
import type { DaemonConfig } from './cli/config.js'

export function daemonServices (config: DaemonConfig): Record<string, ServiceFactory> {
  void config
  const services: Record<string, ServiceFactory> = {}
  return services
}
