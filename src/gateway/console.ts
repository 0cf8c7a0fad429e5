/**
 * The web console at `/ui/` (front end in ui/, built by esbuild into
 * dist/ui): the static shell is public and served from memory — index.html
 * `no-cache`, hashed assets `immutable` — under a strict Content Security
 * Policy (same-origin scripts, styles and connections only, nothing inline,
 * no frames). The data behind it needs an API key like any client's; a
 * browser opened by `pl ui` trades its one-time login token for a session
 * key at `POST /ui/session`.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { extname, join } from 'node:path'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { KeyStore } from './keys.js'
import type { LoginTokens } from './login.js'
import { ConsoleNotBuiltError, RouteNotFoundError } from './errors.js'
import { withErrors } from './schemas.js'

export const CONSOLE_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:", "connect-src 'self'",
  "font-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"
].join('; ')

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8'
}

interface Asset { bytes: Buffer, type: string }

/** dist/ui as built: index.html and the hashed files under assets/ (read once, at start). */
export function loadConsole (dir: string): { index: Buffer, assets: Map<string, Asset> } | undefined {
  const indexFile = join(dir, 'index.html')
  if (!existsSync(indexFile)) return undefined
  const assets = new Map<string, Asset>()
  const assetDir = join(dir, 'assets')
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const type = TYPES[extname(name)]
      if (type != null) assets.set(name, { bytes: readFileSync(join(assetDir, name)), type })
    }
  }
  return { index: readFileSync(indexFile), assets }
}

export interface ConsoleRoutesInit {
  dir: string
  keys: KeyStore
  tokens: LoginTokens
  sessionTtlMs: number
  /** counts refused login tokens (`gateway/<ErrorName>`) */
  reject: (reason: string) => void
}

const htmlAnswer = { 200: { description: 'the console', content: { 'text/html': { schema: { type: 'string' } } } } }

function secure (rep: FastifyReply): FastifyReply {
  return rep.header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
}

export function consoleRoutes (init: ConsoleRoutesInit) {
  return async (app: FastifyInstance): Promise<void> => {
    const built = loadConsole(init.dir)
    const notBuilt = (): ConsoleNotBuiltError => new ConsoleNotBuiltError(`the web console is not built (no ${join(init.dir, 'index.html')}); run: npm run build`)
    const tags = ['console']

    // `/ui/` reaches this route too (the server rewrites it to `/ui`); index.html names its assets by absolute path
    app.get('/ui', {
      config: { scope: 'public' },
      schema: { operationId: 'consoleIndex', summary: 'The web console at /ui/ (static shell; its data needs an API key)', tags, security: [], response: withErrors(htmlAnswer) }
    }, async (_req, rep) => {
      if (built == null) throw notBuilt()
      return await secure(rep).header('cache-control', 'no-cache').type(TYPES['.html']).send(built.index)
    })

    app.get<{ Params: { file: string } }>('/ui/assets/:file', {
      config: { scope: 'public' },
      schema: {
        operationId: 'consoleAsset',
        summary: 'A console asset (content-hashed name: cached for a year, immutable)',
        tags,
        security: [],
        params: { type: 'object', additionalProperties: false, required: ['file'], properties: { file: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,128}$' } } },
        response: withErrors({ 200: { description: 'the asset', content: { 'text/javascript': { schema: { type: 'string' } }, 'text/css': { schema: { type: 'string' } } } } })
      }
    }, async (req, rep) => {
      if (built == null) throw notBuilt()
      const a = built.assets.get(req.params.file)
      if (a == null) throw new RouteNotFoundError(`no console asset ${req.params.file}`)
      return await secure(rep).header('cache-control', 'public, max-age=31536000, immutable').type(a.type).send(a.bytes)
    })

    app.post<{ Body: { token: string } }>('/ui/session', {
      config: { scope: 'public' },
      schema: {
        operationId: 'consoleSession',
        summary: 'Exchanges a one-time login token (from `pl ui`) for a session API key that expires by itself',
        tags,
        security: [],
        body: { type: 'object', additionalProperties: false, required: ['token'], properties: { token: { type: 'string', minLength: 1, maxLength: 128 } } },
        response: withErrors({ 200: { type: 'object', required: ['name', 'scopes', 'key', 'expires'], properties: { name: { type: 'string' }, scopes: { type: 'array', items: { type: 'string' } }, key: { type: 'string' }, expires: { type: 'integer' } } } })
      }
    }, async (req) => {
      let scopes
      try {
        scopes = init.tokens.redeem(req.body.token)
      } catch (err) {
        init.reject((err as Error).name)
        throw err
      }
      const name = `ui-session-${randomBytes(4).toString('hex')}`
      const created = await init.keys.create({ name, scopes, ttlMs: init.sessionTtlMs })
      return { name: created.name, scopes: created.scopes, key: created.key, expires: created.expires as number }
    })
  }
}
