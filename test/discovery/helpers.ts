/** Test helpers of the discovery area: meshes with the discovery service, descriptors, module folders. */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { TestMesh, waitFor } from '../helpers/mesh.js'
import { discovery, type Discovery, type DiscoveryInit } from '../../src/discovery/index.js'
import type { PlNode } from '../../src/node.js'
import type { CapabilityDescriptorInput } from '../../src/discovery/types.js'

export interface DiscoMeshInit {
  nodes: number
  ttlMs?: number
  gossip?: (i: number) => boolean
  controlApi?: boolean
  init?: (i: number) => DiscoveryInit
}

/** A TestMesh whose nodes run discovery with short timers (ttl, sweep, provide retries). */
export async function discoMesh (init: DiscoMeshInit): Promise<TestMesh> {
  const gossip = init.gossip ?? (() => true)
  return await TestMesh.start({
    nodes: init.nodes,
    controlApi: init.controlApi,
    gossip,
    services: (i) => ({
      discovery: discovery({ ttlMs: init.ttlMs ?? 4_000, sweepMs: 100, provideRetryMs: 100, provideRetryMaxMs: 1_000, gossip: gossip(i), ...init.init?.(i) })
    })
  })
}

export function disc (node: PlNode): Discovery {
  return node.service<Discovery>('discovery')
}

/** Waits until every node's DHT routing table has at least `min` peers. */
export async function dhtReady (mesh: TestMesh, min: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(() => mesh.nodes.every(n => !n.isStarted || n.libp2p.services.dht.routingTable.size >= min), timeoutMs, `DHT routing tables of ${min}`)
}

export function descriptorInput (name = 'Summarize', over: Partial<CapabilityDescriptorInput> = {}): CapabilityDescriptorInput {
  return {
    name,
    version: '1.0.0',
    io: {
      input: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
      output: { type: 'object', properties: { summary: { type: 'string' } }, required: ['summary'] }
    },
    limits: { wall_ms: 30_000 },
    price: 2,
    attrs: { readability: 0.9, coverage: 0.6 },
    policies: ['cid:pol-PII-no-exfil'],
    ...over
  }
}

/** Writes a JS module folder (function.mjs) and returns its path. */
export async function jsModule (root: string, name = 'module_summarize', body = 'return { summary: String(input_data.text).slice(0, 10) }'): Promise<string> {
  const dir = join(root, name)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'function.mjs'), `export default class Summarize {\n  eval (parameters, input_data) { ${body} }\n}\n`)
  return dir
}

export { waitFor }
