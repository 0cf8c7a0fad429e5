/**
 * `pl cap publish --mcp "<command args>"` / `--mcp-url <url>`: the node
 * connects to the MCP server, lists its tools and publishes one
 * Capability.v1 per tool (io from the tool's input/output schemas) bound to
 * `impl: {external: {kind: 'mcp', target, options: {tool}}}`. Only the
 * operator may do this (control API token, or config): a command target
 * starts a local process.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { CapabilityDescriptorInput, ImplRef } from '../../discovery/types.js'
import { MCP_KIND } from './runner.js'
import { McpTargetError } from './errors.js'

export interface PublishMcpRequest {
  /** a command line (stdio) or an http(s) URL (streamable HTTP) */
  target: string
  /** only these tools @default every tool the server lists */
  tools?: string[]
  /** prepended to each capability name @default '' */
  prefix?: string
  /** @default '1.0.0' */
  version?: string
  price?: number
}

export interface Publisher {
  publish: (input: CapabilityDescriptorInput, impl?: ImplRef) => Promise<{ cid: string, descriptor: { name: string } }>
}

/** A tool name as a capability (and DSL step) name: letters, digits and `_`, starting with a letter. */
export function capabilityName (prefix: string, tool: string): string {
  const name = `${prefix}${tool}`.replace(/[^A-Za-z0-9_]/g, '_')
  return /^[A-Za-z]/.test(name) ? name.slice(0, 128) : `T${name}`.slice(0, 128)
}

/** The tools of `target` as capability descriptors. */
export async function mcpDescriptors (client: Client, req: PublishMcpRequest): Promise<Array<{ tool: string, descriptor: CapabilityDescriptorInput }>> {
  const out: Array<{ tool: string, descriptor: CapabilityDescriptorInput }> = []
  let cursor: string | undefined
  const seen = new Set<string>()
  for (let page = 0; page < 100; page++) {
    const res = await client.listTools(cursor != null ? { cursor } : undefined)
    for (const t of res.tools) {
      if (req.tools != null && !req.tools.includes(t.name)) continue
      seen.add(t.name)
      const descriptor: CapabilityDescriptorInput = {
        name: capabilityName(req.prefix ?? '', t.name),
        version: req.version ?? '1.0.0',
        ...(t.description != null ? { description: t.description.slice(0, 2000) } : {}),
        io: { input: t.inputSchema, output: (t.outputSchema as Record<string, unknown> | undefined) ?? { type: 'object' } },
        attrs: { mcp_tool: t.name },
        ...(req.price != null ? { price: req.price } : {})
      }
      out.push({ tool: t.name, descriptor })
    }
    cursor = res.nextCursor
    if (cursor == null) break
  }
  const missing = (req.tools ?? []).filter(t => !seen.has(t))
  if (missing.length > 0) throw new McpTargetError(`MCP server ${req.target} has no tool ${missing.join(', ')}`, { target: req.target, missing })
  if (out.length === 0) throw new McpTargetError(`MCP server ${req.target} lists no tools`, { target: req.target })
  return out
}

export async function publishMcpTools (client: Client, publisher: Publisher, req: PublishMcpRequest): Promise<Array<{ cid: string, name: string, tool: string }>> {
  const out: Array<{ cid: string, name: string, tool: string }> = []
  for (const { tool, descriptor } of await mcpDescriptors(client, req)) {
    const { cid } = await publisher.publish(descriptor, { external: { kind: MCP_KIND, target: req.target, options: { tool } } })
    out.push({ cid, name: descriptor.name, tool })
  }
  return out
}

/** Checks a publish request from the control API. */
export function checkPublishRequest (body: unknown): PublishMcpRequest {
  const b = (body ?? {}) as Record<string, unknown>
  if (typeof b !== 'object' || Array.isArray(b)) throw new McpTargetError('body must be {target, tools?, prefix?, version?, price?}')
  for (const k of Object.keys(b)) if (!['target', 'tools', 'prefix', 'version', 'price'].includes(k)) throw new McpTargetError(`unknown field ${k}`)
  if (typeof b.target !== 'string' || b.target.trim() === '') throw new McpTargetError('target must be the MCP server command line or its http(s) URL')
  if (b.tools != null && !(Array.isArray(b.tools) && b.tools.every(t => typeof t === 'string'))) throw new McpTargetError('tools must be a list of tool names')
  if (b.prefix != null && (typeof b.prefix !== 'string' || !/^[A-Za-z0-9_]{0,32}$/.test(b.prefix))) throw new McpTargetError('prefix must be up to 32 letters, digits or _')
  if (b.version != null && typeof b.version !== 'string') throw new McpTargetError('version must be a string')
  if (b.price != null && typeof b.price !== 'number') throw new McpTargetError('price must be a number')
  return { ...b, target: b.target.trim() }
}
