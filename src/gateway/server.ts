/**
 * The gateway's HTTP server: a Fastify instance of its own (not the control
 * API's: that one listens on loopback with one all-powerful token; this one
 * may face a network, so it has its own body limit, auth, rate limits,
 * origin checks, schemas and error shape). Routes come as plugins: the
 * gateway's own (runs, graph, blocks, keys, streams) and any GatewayPlugin
 * other areas add (the registry's /workflows routes).
 */
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { CONTEXT_WELL_KNOWN, plContext } from '../receipts/index.js'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import swagger from '@fastify/swagger'
import websocket from '@fastify/websocket'
import type { Logger } from 'pino'
import { errorToData } from '../core/errors.js'
import type { SchemaRegistry } from '../spec/index.js'
import type { GatewayPlugin } from './types.js'
import { Authenticator, type AuthDeps } from './auth.js'
import { BodyTooLargeError, HeaderTooLargeError, MalformedBodyError, OriginNotAllowedError, RequestValidationError, RouteNotFoundError } from './errors.js'
import { DEFAULT_BODY_LIMIT, ENVELOPE_CONTENT_TYPE } from './constants.js'
import { errorSchema } from './schemas.js'
import { DEFAULT_MAX_JSON_DEPTH, guardJsonParser, type JsonParserGuard } from '../core/json-guard.js'

export interface ServerInit {
  bodyLimit?: number
  /** exact `Origin` values allowed (browsers); none: requests carrying an Origin are refused, CORS is off */
  allowedOrigins?: string[]
  /** exact `Host` header values (host:port) allowed; none: any Host */
  allowedHosts?: string[]
  /** deepest nesting of a JSON body, any route, any JSON content type @default DEFAULT_MAX_JSON_DEPTH (128) */
  maxJsonDepth?: number
  /** called with the error name of each request refused before a route saw it (the service counts it: `pl_rejected_total{area="gateway"}`) */
  onReject?: (reason: string) => void
  logger?: Logger
}

/** What WebSocket routes need of the depth guard: their messages are JSON text from outside, parsed after the same check as a body. */
export interface SocketJsonGuard {
  /** deepest nesting of a message (`api.maxJsonDepth`) */
  maxDepth: number
  /** counts a refusal of the gateway's own socket (`pl_rejected_total{area="gateway"}`); other routes count under their area */
  reject: (reason: string) => void
}

declare module 'fastify' {
  interface FastifyInstance {
    /** the depth guard for WebSocket messages (`req.server.plJsonGuard` in a wsHandler) */
    plJsonGuard: SocketJsonGuard
  }
}

/** Protocol schemas routes may `$ref` (`pl:SignedReceipt.v1`), as OpenAPI component names (the same documents the wire types are generated from, src/wire). */
const SHARED_SCHEMAS = ['Capability.v1', 'Receipt.v1', 'SignedReceipt.v1', 'Workflow.v1']

/**
 * HTTP status of errors raised below the gateway (by name); the gateway's
 * own errors carry `statusCode`. `*NotFoundError` → 404, else 500.
 */
const STATUS_BY_NAME: Record<string, number> = {
  InvalidRequestError: 400,
  InvalidBodyError: 400,
  InvalidEncodingError: 400,
  CidMismatchError: 400,
  InvalidDecisionError: 400,
  BindingError: 400,
  DecisionNotPendingError: 409,
  RunNotResumableError: 409,
  ZipTooLargeError: 413,
  NoProvidersError: 422,
  NoBidsError: 422,
  InvalidCapabilityQueryError: 400,
  ReceiptExportError: 409
}

let workflowErrorNames: Set<string> | undefined
async function isWorkflowError (name: string): Promise<boolean> {
  if (workflowErrorNames == null) {
    const mod = await import('../workflow/errors.js') as Record<string, unknown>
    workflowErrorNames = new Set(Object.entries(mod).filter(([, v]) => typeof v === 'function').map(([k]) => k))
  }
  return workflowErrorNames.has(name)
}

