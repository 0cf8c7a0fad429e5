/** Helpers of the MCP bridge tests: daemon-wired meshes with per-node MCP config, the fixture server's command line. */
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type TestMesh, waitFor } from '../helpers/mesh.js'
import { startMesh } from '../gateway/helpers.js'
import type { McpBridgeInit } from '../../src/bridges/mcp/index.js'
import type { PlNode } from '../../src/node.js'
import type { Discovery } from '../../src/discovery/index.js'
import type { ExecService } from '../../src/exec/index.js'

export const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'mcp-fixture-server.js')

/** The command line of the fixture MCP server (node path and script quoted: no shell ever sees it). */
export function fixtureCommand (mode: 'ok' | 'hang' | 'garbage'): string {
  return `"${process.execPath}" "${FIXTURE}" ${mode}`
}

/** N nodes wired as pl-node wires them; node 0 serves the gateway; `mcpInit(i)` is node i's services.mcp. */
export async function startMcpMesh (nodes: number, mcpInit: (i: number) => McpBridgeInit = () => ({})): Promise<TestMesh> {
  return await startMesh(nodes, (i) => i === 0 ? { rateLimit: { burst: 1000, perSecond: 1000 } } : undefined, () => [], () => ({}), (i) => ({ mcp: mcpInit(i) }))
}

export function executor (node: PlNode): ExecService['executor'] {
  return node.service<ExecService>('exec').executor
}

/** Waits until `node`'s catalog knows `count` providers of `name`. */
export async function waitForProviders (node: PlNode, name: string, count = 1): Promise<void> {
  await waitFor(() => node.service<Discovery>('discovery').catalog.find(name).length >= count, 60_000, `${count} provider(s) of ${name} in the catalog`)
}
