/**
 * The MCP bridge (Model Context Protocol, official @modelcontextprotocol/sdk),
 * both directions:
 *
 *   in   `/mcp` on the gateway (streamable HTTP, API key as Bearer) and
 *        `pl mcp` (stdio, for desktop LLM clients; a proxy to `/mcp`): one
 *        tool per capability this node can broker, plus find_capabilities,
 *        run_plan, get_run, decide, verify_receipts
 *   out  `pl cap publish --mcp "<command args>"` / `--mcp-url <url>` (control
 *        API `POST /mcp/publish`, or `services.mcp.servers`): an MCP server's
 *        tools become capabilities served by the `mcp` ExternalRunner
 *
 * @example
 * // pl-node config
 * services:
 *   mcp:
 *     servers:
 *       - target: node /opt/tools/weather-mcp.js
 *         tools: [forecast]
 */
import type { PlComponents, PlService, ServiceComponents } from '../../node.js'
import type { ExecService } from '../../exec/index.js'
import type { Discovery } from '../../discovery/index.js'
import type { ReceiptsService } from '../../receipts/index.js'
import type { GatewayPlugin } from '../../gateway/types.js'
import { McpConnections } from './connections.js'
import { mcpRunner } from './runner.js'
import { Mesh } from './mesh.js'
import { McpTools } from './server.js'
import { mcpRoutes, MCP_PATH } from './http.js'
import { checkPublishRequest, publishMcpTools, type PublishMcpRequest } from './publish.js'
import { McpTargetError } from './errors.js'
import { DEFAULT_CALL_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT_MS, type McpBridgeInit } from './config.js'

export * from './errors.js'
export { mcpTarget, splitArgv, type McpTarget } from './target.js'
export { MCP_KIND } from './runner.js'
export { META_RUN, META_RECEIPT_ROOT, McpTools, buildMcpServer } from './server.js'
export { MCP_PATH } from './http.js'
export { Mesh } from './mesh.js'
export { checkPublishRequest, type PublishMcpRequest } from './publish.js'
export * from './config.js'

/** The services the MCP bridge uses: the executor runs tool calls; discovery (publishing), receipts and the gateway (the `/mcp` endpoint) are optional. */
export interface McpServices {
  exec: ExecService
  discovery?: Discovery
  receipts?: ReceiptsService
  gateway?: { readonly address?: string }
}

export type McpBridgeComponents = Pick<PlComponents, 'store' | 'logger' | 'metrics' | 'api' | 'rpc' | 'libp2p' | 'fetcher'> & { services: McpServices }

export class McpBridge implements PlService {
  readonly connections: McpConnections
  private tools?: McpTools
  private unregister?: () => void
  private started = false
  private readonly log: PlComponents['logger']

  constructor (private readonly c: McpBridgeComponents, private readonly init: McpBridgeInit = {}) {
    this.log = c.logger.child({ component: 'mcp' })
    this.connections = new McpConnections(this.log, init.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS)
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.connections.reopen()
    const { exec, discovery, receipts } = this.c.services
    this.unregister = exec.executor.pool.external.register(mcpRunner({ connections: this.connections, metrics: this.c.metrics, callTimeoutMs: this.init.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS }))
    const fetcher = discovery != null ? this.c.fetcher : undefined
    const mesh = new Mesh({
      executor: exec.executor,
      blocks: this.c.store.blocks,
      ...(discovery != null ? { discovery } : {}),
      ...(receipts != null ? { receipts } : {}),
      ...(fetcher != null ? { fetchDocument: async (peer: string, cid: string, o: { signal?: AbortSignal }) => await fetcher.fetchDocument(peer, cid, { ...o, keep: true }) } : {}),
      logger: this.log,
      ...(this.init.maxTools != null ? { maxTools: this.init.maxTools } : {})
    })
    this.tools = new McpTools({ mesh, metrics: this.c.metrics })
    const api = this.c.api
    if (api != null && discovery != null) {
      api.errorStatus(['McpTargetError'], 400)
      api.errorStatus(['McpServerUnavailableError'], 502)
      // operator only (the control token): a command target starts a process on this machine
      api.route('POST', '/mcp/publish', async ({ body }) => await this.publish(checkPublishRequest(body)))
    }
    for (const s of this.init.servers ?? []) {
      try {
        const done = await this.publish(checkPublishRequest(s))
        this.log.info({ target: s.target, tools: done.map(d => d.tool) }, 'mcp server tools published')
      } catch (err) {
        this.log.warn({ target: s.target, err: (err as Error).message }, 'mcp server tools not published')
      }
    }
  }

  /** Lists the tools of an MCP server and publishes one capability per tool. */
  async publish (req: PublishMcpRequest): Promise<Array<{ cid: string, name: string, tool: string }>> {
    const discovery = this.c.services.discovery
    if (discovery == null) throw new McpTargetError('publishing MCP tools needs the discovery service')
    const client = await this.connections.client(req.target, { signal: AbortSignal.timeout(this.init.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS) })
    return await publishMcpTools(client, discovery, req)
  }

  /** The `/mcp` route, mounted by the gateway when it listens. */
  gatewayPlugins (): Array<{ plugin: GatewayPlugin }> {
    if (this.tools == null) return []
    return [{ plugin: mcpRoutes(this.tools, this.c.metrics) }]
  }

  /** for `GET /health` (`pl mcp` finds the endpoint here) */
  status (): Record<string, unknown> {
    const gateway = this.c.services.gateway?.address
    return { servers: this.connections.size, ...(gateway != null && this.tools != null ? { endpoint: `${gateway}${MCP_PATH}` } : {}) }
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.unregister?.()
    this.unregister = undefined
    await this.connections.close()
  }
}

/** Service factory: `services: { mcp: mcp({ servers: [{ target: 'node tool.js' }] }) }`. */
export function mcp (init: McpBridgeInit = {}) {
  return (components: ServiceComponents<McpServices>): McpBridge => new McpBridge(components, init)
}
