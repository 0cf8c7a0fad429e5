/**
 * Who is calling, and may they? Bearer API keys are checked on `onRequest`
 * (before the body is read); signed requests (an Envelope.v1 of type
 * GatewayRequest.v1 from a registered agent) in `preValidation`, once the
 * body is parsed, and the route then sees the envelope's inner body. Both
 * end in the same scope check and token bucket.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { EnvelopeVerifier } from '../core/index.js'
import { fromBase64url } from '../core/encoding.js'
import type { Principal, Scope } from './types.js'
import type { KeyStore } from './keys.js'
import type { RateLimiter } from './rate-limit.js'
import { MissingCredentialsError, MissingScopeError, RateLimitedError, SignedRequestMismatchError, UnknownAgentError, UnknownApiKeyError } from './errors.js'
import { ENVELOPE_AUTH_SCHEME, ENVELOPE_CONTENT_TYPE } from './constants.js'
import { assertJsonDepth, DEFAULT_MAX_JSON_DEPTH, RequestTooDeepError } from '../core/json-guard.js'
import type { GatewayRequestV1 } from '../wire/index.js'

export interface AuthDeps {
  keys: KeyStore
  verifier: EnvelopeVerifier
  replay: { add: (id: string, exp: number) => Promise<boolean> }
  limiter: RateLimiter
  /** failed authentications per client address (guessing keys, forging signatures): an empty bucket is refused before credentials are looked at */
  failures?: RateLimiter
  /** deepest nesting of the JSON envelope in an `Authorization: PL-Envelope` header @default DEFAULT_MAX_JSON_DEPTH */
  maxJsonDepth?: number
  /** counts a header refused for its depth (by error name) */
  onReject?: (reason: string) => void
}

/** Errors that mean "these credentials are not good": each one costs the client address a token of `failures`. */
const AUTH_FAILURES = new Set(['MissingCredentialsError', 'UnknownApiKeyError', 'UnknownAgentError', 'SignedRequestMismatchError'])

/** `admin` holds every scope. */
export function hasScope (p: Principal, scope: Scope): boolean {
  return p.scopes.includes(scope) || p.scopes.includes('admin')
}

function routeScope (req: FastifyRequest): Scope | 'public' {
  // routes that do not say are admin-only: a forgotten scope fails closed
  return (req.routeOptions?.config as { scope?: Scope | 'public' } | undefined)?.scope ?? 'admin'
}

function isEnvelopeBody (req: FastifyRequest): boolean {
  return (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase() === ENVELOPE_CONTENT_TYPE
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** WebSocket and SSE routes: browsers cannot set headers there, so `?access_token=<key>` is accepted */
    tokenInQuery?: boolean
  }
}

export class Authenticator {
  constructor (private readonly deps: AuthDeps) {}

  /** onRequest: bearer keys and header-signed requests; body-signed requests wait for preValidation. */
  async onRequest (req: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (routeScope(req) === 'public') return
    await this.guarded(req, reply, async () => { await this.checkRequest(req, reply) })
  }

  /** Refuses an address that failed too often, and charges it for each new failure. */
  private async guarded (req: FastifyRequest, reply: FastifyReply, check: () => Promise<void>): Promise<void> {
    const failures = this.deps.failures
    const key = `addr:${req.ip}`
    const wait = failures?.wait(key) ?? 0
    if (wait > 0) {
      void reply.header('retry-after', String(wait))
      throw new RateLimitedError(`too many failed authentications from ${req.ip}; retry in ${wait} s`, { retryAfterS: wait, reason: 'auth-failures' })
    }
    try {
      await check()
    } catch (err) {
      if (failures != null && AUTH_FAILURES.has((err as Error).name)) failures.take(key)
      throw err
    }
  }

