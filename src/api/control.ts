/**
 * The local control API: HTTP on 127.0.0.1 only, protected by a bearer token
 * written with the URL to `<data dir>/control.json` (mode 0600). Areas add
 * routes through `route()` before `start()`; `pl` commands reach the running
 * process through `ControlClient`. Every failure is answered as
 * `{error: {name, message, details?}}`: bodies over the size limit are a 413
 * `RequestTooLargeError`, JSON nested deeper than `maxJsonDepth` a 400
 * `RequestTooDeepError` (checked on the text, before parsing: handlers that
 * recurse never see it), malformed JSON a 400 `InvalidRequestError`.
 *
 * @example
 * const api = new ControlApi({ dataDir, logger })
 * api.route('GET', '/health', async () => ({ ok: true }))
 * await api.start()
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { writeFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { errorToData } from '../core/errors.js'
import { InvalidRequestError, RequestTooDeepError, RequestTooLargeError, RouteNotFoundError } from './errors.js'
import { CONTROL_FILE } from './control-file.js'
import { DEFAULT_MAX_JSON_DEPTH, guardJsonParser } from '../core/json-guard.js'

// in a module of its own: clients find the daemon without loading fastify
export { CONTROL_FILE } from './control-file.js'

/** @default 8 MiB */
export const DEFAULT_CONTROL_BODY_LIMIT = 8 * 1024 * 1024
/** Deepest nesting of a JSON body the control API accepts: the node's one JSON guard (src/core/json-guard.ts). */
export { DEFAULT_MAX_JSON_DEPTH, jsonDepth, assertJsonDepth } from '../core/json-guard.js'

export interface ControlApiInit {
  dataDir: string
  /** @default 0 (a free port) */
  port?: number
  /** @default '127.0.0.1' — the API never listens on other interfaces */
  host?: '127.0.0.1' | '::1'
  logger?: Logger
  /** @default DEFAULT_CONTROL_BODY_LIMIT (8 MiB) */
  bodyLimit?: number
  /** @default DEFAULT_MAX_JSON_DEPTH (128) */
  maxJsonDepth?: number
  /** called with the error name of each request body refused before a route saw it (the node counts it: `pl_rejected_total{area="api"}`) */
  onReject?: (reason: string) => void
}

export interface RouteRequest {
  params: Record<string, string>
  query: Record<string, string>
  body: any
  raw: FastifyRequest
  /** sets a response header (e.g. the next page's cursor) */
  header: (name: string, value: string) => void
}

export type RouteHandler = (req: RouteRequest) => Promise<unknown>

/**
 * HTTP status of the core's own errors; areas add theirs with `errorStatus`
 * when they register routes. `*NotFoundError` is 404, everything else 500.
 */
const STATUS_BY_ERROR: Record<string, number> = {
  InvalidBodyError: 400, InvalidRequestError: 400, InvalidEncodingError: 400, RequestTooDeepError: 400, RequestTooLargeError: 413, DocumentTooLargeError: 413
}

/** Fastify's own errors (body parsing, media type) as typed errors. */
function typedFastifyError (err: Error & { code?: string, statusCode?: number }, bodyLimit: number): Error {
  if (err instanceof RequestTooDeepError || err instanceof InvalidRequestError) return err
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413) return new RequestTooLargeError(`request body is over the control API limit of ${bodyLimit} bytes`, { max: bodyLimit })
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.statusCode === 415) return new InvalidRequestError(`unsupported content type: the control API takes application/json (${err.message})`, { status: 415 })
  if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.code?.startsWith('FST_ERR_CTP_') === true || (err.statusCode != null && err.statusCode >= 400 && err.statusCode < 500)) {
    return new InvalidRequestError(`request body is not valid JSON: ${err.message}`, { status: err.statusCode ?? 400 })
  }
  return err
}

export class ControlApi {
  readonly app: FastifyInstance
  readonly token: string
  private readonly statuses = new Map<string, number>()
  private readonly registered: Array<{ method: string, path: string }> = []
  private url?: string
  private started = false

