/**
 * The A2A routes on the gateway: the public agent card and the JSON-RPC
 * endpoint. The SDK's framework-agnostic JSON-RPC handlers
 * (JsonRpcTransportHandler for v1.0 method names, LegacyJsonRpcTransportHandler
 * for the v0.3 ones: message/send, message/stream, tasks/get, tasks/cancel,
 * tasks/resubscribe) are driven from a Fastify route, so the gateway's own
 * authentication, scopes, rate limits, body limit and origin checks apply
 * as to every other route (the SDK's Express adapter would bypass them).
 * Messages are read here first (parts.ts): a hostile one is answered with a
 * JSON-RPC error and counted, and never reaches the executor.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AgentCard, A2A_VERSION_HEADER } from '@a2a-js/sdk'
import { JsonRpcTransportHandler, ServerCallContext, validateVersion, type A2ARequestHandler, type User } from '@a2a-js/sdk/server'
import { LegacyJsonRpcTransportHandler } from '@a2a-js/sdk/compat/v0_3/server'
import { errorReply, withErrors } from '../../gateway/index.js'
import type { Principal } from '../../gateway/types.js'
import { readMessage, type ReadOptions } from './parts.js'
import { A2A_CARD_PATH, A2A_RPC_PATH, REQUEST_STATE_KEY } from './constants.js'

export interface A2aRouteDeps {
  handler: A2ARequestHandler
  /** the agent card for a client that reached the gateway at `base` */
  card: (base: string) => AgentCard
  read: () => ReadOptions
  /** counts a refused or failed call by reason (pl_rejected_total{area="a2a"}) */
  reject: (reason: string) => void
}

/** JSON-RPC error codes → the names counted in metrics. */
const RPC_ERRORS: Record<number, string> = {
  [-32700]: 'ParseError',
  [-32600]: 'InvalidRequest',
  [-32601]: 'MethodNotFound',
  [-32602]: 'InvalidParams',
  [-32603]: 'InternalError',
  [-32001]: 'TaskNotFound',
  [-32002]: 'TaskNotCancelable',
  [-32003]: 'PushNotificationNotSupported',
  [-32004]: 'UnsupportedOperation',
  [-32005]: 'ContentTypeNotSupported',
  [-32006]: 'InvalidAgentResponse',
  [-32009]: 'VersionNotSupported'
}

const rpcResponse = {
  description: 'a JSON-RPC 2.0 response ({jsonrpc, id, result} or {jsonrpc, id, error: {code, message, data}}), or for streaming methods a text/event-stream of them',
  type: 'object',
  required: ['jsonrpc'],
  properties: { jsonrpc: { type: 'string' }, id: {}, result: {}, error: { type: 'object', additionalProperties: true, properties: { code: { type: 'integer' }, message: { type: 'string' }, data: {} } } },
  additionalProperties: true
}

const SEND_METHODS = new Set(['SendMessage', 'SendStreamingMessage', 'message/send', 'message/stream'])

interface RpcError { code: number, message: string, data?: unknown }
type RpcAnswer = { jsonrpc: string, id: string | number | null, result?: unknown, error?: unknown }

/** The gateway's principal as an A2A user: tasks are scoped to it (another key's task is not found). */
function userOf (p: Principal | undefined): User {
  const name = p != null ? `${p.kind}:${p.name}` : 'anonymous'
  return { isAuthenticated: p != null, userName: name }
}

function rpcError (name: string, message: string, code: number, legacy: boolean, details?: unknown): RpcError {
  const text = `${name}: ${message}`
  // v1.0 carries google.rpc.ErrorInfo details; v0.3 any data
  return legacy
    ? { code, message: text, data: { name, ...(details != null ? { details } : {}) } }
    : { code, message: text, data: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: name, domain: 'pervasive.link', metadata: {} }] }
}

function requestId (body: unknown): string | number | null {
  const id = (body as { id?: unknown } | null)?.id
  return typeof id === 'string' || typeof id === 'number' ? id : null
}

const isLegacy = (req: FastifyRequest): boolean => {
  const v = req.headers[A2A_VERSION_HEADER.toLowerCase()]
  return (typeof v === 'string' && v !== '' ? v : '0.3') === '0.3'
}