  private async checkRequest (req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const scope = routeScope(req) as Scope
    const header = req.headers.authorization
    const m = typeof header === 'string' ? /^(\S+)(?:\s+(.*))?$/.exec(header.trim()) : null
    const scheme = m?.[1].toLowerCase()
    if (scheme === 'bearer') {
      await this.finish(req, reply, await this.bearer(m?.[2] ?? ''), scope)
      return
    }
    if (scheme === ENVELOPE_AUTH_SCHEME) {
      let envelope: unknown
      try {
        const text = Buffer.from(fromBase64url(m?.[2] ?? '')).toString('utf8')
        // checked before parsing: the verifier walks the value (schema, canonical encoding) and would overflow the stack
        assertJsonDepth(text, this.deps.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH, 'the PL-Envelope authorization')
        envelope = JSON.parse(text)
      } catch (err) {
        if (err instanceof RequestTooDeepError) {
          this.deps.onReject?.(err.name)
          throw err
        }
        throw new UnknownAgentError('the PL-Envelope authorization is not base64url of a JSON envelope')
      }
      await this.finish(req, reply, (await this.signed(req, envelope)).principal, scope)
      return
    }
    if (header == null && isEnvelopeBody(req)) return // checked in preValidation
    // browsers cannot set headers on WebSocket or EventSource requests: those two take ?access_token=
    const token = (req.query as Record<string, unknown> | undefined)?.access_token
    if (header == null && typeof token === 'string' && req.routeOptions.config?.tokenInQuery === true) {
      await this.finish(req, reply, await this.bearer(token), scope)
      return
    }
    throw new MissingCredentialsError(header == null ? 'this route needs "Authorization: Bearer <API key>" (create one with: pl api-key create)' : `unknown authorization scheme "${m?.[1] ?? ''}" (use Bearer or PL-Envelope)`)
  }

  /** preValidation: a body that is a signed envelope is verified and replaced by its inner body. */
  async preValidation (req: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (req.principal != null || !isEnvelopeBody(req)) return
    const scope = routeScope(req)
    if (scope === 'public') return
    await this.guarded(req, reply, async () => {
      const { principal, inner } = await this.signed(req, req.body)
      req.body = inner
      await this.finish(req, reply, principal, scope)
    })
  }

  private async bearer (key: string): Promise<Principal> {
    const p = await this.deps.keys.authenticate(key.trim())
    if (p == null) throw new UnknownApiKeyError('unknown or revoked API key')
    return p
  }

  private async signed (req: FastifyRequest, value: unknown): Promise<{ principal: Principal, inner: unknown }> {
    let verified
    try {
      verified = this.deps.verifier.verifyStateless<GatewayRequestV1>(value, { expectedTypes: ['GatewayRequest.v1'] })
    } catch (err) {
      const e = err as Error
      throw new UnknownAgentError(`signed request refused: ${e.name}: ${e.message}`, { reason: e.name })
    }
    const { envelope, id } = verified
    if (envelope.body.method !== req.method || envelope.body.path !== req.url) {
      throw new SignedRequestMismatchError(`the envelope signs ${envelope.body.method} ${envelope.body.path}, the request is ${req.method} ${req.url}`, { signed: { method: envelope.body.method, path: envelope.body.path } })
    }
    const principal = await this.deps.keys.agent(envelope.from)
    if (principal == null) throw new UnknownAgentError(`agent ${envelope.from} is not registered on this node (pl api-key create --agent <peerId>)`, { agent: envelope.from })
    // the replay store only after the agent is known: strangers cannot fill it
    if (!await this.deps.replay.add(id, envelope.exp)) throw new UnknownAgentError(`signed request ${id} was already received (replay)`, { reason: 'ReplayError', id })
    return { principal, inner: envelope.body.body }
  }

  private async finish (req: FastifyRequest, reply: FastifyReply, principal: Principal, scope: Scope): Promise<void> {
    if (!hasScope(principal, scope)) throw new MissingScopeError(`${principal.kind} "${principal.name}" lacks the "${scope}" scope this route needs (it has: ${principal.scopes.join(', ')})`, { scope, scopes: principal.scopes })
    const wait = this.deps.limiter.take(`${principal.kind}:${principal.name}`)
    if (wait > 0) {
      void reply.header('retry-after', String(wait))
      throw new RateLimitedError(`too many requests from ${principal.kind} "${principal.name}"; retry in ${wait} s`, { retryAfterS: wait })
    }
    req.principal = principal
  }
}
