/**
 * The outbound half of the bridge: an ExternalRunner for `kind: 'mcp'`. An
 * awarded step of a capability published from an MCP tool calls that tool
 * (`impl.options.tool`) on the server `impl.target` with the step's input
 * and returns its structured result (or its content blocks). The receipt's
 * `via` names the server and the tool. A server that cannot be reached,
 * hangs or answers garbage fails the step retryably, so the requester fails
 * over to another provider.
 */
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js'
import type { ExternalImpl, ExternalRunner } from '../../exec/index.js'
import type { ModuleCall, ModuleCallOptions, ModuleResult } from '../../exec/types.js'
import type { Metrics } from '../../core/index.js'
import type { McpConnections } from './connections.js'
import { McpBadAnswerError, McpServerHungError, McpServerUnavailableError, McpTargetError, McpToolError } from './errors.js'

export const MCP_KIND = 'mcp'

export interface McpRunnerInit {
  connections: McpConnections
  metrics?: Metrics
  /** a tools/call's time budget when the step's wall limit is longer */
  callTimeoutMs: number
}

/** The step input as the tool takes it: the executor's `previous_outputs` is not the tool's. */
function toolArguments (inputData: unknown): Record<string, unknown> {
  if (inputData == null || typeof inputData !== 'object' || Array.isArray(inputData)) return {}
  const { previous_outputs: _p, ...args } = inputData as Record<string, unknown>
  return args
}

export function mcpRunner (init: McpRunnerInit): ExternalRunner {
  const fail = (reason: string): void => { init.metrics?.reject('mcp-out', reason) }
  return {
    kind: MCP_KIND,
    async run (impl: ExternalImpl, call: ModuleCall, options: ModuleCallOptions): Promise<ModuleResult> {
      const tool = impl.options?.tool
      if (typeof tool !== 'string' || tool === '') throw new McpTargetError(`capability ${call.name}: its mcp implementation names no tool (options.tool)`, { target: impl.target })
      const started = performance.now()
      const timeout = Math.min(call.limits?.wall_ms ?? init.callTimeoutMs, init.callTimeoutMs)
      const client = await init.connections.client(impl.target, { signal: options.signal })
      let result: Record<string, unknown>
      try {
        result = await client.callTool({ name: tool, arguments: toolArguments(call.inputData) }, undefined, {
          timeout,
          ...(options.signal != null ? { signal: options.signal } : {}),
          onprogress: (p) => { options.onProgress?.(p.progress, p.total, p.message) }
        })
      } catch (err) {
        throw await mapCallError(err, impl.target, tool, init.connections, fail)
      }
      if (result.isError === true) {
        fail('McpToolError')
        throw new McpToolError(`MCP tool ${tool} of ${impl.target} failed: ${textOf(result.content).slice(0, 1000)}`, { target: impl.target, tool })
      }
      const output = result.structuredContent ?? { content: result.content }
      const wall = Math.round(performance.now() - started)
      return { output, usage: { cpu_ms: 0, wall_ms: wall, mem_peak_mb: 0 }, via: { kind: MCP_KIND, target: impl.target, ref: tool } }
    }
  }
}

function textOf (content: unknown): string {
  if (!Array.isArray(content)) return ''
  return content.map(c => typeof c?.text === 'string' ? c.text : '').join('\n')
}

async function mapCallError (err: unknown, target: string, tool: string, connections: McpConnections, fail: (reason: string) => void): Promise<Error> {
  const e = err as Error & { code?: number }
  const details = { target, tool }
  let out: Error
  if (e instanceof McpError && e.code === ErrorCode.RequestTimeout) {
    // a hung server keeps hanging: kill it, the next call starts a fresh one
    await connections.drop(target)
    out = new McpServerHungError(`MCP server ${target} did not answer tools/call ${tool} in time`, details, true)
  } else if (e instanceof McpError && e.code === ErrorCode.ConnectionClosed) {
    await connections.drop(target)
    out = new McpServerUnavailableError(`MCP server ${target} closed the connection during tools/call ${tool}`, details, true)
  } else if (e instanceof McpError && (e.code === ErrorCode.InvalidParams || e.code === ErrorCode.MethodNotFound)) {
    out = new McpToolError(`MCP server ${target} refused tools/call ${tool}: ${e.message}`, details)
  } else if (e instanceof McpError && e.code < 0 && e.code > -32100 && e.code !== ErrorCode.InternalError) {
    out = new McpBadAnswerError(`MCP server ${target} answered tools/call ${tool} with error ${e.code}: ${e.message}`, details, true)
  } else if (e?.name === 'AbortError' || e instanceof DOMException) {
    out = new McpServerHungError(`tools/call ${tool} on ${target} was aborted (wall limit or cancel)`, details, true)
  } else {
    // a result that does not parse (ZodError), an answer of the wrong shape, an HTTP error
    await connections.drop(target)
    out = new McpBadAnswerError(`MCP server ${target} answered tools/call ${tool} with garbage: ${e?.message ?? String(e)}`.slice(0, 2000), details, true)
  }
  fail(out.name)
  return out
}
