/**
 * `pl mcp`: the mesh as MCP tools over stdio, for desktop LLM clients
 * (Claude Desktop and the like start it as their MCP server). It proxies to
 * the `/mcp` endpoint of the node's gateway with an API key.
 *
 * @example
 * PL_API_KEY=plk_... pl mcp --data-dir ~/.pl
 * pl mcp --url http://127.0.0.1:8080/mcp --key plk_...
 */
import type { Command } from 'commander'
import { requireDaemon } from '../daemon.js'
import { action } from '../util.js'
import { McpTargetError } from '../../bridges/mcp/errors.js'

export function register (program: Command): void {
  program.command('mcp')
    .description('Serve the mesh as MCP tools over stdio (for desktop LLM clients): a proxy to the /mcp endpoint of the node\'s gateway. Key: --key or env PL_API_KEY (pl api-key create --scopes read,submit). Endpoint: --url, env PL_MCP_URL, or asked from the running pl-node of the data dir.')
    .option('-d, --data-dir <dir>', 'data directory of the running pl-node (env PL_DATA_DIR)')
    .option('--url <url>', 'the gateway\'s MCP endpoint, e.g. http://127.0.0.1:8080/mcp (env PL_MCP_URL)')
    .option('--key <key>', 'API key (env PL_API_KEY)')
    .action(action(async (opts: { dataDir?: string, url?: string, key?: string }) => {
      const key = opts.key ?? process.env.PL_API_KEY
      if (key == null || key === '') throw new McpTargetError('pl mcp needs an API key: --key or env PL_API_KEY (create one with: pl api-key create mcp --scopes read,submit)')
      let url = opts.url ?? process.env.PL_MCP_URL
      if (url == null || url === '') {
        const health = await (await requireDaemon(opts.dataDir)).request<{ services?: { mcp?: { endpoint?: string } } }>('GET', '/health')
        url = health.services?.mcp?.endpoint
        if (url == null) throw new McpTargetError('the running pl-node serves no gateway: start it with --api-listen HOST:PORT, or pass --url')
      }
      let endpoint: URL
      try { endpoint = new URL(url) } catch { throw new McpTargetError(`--url ${url} is not a URL`) }
      const { stdioProxy } = await import('../../bridges/mcp/stdio.js')
      await stdioProxy({ url: endpoint, key })
    }))
}
