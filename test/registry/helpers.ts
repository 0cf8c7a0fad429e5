/** Shared pieces of the registry tests: principals, a bundle, a plan, nodes with the registry. */
import { join } from 'node:path'
import { packageRoot } from '../../src/core/paths.js'
import { packBundle } from '../../src/workflow/index.js'
import { PlNode, type ServiceFactory } from '../../src/node.js'
import { exec } from '../../src/exec/index.js'
import { registry, type Registry, type RegistryInit } from '../../src/registry/index.js'
import type { Principal } from '../../src/gateway/types.js'

export const publisher: Principal = { name: 'ci-key', kind: 'api-key', scopes: ['read', 'publish'] }
export const admin: Principal = { name: 'root-key', kind: 'api-key', scopes: ['read', 'submit', 'publish', 'admin'] }
export const agent: Principal = { name: '12D3KooWagent', kind: 'agent', scopes: ['read', 'publish'], agent: '12D3KooWagent' }

export const DIAMOND = join(packageRoot(), 'test', 'fixtures', 'workflows', 'diamond-js')

let diamond: Uint8Array | undefined
/** The diamond-js fixture as a deterministic bundle (workflow_id "diamond", version 1.0.0). */
export async function diamondBundle (): Promise<Uint8Array> {
  diamond ??= await packBundle(DIAMOND)
  return diamond
}

export const PLAN = 'goal: SummarizeDocument\ninputs:\n  doc: cid:doc-123\nplan:\n  - map: FetchSections(doc)\n  - reduce: MergeSummaries()\n'

export function registryServices (init: RegistryInit = {}): Record<string, ServiceFactory> {
  return { exec: exec({ resume: false }), registry: registry(init) }
}

export async function registryNode (dataDir: string, init: RegistryInit = {}): Promise<PlNode> {
  const node = await PlNode.create({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], controlApi: false, gossip: false, services: registryServices(init) })
  await node.start()
  return node
}

export function reg (node: PlNode): Registry {
  return node.service<Registry>('registry')
}
