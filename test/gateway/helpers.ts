/**
 * Test helpers for the gateway: real nodes (TestMesh) wired as a pl-node
 * daemon wires them (daemonServices), with the gateway listening on
 * 127.0.0.1, and a small HTTP client.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { TestMesh } from '../helpers/mesh.js'
import { daemonServices } from '../../src/services.js'
import { gateway, type GatewayInit, type GatewayService } from '../../src/gateway/index.js'
import type { PlNode, ServiceFactory } from '../../src/node.js'
import type { CapabilityOffer } from '../../src/offers.js'

export function gw (node: PlNode): GatewayService {
  return node.service<GatewayService>('gateway')
}

/** N nodes with the daemon's services; `gatewayInit(i)` says which serve the gateway (default: node 0 only); `offers(i)` the capabilities node i publishes; `more(i)` replaces or adds services; `sections(i)` adds `services.*` config sections. */
export async function startMesh (nodes: number, gatewayInit: (i: number) => GatewayInit | undefined = (i) => i === 0 ? {} : undefined, offers: (i: number) => CapabilityOffer[] = () => [], more: (i: number) => Record<string, ServiceFactory> = () => ({}), sections: (i: number) => Record<string, unknown> = () => ({})): Promise<TestMesh> {
  return await TestMesh.start({
    nodes,
    services: (i) => {
      const services = daemonServices({
        dataDir: '', listen: [], bootstrap: [], controlPort: 0, logLevel: 'silent', localSwarm: true, gossip: true, api: {},
        services: {
          discovery: { ttlMs: 4_000, sweepMs: 100, provideRetryMs: 100, provideRetryMaxMs: 1_000 },
          negotiation: { replyWindowMs: 2_000 },
          ...(offers(i).length > 0 ? { capabilities: offers(i) } : {}),
          ...sections(i)
        }
      })
      const init = gatewayInit(i)
      services.gateway = gateway(init != null ? { listen: '127.0.0.1:0', ...init } : {})
      return Object.assign(services, more(i))
    }
  })
}

export interface HttpAnswer { status: number, body: any, headers: Headers }

export async function http (base: string, method: string, path: string, options: { key?: string, body?: unknown, raw?: string | Uint8Array, headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.key != null) headers.authorization = `Bearer ${options.key}`
  let body: string | Uint8Array | undefined
  if (options.body !== undefined) {
    body = JSON.stringify(options.body)
    headers['content-type'] ??= 'application/json'
  } else if (options.raw !== undefined) {
    body = options.raw
  }
  const res = await fetch(base + path, { method, headers, body: body as any })
  const text = await res.text()
  let json: unknown
  try { json = text === '' ? undefined : JSON.parse(text) } catch { json = text }
  return { status: res.status, body: json, headers: res.headers }
}

/** A workflow folder with one JS module whose `eval` body is `evalBody`. */
export async function oneModuleWorkflow (root: string, name: string, evalBody: string): Promise<string> {
  const dir = join(root, name)
  await mkdir(join(dir, 'module_main'), { recursive: true })
  await writeFile(join(dir, 'module_main', 'function.mjs'), `export default class M {\n  async eval (parameters, inputData, context) {\n${evalBody}\n  }\n}\n`)
  await writeFile(join(dir, 'workflow.json'), JSON.stringify({
    workflow_id: name,
    name,
    version: { version: '1.0.0', releaseTag: 'test' },
    description: 'one module',
    tags: [],
    globalSettings: {},
    globalParameters: {},
    modules: { main: { codePath: 'module_main', settings: {}, parameters: {}, name: 'main', description: '', tags: [], resource_requirements: { wall_ms: 20_000, mem_mb: 128 } } },
    graph: { main: [] }
  }))
  return dir
}
