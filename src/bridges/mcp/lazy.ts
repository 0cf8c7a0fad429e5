/**
 * The daemon's MCP bridge, loaded when first needed (src/services.ts puts it
 * in the service map): importing this file loads neither the MCP SDK nor zod.
 */
import type { PlService, ServiceComponents } from '../../node.js'
import { ExternalRunnerMissingError } from '../../exec/errors.js'
import type { GatewayPlugin } from '../../gateway/types.js'
import type { McpBridge, McpBridgeInit, McpServices, PublishMcpRequest } from './index.js'

/**
 * The MCP bridge with its SDK (and zod: ~10 % of a bundled start's CPU)
 * loaded when first needed: at start when `services.mcp.servers` lists
 * servers to publish, else when the gateway mounts `/mcp`, a step of kind
 * `mcp` runs or `POST /mcp/publish` is called. Until then a light `mcp`
 * runner and the control route stand in and hand over to the bridge.
 */
export class LazyMcpBridge implements PlService {
  private bridge?: McpBridge
  private loading?: Promise<McpBridge>
  private unregisterStandIn?: () => void
  private started = false

  constructor (private readonly c: ServiceComponents<McpServices>, private readonly init: McpBridgeInit) {}

  /** Whether the bridge and its SDK are loaded. */
  get loaded (): boolean {
    return this.bridge != null
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    const { api, services } = this.c
    if (api != null && services.discovery != null) {
      api.errorStatus(['McpTargetError'], 400)
      api.errorStatus(['McpServerUnavailableError'], 502)
      // operator only (the control token): a command target starts a process on this machine
      api.route('POST', '/mcp/publish', async ({ body }) => {
        const { checkPublishRequest } = await import('./index.js')
        return await this.publish(checkPublishRequest(body))
      })
    }
    if (this.bridge != null) {
      await this.bridge.start() // started again after a stop
      return
    }
    if ((this.init.servers ?? []).length > 0) {
      await this.load()
      return
    }
    const pool = services.exec.executor.pool.external
    this.unregisterStandIn = pool.register({
      kind: 'mcp',
      run: async (impl, call, options) => {
        await this.load()
        const runner = pool.get('mcp')
        if (runner == null) throw new ExternalRunnerMissingError(`the mcp bridge stopped before ${call.name} ran`, { kind: 'mcp' })
        return await runner.run(impl, call, options)
      }
    })
  }

  /** Loads and starts the bridge (once); its own runner replaces the stand-in. */
  async load (): Promise<McpBridge> {
    this.loading ??= (async () => {
      const { McpBridge } = await import('./index.js')
      if (!this.started) throw new ExternalRunnerMissingError('the mcp bridge is not running', { kind: 'mcp' })
      this.unregisterStandIn?.()
      this.unregisterStandIn = undefined
      // the control route is this wrapper's (routes cannot be added once the control API listens)
      const bridge = new McpBridge({ ...this.c, api: undefined }, this.init)
      await bridge.start()
      this.bridge = bridge
      return bridge
    })()
    try {
      const bridge = await this.loading
      if (!this.started) await bridge.stop()
      return bridge
    } catch (err) {
      this.loading = undefined
      throw err
    }
  }

  /** Lists the tools of an MCP server and publishes one capability per tool (McpBridge.publish). */
  async publish (req: PublishMcpRequest): Promise<Array<{ cid: string, name: string, tool: string }>> {
    return await (await this.load()).publish(req)
  }

  /** `/mcp` on the gateway: loads the bridge when the gateway mounts it. */
  gatewayPlugins (): Array<{ plugin: GatewayPlugin }> {
    const plugin: GatewayPlugin = async (app) => {
      for (const p of (await this.load()).gatewayPlugins()) await app.register(p.plugin)
    }
    return [{ plugin }]
  }

  status (): Record<string, unknown> {
    return this.bridge?.status() ?? { servers: 0 }
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.unregisterStandIn?.()
    this.unregisterStandIn = undefined
    await this.bridge?.stop()
  }
}

/** Service factory of the lazily loaded MCP bridge (LazyMcpBridge). */
export function mcpLazy (init: McpBridgeInit) {
  return (c: ServiceComponents<McpServices>): LazyMcpBridge => new LazyMcpBridge(c, init)
}
