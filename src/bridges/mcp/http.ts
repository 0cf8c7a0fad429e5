/**
 * `/mcp` on the gateway: MCP over streamable HTTP, stateless (a fresh MCP
 * Server and transport per POST, so nothing is kept per client). The
 * gateway authenticates first (`Authorization: Bearer <API key>`, scope
 * `read`; tools that run something need `submit`); refusals answer a
 * JSON-RPC error body with the HTTP status (401/403/429). GET and DELETE
 * answer 405: this server opens no standalone SSE stream and keeps no
 * session.
 */
import type { FastifyInstance } from 'fastify'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { Metrics } from '../../core/index.js'
import { errorReply, hasScope } from '../../gateway/index.js'
import type { GatewayPlugin } from '../../gateway/types.js'
import { buildMcpServer, type McpTools } from './server.js'

export const MCP_PATH = '/mcp'

const jsonRpc = { type: 'object', additionalProperties: true, description: 'a JSON-RPC 2.0 message (MCP): initialize, tools/list, tools/call, notifications...', properties: { jsonrpc: { type: 'string', enum: ['2.0'] }, id: { anyOf: [{ type: 'string' }, { type: 'integer' }] }, method: { type: 'string' }, params: { type: 'object', additionalProperties: true } } }
const rpcError = { type: 'object', additionalProperties: true, properties: { jsonrpc: { type: 'string' }, id: { anyOf: [{ type: 'string' }, { type: 'integer' }, { type: 'null' }] }, error: { type: 'object', additionalProperties: true, properties: { code: { type: 'integer' }, message: { type: 'string' }, data: { type: 'object', additionalProperties: true } } } } }

function wantsProgress (body: unknown): boolean {
  const list = Array.isArray(body) ? body : [body]
  return list.some(m => (m as { params?: { _meta?: { progressToken?: unknown } } } | null)?.params?._meta?.progressToken != null)
}

export function mcpRoutes (tools: McpTools, metrics?: Metrics): GatewayPlugin {
  return async (app: FastifyInstance): Promise<void> => {
    // refusals of this route (auth, scope, rate, body) in MCP's own format: a JSON-RPC error
    app.setErrorHandler(async (err, _req, rep) => {
      const { status, body } = await errorReply(err)
      metrics?.reject('mcp', body.error.name)
      if (status === 401) void rep.header('www-authenticate', 'Bearer')
      return await rep.code(status).send({ jsonrpc: '2.0', id: null, error: { code: status === 401 || status === 403 ? -32001 : status === 429 ? -32029 : -32600, message: body.error.message, data: { name: body.error.name } } })
    })

    app.post<{ Body: unknown }>(MCP_PATH, {
      config: { scope: 'read' },
      schema: {
        operationId: 'mcp',
        summary: 'MCP (Model Context Protocol) streamable HTTP endpoint: the mesh as tools (docs/BRIDGES.md, MCP)',
        description: 'Send JSON-RPC 2.0 MCP messages (initialize, tools/list, tools/call). Answers application/json or a text/event-stream carrying progress notifications and the result. Tools that run something need the `submit` scope.',
        tags: ['mcp'],
        body: { oneOf: [jsonRpc, { type: 'array', maxItems: 100, items: jsonRpc }] },
        response: {
          200: { ...jsonRpc, description: 'the JSON-RPC answer (application/json) or an SSE stream of messages (text/event-stream)' },
          202: { description: 'a notification or response was accepted', type: 'null' },
          '4xx': { description: 'a JSON-RPC error (auth, scope, rate limit, malformed message)', ...rpcError }
        }
      }
    }, async (req, reply) => {
      const principal = req.principal
      const server = buildMcpServer(tools, principal != null ? (scope) => hasScope(principal, scope) : undefined)
      // an SSE answer only when a call asked for progress: a plain JSON answer is cheaper
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: !wantsProgress(req.body) })
      reply.hijack()
      reply.raw.on('close', () => {
        void transport.close().catch(() => {})
        void server.close().catch(() => {})
      })
      await server.connect(transport)
      await transport.handleRequest(req.raw, reply.raw, req.body)
    })

    for (const method of ['GET', 'DELETE'] as const) {
      app.route({
        method,
        url: MCP_PATH,
        config: { scope: 'read' },
        schema: {
          operationId: `mcp${method === 'GET' ? 'Stream' : 'EndSession'}`,
          summary: `Not offered: this MCP endpoint is stateless (no standalone SSE stream, no session to ${method === 'GET' ? 'resume' : 'end'})`,
          tags: ['mcp'],
          response: { 405: { description: 'method not allowed', ...rpcError } }
        },
        handler: async (_req, rep) => await rep.code(405).header('allow', 'POST').send({ jsonrpc: '2.0', id: null, error: { code: -32000, message: `${method} ${MCP_PATH} is not offered: POST JSON-RPC messages (stateless server)` } })
      })
    }
  }
}