export function a2aRoutes (deps: A2aRouteDeps) {
  const v1 = new JsonRpcTransportHandler(deps.handler)
  const v03 = new LegacyJsonRpcTransportHandler(deps.handler)

  const fail = async (reply: FastifyReply, body: unknown, status: number, error: RpcError, reason: string): Promise<FastifyReply> => {
    deps.reject(reason)
    return await reply.code(status).send({ jsonrpc: '2.0', id: requestId(body), error })
  }

  return async (app: FastifyInstance): Promise<void> => {
    app.get(A2A_CARD_PATH, {
      config: { scope: 'public' },
      schema: {
        operationId: 'a2aAgentCard',
        summary: 'A2A agent card: one skill per capability this node brokers, plus "run a plan"; security = the gateway\'s API keys (bearer)',
        tags: ['a2a'],
        security: [],
        response: withErrors({ 200: { type: 'object', additionalProperties: true } })
      }
    }, async (req, reply) => {
      const card = deps.card(`${req.protocol}://${req.headers.host ?? 'localhost'}`)
      return await reply.header('cache-control', 'no-cache').send(AgentCard.toJSON(card))
    })

    app.post(A2A_RPC_PATH, {
      config: { scope: 'submit' },
      schema: {
        operationId: 'a2aJsonRpc',
        summary: 'A2A JSON-RPC 2.0 endpoint (v1.0 methods SendMessage, SendStreamingMessage, GetTask, CancelTask, SubscribeToTask; v0.3 methods message/send, message/stream, tasks/get, tasks/cancel, tasks/resubscribe with no A2A-Version header). Streaming methods answer text/event-stream. See docs/BRIDGES.md.',
        tags: ['a2a'],
        body: {
          type: 'object',
          required: ['jsonrpc', 'method'],
          properties: { jsonrpc: { const: '2.0' }, id: { description: 'string, integer or null' }, method: { type: 'string', maxLength: 64 }, params: { type: 'object' } }
        },
        // failures answer as JSON-RPC too (401/403 for credentials, 400/413 for bodies the gateway refuses)
        response: { 200: rpcResponse, '4xx': rpcResponse, '5xx': rpcResponse }
      },
      // every failure on this route, the gateway's own (auth, body limit, schema) included, answers as JSON-RPC
      // eslint-disable-next-line @typescript-eslint/no-misused-promises -- fastify awaits a route errorHandler's promise as it does setErrorHandler's (lib/error-handler.js); only its type says void
      errorHandler: async (err, req, reply) => {
        const { status, body } = await errorReply(err)
        // credentials: -32000 (JSON-RPC's implementation-defined range; A2A defines no code for them), with the HTTP 401/403
        const code = status === 401 || status === 403 ? -32000 : status >= 500 ? -32603 : status === 415 ? -32005 : -32600
        return await fail(reply, req.body, status, rpcError(body.error.name, body.error.message, code, isLegacy(req)), body.error.name)
      }
    }, async (req, reply) => {
      const legacy = isLegacy(req)
      const body = req.body as { method: string, params?: { message?: unknown } }
      const state = new Map<string, unknown>()
      if (SEND_METHODS.has(body.method)) {
        try {
          state.set(REQUEST_STATE_KEY, readMessage(body.params?.message, deps.read()))
        } catch (err) {
          const e = err as Error & { rpcCode?: number, details?: unknown }
          return await fail(reply, body, 200, rpcError(e.name, e.message, e.rpcCode ?? -32602, legacy, e.details), e.name)
        }
      }
      const version = req.headers[A2A_VERSION_HEADER.toLowerCase()]
      const context = new ServerCallContext({ user: userOf(req.principal), requestedVersion: typeof version === 'string' && version !== '' ? version : undefined, state })
      try {
        validateVersion(context.requestedVersion, deps.card(''), 'JSONRPC')
      } catch (err) {
        return await fail(reply, body, 200, (legacy ? LegacyJsonRpcTransportHandler.mapToLegacyJSONRPCError(err) : JsonRpcTransportHandler.mapToJSONRPCError(err)), 'VersionNotSupported')
      }
      const answer = await (legacy ? v03 : v1).handle(body, context)
      if (typeof (answer as AsyncGenerator)[Symbol.asyncIterator] !== 'function') {
        const a = answer as RpcAnswer
        if (a.error != null) deps.reject(RPC_ERRORS[(a.error as RpcError).code] ?? 'Error')
        return await reply.send(a)
      }
      return await stream(req, reply, answer as AsyncGenerator<RpcAnswer>, deps, legacy)
    })
  }
}

/** Writes a stream of JSON-RPC responses as server-sent events; a pre-stream error is a plain JSON-RPC answer. */
async function stream (req: FastifyRequest, reply: FastifyReply, events: AsyncGenerator<RpcAnswer>, deps: A2aRouteDeps, legacy: boolean): Promise<FastifyReply> {
  const mapError = (err: unknown): unknown => legacy ? LegacyJsonRpcTransportHandler.mapToLegacyJSONRPCError(err) : JsonRpcTransportHandler.mapToJSONRPCError(err)
  let first: IteratorResult<RpcAnswer>
  try {
    first = await events.next()
  } catch (err) {
    const error = mapError(err) as RpcError
    deps.reject(RPC_ERRORS[error.code] ?? 'Error')
    return await reply.send({ jsonrpc: '2.0', id: requestId(req.body), error })
  }
  reply.hijack()
  const raw = reply.raw
  raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' })
  const onClose = (): void => { void events.return(undefined) }
  raw.on('close', onClose)
  try {
    if (first.done !== true) raw.write(`data: ${JSON.stringify(first.value)}\n\n`)
    for (;;) {
      const next = await events.next()
      if (next.done === true || raw.destroyed) break
      raw.write(`data: ${JSON.stringify(next.value)}\n\n`)
    }
  } catch (err) {
    if (!raw.destroyed) raw.write(`event: error\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: requestId(req.body), error: mapError(err) })}\n\n`)
  } finally {
    raw.off('close', onClose)
    if (!raw.writableEnded) raw.end()
  }
  return reply
}
