/**
 * One MCP client connection per server (`target`), opened on first use and
 * kept: a stdio server is one long-lived child process, an HTTP server one
 * session. A connection that closes (the process exited, the session ended)
 * or hangs is dropped and the next call opens a new one.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { Logger } from '../../core/logger.js'
import { VERSION } from '../../cli/version.js'
import { mcpTarget } from './target.js'
import { McpServerUnavailableError } from './errors.js'

interface Conn { client: Client, transport: Transport }

export class McpConnections {
  private readonly open = new Map<string, Promise<Conn>>()
  private closed = false

  constructor (private readonly log: Logger, private readonly connectTimeoutMs: number) {}

  /** The client of `target`, connecting (and initializing) it when none is open. */
  async client (target: string, options: { signal?: AbortSignal } = {}): Promise<Client> {
    if (this.closed) throw new McpServerUnavailableError('the MCP bridge is stopped', { target }, true)
    let p = this.open.get(target)
    if (p == null) {
      p = this.connect(target, options)
      this.open.set(target, p)
      p.catch(() => { if (this.open.get(target) === p) this.open.delete(target) })
    }
    return (await p).client
  }

  private async connect (target: string, options: { signal?: AbortSignal }): Promise<Conn> {
    const t = mcpTarget(target)
    const transport: Transport = t.kind === 'http'
      ? new StreamableHTTPClientTransport(t.url)
      : new StdioClientTransport({ command: t.command, args: t.args, stderr: 'pipe' })
    if (transport instanceof StdioClientTransport) {
      transport.stderr?.on('data', (chunk: Buffer) => { this.log.debug({ target, stderr: chunk.toString('utf8').slice(0, 2000) }, 'mcp server stderr') })
    }
    const client = new Client({ name: 'pl-node', version: VERSION })
    const conn: Conn = { client, transport }
    client.onclose = () => { void this.forget(target, conn) }
    try {
      await client.connect(transport, { timeout: this.connectTimeoutMs, ...(options.signal != null ? { signal: options.signal } : {}) })
    } catch (err) {
      await client.close().catch(() => {})
      throw new McpServerUnavailableError(`cannot start or reach MCP server ${target}: ${(err as Error).message}`, { target }, true)
    }
    this.log.info({ target, server: client.getServerVersion()?.name }, 'mcp server connected')
    return conn
  }

  private async forget (target: string, conn: Conn): Promise<void> {
    const p = this.open.get(target)
    if (p != null && await p.catch(() => undefined) === conn) this.open.delete(target)
  }

  /** Closes the connection of `target` (a hung server: its process is killed); the next call reconnects. */
  async drop (target: string): Promise<void> {
    const p = this.open.get(target)
    this.open.delete(target)
    const conn = await p?.catch(() => undefined)
    await conn?.client.close().catch(() => {})
  }

  /** Accepts calls again after close() (a restarted bridge). */
  reopen (): void {
    this.closed = false
  }

  get size (): number {
    return this.open.size
  }

  async close (): Promise<void> {
    this.closed = true
    const all = [...this.open.keys()]
    await Promise.allSettled(all.map(async t => await this.drop(t)))
  }
}