  constructor (private readonly init: ControlApiInit) {
    this.token = randomBytes(24).toString('base64url')
    const bodyLimit = init.bodyLimit ?? DEFAULT_CONTROL_BODY_LIMIT
    const maxDepth = init.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH
    this.app = Fastify({ logger: false, bodyLimit })
    // depth is checked on the text: JSON.parse copes with any nesting, the handlers that walk the result do not
    const parseJson = this.app.getDefaultJsonParser('error', 'error')
    guardJsonParser(this.app, 'application/json', {
      maxDepth,
      parse: (req, text, done) => { void parseJson(req, text, done) }, // fastify's default JSON parser is the callback form: it answers through done and returns nothing
      onTooDeep: (err) => { init.onReject?.(err.name) }
    })
    this.app.setErrorHandler(async (err, req, reply) => {
      const typed = typedFastifyError(err as Error & { code?: string, statusCode?: number }, bodyLimit)
      const data = errorToData(typed)
      delete data.stack
      const status = this.statusOf(data.name, (typed as any).details?.status)
      if (status >= 500) this.init.logger?.warn({ err: data, url: req.url }, 'control API request failed')
      return await reply.code(status).send({ error: data })
    })
    this.app.setNotFoundHandler(async (req, reply) => {
      const data = errorToData(new RouteNotFoundError(`no control API route ${req.method} ${req.url.split('?')[0]}`, { method: req.method }))
      delete data.stack
      return await reply.code(404).send({ error: data })
    })
    this.app.addHook('onRequest', async (req, reply) => {
      const header = req.headers.authorization ?? ''
      // the auth scheme is case-insensitive (RFC 9110 §11.1): "bearer" is as valid as "Bearer"
      const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
      const given = Buffer.from(m != null ? m[1] : '')
      const want = Buffer.from(this.token)
      if (given.length !== want.length || !timingSafeEqual(given, want)) {
        await reply.code(401).send({ error: { name: 'UnauthorizedError', message: 'missing or wrong control token (see control.json in the data dir)' } })
        return
      }
      // fastify skips the body of a GET: refuse one rather than answer as if it had not been sent
      if ((req.method === 'GET' || req.method === 'HEAD') && (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] != null)) {
        await reply.code(400).send({ error: { name: 'InvalidRequestError', message: `${req.method} requests take no body` } })
      }
    })
  }

  /** HTTP status of errors named here (an area's bad-input errors → 400), over the built-in table. */
  errorStatus (names: Iterable<string>, status: number): void {
    for (const name of names) this.statuses.set(name, status)
  }

  /** The routes registered so far (method and path pattern). */
  get routes (): ReadonlyArray<{ method: string, path: string }> {
    return this.registered
  }

  route (method: 'GET' | 'POST' | 'DELETE' | 'PUT', path: string, handler: RouteHandler): void {
    this.registered.push({ method, path })
    this.app.route({
      method,
      url: path,
      handler: async (req, reply) => {
        try {
          const out = await handler({ params: req.params as any, query: req.query as any, body: req.body, raw: req, header: (name, value) => { void reply.header(name, value) } })
          return await reply.send(out ?? { ok: true })
        } catch (err) {
          const data = errorToData(err)
          delete data.stack
          this.init.logger?.warn({ err: data, path }, 'control API request failed')
          return await reply.code(this.statusOf(data.name)).send({ error: data })
        }
      }
    })
  }

  private statusOf (name: string, fallback?: unknown): number {
    return this.statuses.get(name) ?? STATUS_BY_ERROR[name] ?? (typeof fallback === 'number' ? fallback : undefined) ?? (name.endsWith('NotFoundError') ? 404 : 500)
  }

  get address (): string | undefined {
    return this.url
  }

  async start (): Promise<void> {
    if (this.started) return
    const host = this.init.host ?? '127.0.0.1'
    await this.app.listen({ host, port: this.init.port ?? 0 })
    const addr = this.app.server.address()
    if (addr == null || typeof addr === 'string') throw new Error('control API did not bind a TCP port')
    this.url = `http://${host === '::1' ? '[::1]' : host}:${addr.port}`
    await writeFile(join(this.init.dataDir, CONTROL_FILE), JSON.stringify({ url: this.url, token: this.token, pid: process.pid }) + '\n', { mode: 0o600 })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await rm(join(this.init.dataDir, CONTROL_FILE), { force: true })
    await this.app.close()
  }
}
