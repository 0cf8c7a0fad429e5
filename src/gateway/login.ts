/**
 * One-time login links for the web console (`pl ui`). The operator's CLI
 * asks the running node (control API) for a token; the browser exchanges it
 * once, within `DEFAULT_LOGIN_TOKEN_MS`, at `POST /ui/session` for a session
 * API key that expires by itself. Tokens live only in memory (a restart
 * voids them) and only as SHA-256 hashes, so a long-lived key never appears
 * in a URL, a shell history or a log.
 *
 * @example
 * const tokens = new LoginTokens()
 * const { token } = tokens.issue(['read', 'submit'])
 * tokens.redeem(token)   // ['read', 'submit']; a second redeem throws InvalidLoginTokenError
 */
import { createHash, randomBytes } from 'node:crypto'
import { systemClock, type Clock } from '../core/clock.js'
import type { Scope } from './types.js'
import { InvalidLoginTokenError, LoginTokenExpiredError } from './errors.js'
import { DEFAULT_LOGIN_TOKEN_MS, MAX_LOGIN_TOKENS } from './constants.js'

export interface LoginTokensInit {
  /** how long a token may wait for its browser @default DEFAULT_LOGIN_TOKEN_MS (60 s) */
  ttlMs?: number
  /** @default systemClock */
  clock?: Clock
}

interface Pending { scopes: Scope[], expires: number }

const hash = (token: string): string => createHash('sha256').update(token).digest('hex')

export class LoginTokens {
  private readonly pending = new Map<string, Pending>()
  private readonly ttlMs: number
  private readonly clock: Clock

  constructor (init: LoginTokensInit = {}) {
    this.ttlMs = init.ttlMs ?? DEFAULT_LOGIN_TOKEN_MS
    this.clock = init.clock ?? systemClock
  }

  /** A fresh single-use token for a session with `scopes` (shown once; only its hash is kept). */
  issue (scopes: Scope[]): { token: string, expires: number } {
    this.sweep()
    // never more than MAX_LOGIN_TOKENS outstanding: the oldest goes first
    while (this.pending.size >= MAX_LOGIN_TOKENS) this.pending.delete(this.pending.keys().next().value as string)
    const token = `pll_${randomBytes(32).toString('base64url')}`
    const expires = this.clock.now() + this.ttlMs
    this.pending.set(hash(token), { scopes: [...scopes], expires })
    return { token, expires }
  }

  /** The scopes of `token`, which is spent by this call. */
  redeem (token: string): Scope[] {
    const key = hash(String(token))
    const p = this.pending.get(key)
    this.pending.delete(key)
    if (p == null) throw new InvalidLoginTokenError('unknown or already used login token; run `pl ui` again for a new link')
    if (p.expires <= this.clock.now()) throw new LoginTokenExpiredError(`the login link expired (links are valid for ${Math.round(this.ttlMs / 1000)} s); run \`pl ui\` again`, { ttlMs: this.ttlMs })
    return p.scopes
  }

  get size (): number {
    return this.pending.size
  }

  private sweep (): void {
    const now = this.clock.now()
    for (const [k, p] of this.pending) if (p.expires <= now) this.pending.delete(k)
  }
}
