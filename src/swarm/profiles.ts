import type { SwarmNodeSpec } from './launcher.js'

/**
 * What each node of a local swarm runs. Node 0 is the plain bootstrap and
 * requester; later areas add the sample capabilities each node publishes.
 */
export function swarmNodeSpec (index: number): SwarmNodeSpec {
  void index
  return { config: {} }
}