/** The status and body of any error a route or hook throws: 4xx for bad input, never 500 for it. */
export async function errorReply (err: unknown): Promise<{ status: number, body: { error: { name: string, message: string, details?: Record<string, unknown> } } }> {
  const e = err as FastifyError & { details?: Record<string, unknown> }
  let data: { name: string, message: string, details?: Record<string, unknown> }
  let status: number
  if (Array.isArray(e?.validation)) {
    const v = new RequestValidationError(`${e.validationContext ?? 'request'}: ${e.message}`, { context: e.validationContext, errors: e.validation.slice(0, 5).map(x => ({ path: x.instancePath, message: x.message, params: x.params })) })
    return { status: 400, body: { error: { name: v.name, message: v.message, details: v.details } } }
  }
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return reply(new BodyTooLargeError(e.message, {}), 413)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return reply(new MalformedBodyError(`${e.message}; send application/json`, {}), 415)
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return reply(new MalformedBodyError(e.message, {}), 400)
  }
  if (e instanceof SyntaxError) return reply(new MalformedBodyError(`body is not valid JSON: ${e.message}`, {}), 400)
  data = errorToData(err)
  delete (data as { stack?: string }).stack
  delete (data as { retryable?: boolean }).retryable
  if (data.details != null && Object.keys(data.details).length === 0) delete data.details
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) status = e.statusCode
  else if (typeof e?.statusCode === 'number' && e.statusCode === 503) status = 503
  else status = STATUS_BY_NAME[data.name] ?? (data.name.endsWith('NotFoundError') ? 404 : await isWorkflowError(data.name) ? 400 : 500)
  if (e?.code?.startsWith('FST_') === true && status < 500) data = { name: 'MalformedBodyError', message: e.message }
  return { status, body: { error: data } }
}

function reply (err: Error & { details?: Record<string, unknown> }, status: number): { status: number, body: { error: { name: string, message: string, details?: Record<string, unknown> } } } {
  return { status, body: { error: { name: err.name, message: err.message, ...(err.details != null && Object.keys(err.details).length > 0 ? { details: err.details } : {}) } } }
}

/**
 * Node's HTTP parser refuses a request before Fastify sees it: headers over
 * `maxHeaderSize` (16 KiB; an oversized `Authorization: PL-Envelope`), a
 * timeout, bytes that are not HTTP. Answered as Fastify would (431, 408,
 * 400); headers too large in the gateway's error shape, and counted.
 */
