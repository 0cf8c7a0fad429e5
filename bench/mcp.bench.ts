/**
 * MCP bridge: latency of a 1-step run through MCP `tools/call` on the
 * gateway's `/mcp` (official SDK client, streamable HTTP, one client kept
 * open) against the same run through the gateway's own route
 * (`POST /dsl-graph/:id/deploy` with the one-step DSL plan, `wait: true`).
 * A real PlNode wired as pl-node wires it (discovery, receipts, negotiation,
 * exec, mcp, gateway) with one local capability `Inc` (a JS module). Calls
 * are sequential and interleaved (one MCP, one gateway), so both see the
 * same machine; the ratio p50(MCP) / p50(gateway) is the bridge's cost.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { PlNode } from '../src/node.js'
import { daemonServices } from '../src/services.js'
import { gateway, type GatewayService } from '../src/gateway/index.js'
import type { Discovery } from '../src/discovery/index.js'
import { latencyFigure, type Bench } from './harness.js'

const SAMPLES = 60
const WARMUP = 5

async function mcpVsGateway (): Promise<{ figures: Record<string, ReturnType<typeof latencyFigure>> }> {
  const dir = await mkdtemp(join(tmpdir(), 'pl-bench-mcp-'))
  const services = daemonServices({
    dataDir: '', listen: [], bootstrap: [], controlPort: 0, logLevel: 'silent', localSwarm: true, gossip: false, api: {},
    services: { exec: { resume: false } }
  })
  services.gateway = gateway({ listen: '127.0.0.1:0', rateLimit: { burst: 1e9, perSecond: 1e9 } })
  const node = await PlNode.create({ dataDir: join(dir, 'node'), listen: ['/ip4/127.0.0.1/tcp/0'], controlApi: false, gossip: false, services })
  await node.start()
  const client = new Client({ name: 'bench', version: '1' })
  try {
    const mod = join(dir, 'inc')
    await mkdir(mod)
    await writeFile(join(mod, 'function.mjs'), 'export default class { eval (p, d) { return { number: (d.number ?? 0) + 1 } } }\n')
    const io = { input: { type: 'object', properties: { number: { type: 'integer' } }, required: ['number'] }, output: { type: 'object', properties: { number: { type: 'integer' } } } }
    await node.service<Discovery>('discovery').publish({ name: 'Inc', version: '1.0.0', io }, { dir: mod })
    const gw = node.service<GatewayService>('gateway')
    const { key } = await gw.keys.create({ name: 'bench', scopes: ['read', 'submit'] })
    const base = gw.address as string
    await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }))
    const body = JSON.stringify({ dsl: 'goal: Inc\nplan:\n  - step: Inc()\n', input: { number: 1 }, wait: true })
    const viaMcp = async (): Promise<number> => {
      const t0 = performance.now()
      const res = await client.callTool({ name: 'Inc', arguments: { number: 1 } })
      const ms = performance.now() - t0
      if (res.isError === true || (res.structuredContent as { number?: number } | undefined)?.number !== 2) throw new Error(`MCP call failed: ${JSON.stringify(res)}`)
      return ms
    }
    const viaGateway = async (): Promise<number> => {
      const t0 = performance.now()
      const res = await fetch(`${base}/dsl-graph/inc/deploy`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body })
      const json = await res.json() as { run?: { state?: string } }
      const ms = performance.now() - t0
      if (json.run?.state !== 'succeeded') throw new Error(`gateway run failed: ${JSON.stringify(json)}`)
      return ms
    }
    for (let i = 0; i < WARMUP; i++) { await viaMcp(); await viaGateway() }
    const mcp: number[] = []
    const http: number[] = []
    for (let i = 0; i < SAMPLES; i++) {
      mcp.push(await viaMcp())
      http.push(await viaGateway())
    }
    return { figures: { 'tools/call 1-step run (MCP over streamable HTTP)': latencyFigure(mcp, { name: 'gateway POST /dsl-graph/:id/deploy, same 1-step run', samples: http }) } }
  } finally {
    await client.close().catch(() => {})
    await node.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

export const benches: Bench[] = [{ name: 'mcp-tools-call', run: mcpVsGateway }]
