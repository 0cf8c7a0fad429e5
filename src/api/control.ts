/**
 * The local control API: HTTP on 127.0.0.1 only, protected by a bearer token
 * written with the URL to `<data dir>/control.json` (mode 0600). Areas add
 * routes through `route()` before `start()`; `pl` commands reach the running
 * process through `ControlClient`.
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

export const CONTROL_FILE = 'control.json'

export interface ControlApiInit {
  dataDir: string
  /** @default 0 (a free port) */
  port?: number
  /** @default '127.0.0.1' — the API never listens on other interfaces */
  host?: '127.0.0.1' | '::1'
  logger?: Logger
  /** @default 8 MiB */
  bodyLimit?: number
}

export type RouteHandler = (req: { params: Record<string, string>, query: Record<string, string>, body: any, raw: FastifyRequest }) => Promise<unknown>

/**
 * HTTP status of the core's own errors; areas add theirs with `errorStatus`
 * when they register routes. `*NotFoundError` is 404, everything else 500.
 */
const STATUS_BY_ERROR: Record<string, number> = {
  InvalidBodyError: 400, InvalidRequestError: 400, InvalidEncodingError: 400
}

export class ControlApi {
  readonly app: FastifyInstance
  readonly token: string
  private readonly statuses = new Map<string, number>()
  private url?: string
  private started = false

  constructor (private readonly init: ControlApiInit) {
    this.token = randomBytes(24).toString('base64url')
    this.app = Fastify({ logger: false, bodyLimit: init.bodyLimit ?? 8 * 1024 * 1024 })
    this.app.addHook('onRequest', async (req, reply) => {
      const header = req.headers.authorization ?? ''
      const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '')
      const want = Buffer.from(this.token)
      if (given.length !== want.length || !timingSafeEqual(given, want)) {
        await reply.code(401).send({ error: { name: 'UnauthorizedError', message: 'missing or wrong control token (see control.json in the data dir)' } })
      }
    })
  }

  /** HTTP status of errors named here (an area's bad-input errors → 400), over the built-in table. */
  errorStatus (names: Iterable<string>, status: number): void {
    for (const name of names) this.statuses.set(name, status)
  }

  route (method: 'GET' | 'POST' | 'DELETE' | 'PUT', path: string, handler: RouteHandler): void {
    this.app.route({
      method,
      url: path,
      handler: async (req, reply) => {
        try {
          const out = await handler({ params: req.params as any, query: req.query as any, body: req.body, raw: req })
          return await reply.send(out ?? { ok: true })
        } catch (err) {
          const data = errorToData(err)
          delete data.stack
          this.init.logger?.warn({ err: data, path }, 'control API request failed')
          return await reply.code(this.statuses.get(data.name) ?? STATUS_BY_ERROR[data.name] ?? (data.name.endsWith('NotFoundError') ? 404 : 500)).send({ error: data })
        }
      }
    })
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