function clientErrorHandler (onReject: ((reason: string) => void) | undefined) {
  return (err: Error & { code?: string }, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return
    let status = 400
    let text = '{"error":"Bad Request","message":"Client Error","statusCode":400}'
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      const e = new HeaderTooLargeError('request headers are over the size limit (16 KiB)')
      onReject?.(e.name)
      status = e.statusCode
      text = JSON.stringify({ error: { name: e.name, message: e.message } })
    } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      status = 408
      text = '{"error":"Request Timeout","message":"Client Timeout","statusCode":408}'
    }
    if (socket.writable) socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Length: ${Buffer.byteLength(text)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${text}`)
    socket.destroy(err)
  }
}

/** `/ui/` (and `/ui/?…`) → `/ui`: the web console's shell (src/gateway/console.ts). */
export function consoleUrl (url: string): string {
  return url === '/ui/' || url.startsWith('/ui/?') ? '/ui' + url.slice(4) : url
}

function sameOrigin (origin: string, host: string | undefined): boolean {
  try {
    const u = new URL(origin)
    return (u.protocol === 'http:' || u.protocol === 'https:') && host != null && u.host === host.toLowerCase()
  } catch {
    return false
  }
}

export async function buildServer (init: ServerInit, auth: AuthDeps, registry: SchemaRegistry, plugins: Array<{ plugin: GatewayPlugin, opts?: Record<string, unknown> }>): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    // stop() must not wait on clients: open SSE streams and keep-alive sockets are closed with the server
    forceCloseConnections: true,
    bodyLimit: init.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // unknown fields are an error (400), not silently dropped; no type coercion of JSON bodies
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    return503OnClosing: true,
    clientErrorHandler: clientErrorHandler(init.onReject),
    // the console lives at /ui/; routes are declared without trailing slashes (the OpenAPI lint's rule), so /ui/ is /ui
    rewriteUrl: (req) => consoleUrl(req.url ?? '/')
  })
  const log = init.logger
  const maxDepth = init.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH
  // the signed envelope of an `Authorization: PL-Envelope` header is JSON from outside too: same guard
  const authn = new Authenticator({ ...auth, maxJsonDepth: maxDepth, onReject: init.onReject })

  // every JSON body, whatever the route (the bridges' and the registry's too), passes the node's one depth guard before it is parsed
  const guard: Omit<JsonParserGuard, 'parse'> = { maxDepth, onTooDeep: (err) => { init.onReject?.(err.name) } }
  // and so does every WebSocket message (the gateway's /ws, the attached providers' /attach)
  app.decorate('plJsonGuard', { maxDepth, reject: (reason: string) => { init.onReject?.(reason) } })
  const parseJson = app.getDefaultJsonParser('error', 'error')
  guardJsonParser(app, 'application/json', { ...guard, parse: (req, text, done) => { void parseJson(req, text, done) } })
  guardJsonParser(app, ENVELOPE_CONTENT_TYPE, {
    ...guard,
    parse: (_req, text, done) => {
      try { done(null, JSON.parse(text)) } catch (err) { done(new MalformedBodyError(`signed request body is not JSON: ${(err as Error).message}`), undefined) }
    }
  })
  app.addContentTypeParser(['application/zip', 'application/octet-stream'], { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })

  for (const type of SHARED_SCHEMAS) {
    const { $schema: _s, ...schema } = registry.get(type).schema
    app.addSchema(schema)
  }

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'pl-node agent gateway',
        version: '1',
        description: 'HTTP/JSON and WebSocket front door of a Pervasive.link mesh node: runs, estimates, deployments, receipts, live events. See docs/GATEWAY.md.',
        license: { name: 'MIT', identifier: 'MIT' }
      },
      servers: [{ url: '/' }],
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'an API key from `pl api-key create`' },
          signedRequest: { type: 'apiKey', in: 'header', name: 'Authorization', description: '`PL-Envelope <base64url JSON Envelope.v1>` or a body of type application/pl-envelope+json (GatewayRequest.v1 signed by a registered agent)' }
        }
      },
      security: [{ apiKey: [] }, { signedRequest: [] }]
    },
    refResolver: { buildLocalReference: (json) => String(json.$id).replace(/[^A-Za-z0-9._-]/g, '_') }
  })
  await app.register(websocket, { options: { maxPayload: init.bodyLimit ?? DEFAULT_BODY_LIMIT } })

  const origins = new Set(init.allowedOrigins ?? [])
  const hosts = init.allowedHosts != null && init.allowedHosts.length > 0 ? new Set(init.allowedHosts.map(h => h.toLowerCase())) : undefined
  app.addHook('onRequest', async (req: FastifyRequest, rep: FastifyReply) => {
    if (hosts != null && !hosts.has(String(req.headers.host ?? '').toLowerCase())) throw new OriginNotAllowedError(`Host "${String(req.headers.host ?? '')}" is not on this gateway's allow-list (api.allowedHosts)`)
    const origin = req.headers.origin
    // the console's own requests (same origin: POSTs and WebSockets carry an Origin too) need no CORS
    if (origin != null && !sameOrigin(origin, req.headers.host)) {
      if (!origins.has(origin)) throw new OriginNotAllowedError(`Origin "${origin}" is not allowed (api.allowedOrigins); CORS is off unless configured`, { origin })
      void rep.header('access-control-allow-origin', origin).header('vary', 'Origin')
      if (req.method === 'OPTIONS') {
        await rep.code(204)
          .header('access-control-allow-methods', 'GET, POST, PUT, DELETE')
          .header('access-control-allow-headers', 'authorization, content-type')
          .header('access-control-max-age', '600')
          .send()
        return rep
      }
    }
    if (req.is404) return // the not-found handler answers; nothing to authorise
    await authn.onRequest(req, rep)
  })
  app.addHook('preValidation', async (req, rep) => { await authn.preValidation(req, rep) })

  app.setErrorHandler(async (err, req, rep) => {
    const { status, body } = await errorReply(err)
    if (status >= 500) log?.warn({ err: errorToData(err), url: req.url }, 'gateway request failed')
    return await rep.code(status).send(body)
  })
  app.setNotFoundHandler(async (req, rep) => {
    const e = new RouteNotFoundError(`no route ${req.method} ${req.url.split('?')[0]}`)
    return await rep.code(404).send({ error: { name: e.name, message: e.message } })
  })

  // every route, as registered (the OpenAPI test checks each one is documented)
  const routes: Array<{ method: string, url: string }> = []
  app.decorate('plRoutes', routes)
  app.addHook('onRoute', (r) => {
    for (const m of Array.isArray(r.method) ? r.method : [r.method]) if (m !== 'HEAD') routes.push({ method: m, url: r.url })
  })
  app.get('/openapi.json', { config: { scope: 'public' }, schema: { operationId: 'openapi', summary: 'This OpenAPI 3.1 document', tags: ['meta'], security: [], response: { 200: { type: 'object', additionalProperties: true }, '4xx': errorSchema } } }, async () => app.swagger())
  // the pl JSON-LD context (docs/LINKED-DATA.md): public, content-addressed, immutable for a given CID
  app.get(CONTEXT_WELL_KNOWN, { config: { scope: 'public' }, schema: { operationId: 'jsonldContext', summary: 'The pl JSON-LD context (Capability, Receipt, Policy, Attestation terms; PROV-O, schema.org); its CID in the ETag', tags: ['meta'], security: [], response: { 200: { type: 'object', additionalProperties: true } } } }, async (_req, rep) => {
    const { doc, cid } = plContext()
    return await rep.header('content-type', 'application/ld+json').header('etag', `"${cid}"`).header('cache-control', 'public, max-age=3600').send(JSON.stringify(doc))
  })
  for (const { plugin, opts } of plugins) await app.register(plugin, opts ?? {})
  return app
}
