/**
 * Envelope.v1: the one signed, content-addressed message.
 *
 * canonical bytes = dag-cbor(envelope without `sig`)
 * signed bytes    = "pl/envelope/v1" || canonical bytes
 * id              = CID(dag-cbor, sha2-256) of the signed envelope
 *
 * @example
 * const env = signEnvelope(identity, registry, 'Bid.v1', bid, { to: requester })
 * const ok = await verifier.verify(env, { expectedFrom: remotePeer })
 */
import { randomBytes } from 'node:crypto'
import { encodeCanonical, cidStringOfBytes, stripUndefined, toBase64url } from './encoding.js'
import { encodePlainCbor, withPlainCbor, withPlainCborForms } from './canonical-cbor.js'
import { verifyByPeer, type Identity } from './identity.js'
import {
  MalformedEnvelopeError, SchemaMismatchError, BadSignatureError, WrongSenderError, NotForMeError,
  ClockSkewError, EnvelopeExpiredError, EnvelopeLifetimeError, ReplayError, EnvelopeTooLargeError, IdentityError, PlError, UnknownTypeError
} from './errors.js'
import { systemClock, type Clock } from './clock.js'
import type { EnvelopeV1 } from '../wire/index.js'

export const ENVELOPE_DOMAIN = new TextEncoder().encode('pl/envelope/v1')
export const ENVELOPE_TYPE = 'Envelope.v1'
/** @default 60 s either side of the local clock */
export const DEFAULT_CLOCK_SKEW_MS = 60_000
/** @default 5 minutes */
export const DEFAULT_ENVELOPE_TTL_MS = 5 * 60_000
/** @default 1 MiB of canonical bytes */
export const DEFAULT_MAX_ENVELOPE_BYTES = 1024 * 1024
/**
 * Longest lifetime (`exp - ts`) accepted: the replay store keeps every id until
 * its `exp`, so an unbounded `exp` would let any peer grow it forever.
 * @default 24 h (the longest capability ad TTL)
 */
export const DEFAULT_MAX_ENVELOPE_LIFETIME_MS = 24 * 60 * 60_000

/**
 * What envelopes need of the schema registry (src/spec/registry.ts satisfies
 * it): core names the shape it uses and does not import spec/.
 */
export interface EnvelopeSchemas {
  /** throws a typed error naming what is wrong when `value` is not a valid `type` */
  validate: (type: string, value: unknown) => void
  isValid: (type: string, value: unknown) => boolean
  /** the CID of the schema of `type` (throws UnknownTypeError for an unknown type) */
  cidOf: (type: string) => string
  get: (type: string) => { cid: string }
}

/** Envelope.v1 (the generated wire type) with its body typed. */
export type Envelope<B = Record<string, unknown>> = Omit<EnvelopeV1, 'body'> & { body: B }

export interface SignOptions {
  to?: string
  trace?: string
  ttlMs?: number
  /** the envelope's `ts` @default systemClock.now() */
  now?: number
}

export function unsignedBytes (env: Omit<Envelope<any>, 'sig'> & { sig?: string }): Uint8Array {
  const { sig: _sig, ...rest } = env
  const direct = encodePlainCbor(rest, ENVELOPE_DOMAIN)
  if (direct != null) return direct
  const canonical = encodeCanonical(rest)
  const out = new Uint8Array(ENVELOPE_DOMAIN.byteLength + canonical.byteLength)
  out.set(ENVELOPE_DOMAIN, 0)
  out.set(canonical, ENVELOPE_DOMAIN.byteLength)
  return out
}

/**
 * The signed bytes of an envelope from its dag-cbor form with `sig`, without
 * encoding it again: canonical map keys sort by length then bytes, so `sig`
 * comes after at most `v`, `to`, `ts` and `exp` (small ints and a text);
 * dropping its entry and counting one key less gives exactly
 * `unsignedBytes(env)`. Undefined when the bytes do not have that shape
 * (the caller encodes instead).
 */
export function unsignedFromSigned (signed: Uint8Array): Uint8Array | undefined {
  const head = signed[0]
  if (head < 0xa1 || head > 0xb7) return undefined // a map of 1..23 entries
  let off = 1
  for (let i = 0; i < head - 0xa0 && i < 5; i++) {
    const keyStart = off
    const key = cborTextEnd(signed, off)
    if (key == null) return undefined
    off = key
    // the key "sig": a 3-byte text (0x63) 's' 'i' 'g'
    if (key - keyStart === 4 && signed[keyStart] === 0x63 && signed[keyStart + 1] === 0x73 && signed[keyStart + 2] === 0x69 && signed[keyStart + 3] === 0x67) {
      const end = cborTextEnd(signed, off)
      if (end == null) return undefined
      const value = { end }
      const out = new Uint8Array(ENVELOPE_DOMAIN.byteLength + signed.byteLength - (value.end - keyStart))
      out.set(ENVELOPE_DOMAIN, 0)
      out[ENVELOPE_DOMAIN.byteLength] = head - 1
      out.set(signed.subarray(1, keyStart), ENVELOPE_DOMAIN.byteLength + 1)
      out.set(signed.subarray(value.end), ENVELOPE_DOMAIN.byteLength + keyStart)
      return out
    }
    const end = cborScalarEnd(signed, off)
    if (end == null) return undefined
    off = end
  }
  return undefined
}

/** The CBOR argument (length or value) at `off`: its value and where the item's payload starts. */
function cborArg (b: Uint8Array, off: number): { major: number, arg: number, next: number } | undefined {
  if (off >= b.byteLength) return undefined
  const major = b[off] >> 5
  const info = b[off] & 0x1f
  if (info < 24) return { major, arg: info, next: off + 1 }
  const n = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
  if (n === 0 || off + 1 + n > b.byteLength) return undefined
  let arg = 0
  for (let i = 0; i < n; i++) arg = arg * 256 + b[off + 1 + i]
  return { major, arg, next: off + 1 + n }
}

/** End of the text item at `off`; undefined if it is not a complete text item. */
function cborTextEnd (b: Uint8Array, off: number): number | undefined {
  const a = cborArg(b, off)
  if (a == null || a.major !== 3 || a.next + a.arg > b.byteLength) return undefined
  return a.next + a.arg
}

/** End of an int or text item at `off` (the only value kinds before `sig` in an envelope). */
function cborScalarEnd (b: Uint8Array, off: number): number | undefined {
  const a = cborArg(b, off)
  if (a == null) return undefined
  if (a.major === 0 || a.major === 1) return a.next
  if (a.major === 3 && a.next + a.arg <= b.byteLength) return a.next + a.arg
  return undefined
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const BASE64URL_CODES = Uint8Array.from(BASE64URL, c => c.charCodeAt(0))
const BASE64URL_VALUES = new Int8Array(128).fill(-1)
for (let i = 0; i < 64; i++) BASE64URL_VALUES[BASE64URL_CODES[i]] = i

/**
 * True when `text` is the one base64url form of 64 bytes: 86 characters of
 * the alphabet, no padding, and the 4 spare bits of the last character zero
 * (`toBase64url(fromBase64url(text)) === text` and 64 bytes, without
 * decoding and encoding again). base64url decoders ignore the spare bits, so
 * a signature with other spare bits would give the same signed envelope a
 * new id (and a pass through the replay store).
 */
export function isCanonicalSignature (text: string): boolean {
  if (typeof text !== 'string' || text.length !== 86) return false
  for (let i = 0; i < 86; i++) {
    const c = text.charCodeAt(i)
    if (c > 127 || BASE64URL_VALUES[c] < 0) return false
  }
  return (BASE64URL_VALUES[text.charCodeAt(85)] & 0x0f) === 0
}

/** The envelope's id: CID of its signed dag-cbor form. */
export function envelopeId (env: Envelope<any>): string {
  return cidStringOfBytes(encodeCanonical(env))
}

const NONCE_BYTES = 12
/** nonces drawn from the CSPRNG at a time: a 12-byte `randomBytes` call cost about a third of a signature */
const NONCE_POOL_BYTES = NONCE_BYTES * 512
let noncePool = new Uint8Array(0)
let nonceOffset = 0

/** the 16 characters of one nonce (12 bytes: 4 groups of 3 bytes, no padding) */
const nonceText = Buffer.alloc(16)

/** A fresh 96-bit random nonce (base64url); each comes from bytes never handed out before. */
function nextNonce (): string {
  if (nonceOffset + NONCE_BYTES > noncePool.byteLength) {
    noncePool = randomBytes(NONCE_POOL_BYTES)
    nonceOffset = 0
  }
  // written here rather than through a Buffer view and toString: ~0.1 µs instead of ~0.25
  for (let i = 0, n = 0; i < NONCE_BYTES; i += 3) {
    const v = (noncePool[nonceOffset + i] << 16) | (noncePool[nonceOffset + i + 1] << 8) | noncePool[nonceOffset + i + 2]
    nonceText[n++] = BASE64URL_CODES[v >>> 18]
    nonceText[n++] = BASE64URL_CODES[(v >>> 12) & 63]
    nonceText[n++] = BASE64URL_CODES[(v >>> 6) & 63]
    nonceText[n++] = BASE64URL_CODES[v & 63]
  }
  nonceOffset += NONCE_BYTES
  return nonceText.toString('latin1')
}

/** Signs `body` as a `type` envelope. Validates the body first: we never send what we would reject. */
export function signEnvelope<B extends object> (identity: Identity, registry: EnvelopeSchemas, type: string, body: B, options: SignOptions = {}): Envelope<B> {
  registry.validate(type, body)
  const ts = options.now ?? systemClock.now()
  // built member by member in the order of the wire type, leaving out what is undefined
  // (what stripUndefined of the whole envelope gave, without copying it twice)
  const env: Record<string, unknown> = { v: 1, type, schema: registry.cidOf(type), from: identity.id }
  if (options.to !== undefined) env.to = options.to
  env.ts = ts
  env.exp = ts + (options.ttlMs ?? DEFAULT_ENVELOPE_TTL_MS)
  env.nonce = nextNonce()
  if (options.trace !== undefined) env.trace = options.trace
  env.body = stripUndefined(body)
  // signed straight from the encoder's memory: the bytes are not kept
  env.sig = withPlainCbor(env, ENVELOPE_DOMAIN, bytes => toBase64url(identity.sign(bytes))) ?? toBase64url(identity.sign(unsignedBytes(env as unknown as Envelope<B>)))
  return env as unknown as Envelope<B>
}

export interface VerifyOptions {
  /** The peer the envelope arrived from; `from` must equal it. */
  expectedFrom?: string
  /** The envelope's type must be one of these. */
  expectedTypes?: string[]
  /** Skip the replay store (for envelopes that are legitimately seen again, e.g. receipts re-read from disk). */
  skipReplay?: boolean
  /**
   * Let the replay store answer from memory without awaiting the record's
   * write, when its lease allows (ReplayStore `add` with `defer`): replays
   * stay refused, also after a crash (docs/NEGOTIATION.md "Replay records
   * off the critical path"). For handlers where the record's LevelDB wait
   * is on a round trip's critical path.
   */
  deferRecord?: boolean
  /** check the time window against this instant instead of the verifier's clock */
  now?: number
}

export interface VerifiedEnvelope<B = Record<string, unknown>> {
  envelope: Envelope<B>
  id: string
}

export interface EnvelopeVerifierInit {
  /** @default DEFAULT_CLOCK_SKEW_MS */
  clockSkewMs?: number
  /** @default DEFAULT_MAX_ENVELOPE_BYTES */
  maxBytes?: number
  /** @default DEFAULT_MAX_ENVELOPE_LIFETIME_MS */
  maxLifetimeMs?: number
  /** Our own PeerId: envelopes `to` someone else are refused. */
  self?: string
  /** Called with the error name of every rejected envelope (metrics). */
  onReject?: (reason: string) => void
  /** the clock the time window is checked against @default systemClock */
  clock?: Clock
}

export interface ReplayGuard {
  /** `ts`, when given, may spare the guard a lookup; `defer` its awaited write (see ReplayStore) */
  add: (id: string, exp: number, ts?: number, options?: { defer?: boolean }) => Promise<boolean>
  /** envelopes with a `ts` before this are refused (a run that did not close cleanly may have forgotten them) */
  readonly refusedBefore?: number
}

const DEFER = { defer: true }
/** the options of a call that gives none (one object, not a new `{}` per call) */
const NO_OPTIONS: VerifyOptions = Object.freeze({})
/** the decoded signature of the envelope being checked: verifications are synchronous, one at a time per thread */
const SIG_SCRATCH = Buffer.allocUnsafeSlow(64)

/**
 * Verifies envelopes in a fixed order, cheapest checks first: shape, type and
 * schema, body, sender, signature, clock window, expiry, replay. Each failure
 * is its own error class and is reported to `onReject`.
 */
export class EnvelopeVerifier {
  readonly clockSkewMs: number
  readonly maxBytes: number
  private readonly clock: Clock
  /**
   * The envelope and options of the check running in `checkForms`, which
   * `withPlainCborForms` calls at once: one callback made once, where a
   * closure per verification would be garbage per envelope (see
   * docs/PERFORMANCE.md "Envelope verify: garbage per envelope").
   */
  private pending: Envelope<any> | undefined
  private pendingOptions: VerifyOptions = NO_OPTIONS
  private readonly checkForms = (signed: Uint8Array, unsigned: Uint8Array): VerifiedEnvelope<any> => {
    if (this.pending === undefined) throw new Error('EnvelopeVerifier: no envelope being checked')
    return this.checkSigned(this.pending, signed, unsigned, this.pendingOptions)
  }

  constructor (private readonly registry: EnvelopeSchemas, private readonly replay: ReplayGuard | undefined, private readonly init: EnvelopeVerifierInit = {}) {
    this.clockSkewMs = init.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS
    this.maxBytes = init.maxBytes ?? DEFAULT_MAX_ENVELOPE_BYTES
    this.clock = init.clock ?? systemClock
  }

  /**
   * Every check, then the replay store (unless `skipReplay`). Without a
   * replay store the checks are synchronous and the answer is an already
   * settled promise; a failed check rejects it (never a synchronous throw).
   */
  verify<B = Record<string, unknown>> (value: unknown, options: VerifyOptions = NO_OPTIONS): Promise<VerifiedEnvelope<B>> {
    let checked: VerifiedEnvelope<B>
    try {
      checked = this.verifyStateless<B>(value, options)
    } catch (err) {
      this.init.onReject?.((err as Error).name)
      return Promise.reject(err)
    }
    if (this.replay == null || options.skipReplay === true) return Promise.resolve(checked)
    return this.admit(this.replay, checked, options)
  }

  /** The replay store's part of `verify`: refuses an envelope it has seen. */
  private async admit<B> (replay: ReplayGuard, checked: VerifiedEnvelope<B>, options: VerifyOptions): Promise<VerifiedEnvelope<B>> {
    const { envelope, id } = checked
    try {
      if (!await replay.add(id, envelope.exp, envelope.ts, options.deferRecord === true ? DEFER : undefined)) {
        if (envelope.ts < (replay.refusedBefore ?? 0)) throw new ReplayError(`envelope ${id} was signed before this node restarted from an unclean stop and may have been received then`, { id, ts: envelope.ts })
        throw new ReplayError(`envelope ${id} was already received`, { id })
      }
      return checked
    } catch (err) {
      this.init.onReject?.((err as Error).name)
      throw err
    }
  }

  /**
   * The id of `value` when it has the shape of an envelope (Envelope.v1,
   * within the size limit), else undefined. No signature or body check: it
   * lets a holder recognise an envelope it has already verified (the same id
   * is the same signed bytes) without verifying it a second time.
   */
  idOf (value: unknown): string | undefined {
    if (value == null || typeof value !== 'object' || Array.isArray(value) || !this.registry.isValid(ENVELOPE_TYPE, value)) return undefined
    try {
      const signed = encodeCanonical(value)
      return signed.byteLength > this.maxBytes ? undefined : cidStringOfBytes(signed)
    } catch {
      return undefined
    }
  }

  /** All checks except the replay store (pure; used by gossip validators before delivery). */
  verifyStateless<B = Record<string, unknown>> (value: unknown, options: VerifyOptions = NO_OPTIONS): VerifiedEnvelope<B> {
    if (value == null || typeof value !== 'object' || Array.isArray(value)) throw new MalformedEnvelopeError('envelope is not an object')
    const env = value as Envelope<B>
    if (!this.registry.isValid(ENVELOPE_TYPE, env)) {
      let detail = ''
      try { this.registry.validate(ENVELOPE_TYPE, env) } catch (err) { detail = (err as Error).message }
      throw new MalformedEnvelopeError(`malformed envelope: ${detail}`)
    }
    // the signed form (size, id) and the signed bytes (signature) from one encoding, checked where
    // the encoder wrote them; other values (a CID in the body...) are encoded through dag-cbor
    this.pending = env
    this.pendingOptions = options
    let checked: VerifiedEnvelope<B> | undefined
    try {
      checked = withPlainCborForms(env, 'sig', ENVELOPE_DOMAIN, this.checkForms) as VerifiedEnvelope<B> | undefined
    } finally {
      this.pending = undefined
      this.pendingOptions = NO_OPTIONS
    }
    if (checked !== undefined) return checked
    const signed = encodeCanonical(env)
    return this.checkSigned(env, signed, unsignedFromSigned(signed) ?? unsignedBytes(env), options)
  }

  /** The checks after the shape: size, type and schema, body, sender, signature, clock window, expiry; then the id. */
  private checkSigned<B> (env: Envelope<B>, signed: Uint8Array, unsigned: Uint8Array, options: VerifyOptions): VerifiedEnvelope<B> {
    if (signed.byteLength > this.maxBytes) throw new EnvelopeTooLargeError(`envelope is ${signed.byteLength} bytes, the limit is ${this.maxBytes}`, { size: signed.byteLength, max: this.maxBytes })
    if (options.expectedTypes != null && !options.expectedTypes.includes(env.type)) {
      throw new UnknownTypeError(`expected ${options.expectedTypes.join(' or ')}, got ${env.type}`, { type: env.type })
    }
    const entry = this.registry.get(env.type)
    if (env.schema !== entry.cid) throw new SchemaMismatchError(`${env.type} names schema ${env.schema}, this node knows it as ${entry.cid}`, { type: env.type, schema: env.schema, expected: entry.cid })
    this.registry.validate(env.type, env.body)
    if (options.expectedFrom != null && env.from !== options.expectedFrom) {
      throw new WrongSenderError(`envelope says it is from ${env.from} but arrived from ${options.expectedFrom}`, { from: env.from, peer: options.expectedFrom })
    }
    if (this.init.self != null && env.to != null && env.to !== this.init.self) throw new NotForMeError(`envelope is addressed to ${env.to}`, { to: env.to })
    // one signature, one text form: base64url ignores the spare bits of the last character, and a
    // re-encoded signature would give the same signed envelope a new id (and a pass through the replay store)
    if (!isCanonicalSignature(env.sig)) throw new BadSignatureError('signature is not 64 bytes in canonical base64url', { from: env.from })
    // decoded into scratch memory: the signature is only read by the check below
    SIG_SCRATCH.write(env.sig, 'base64url')
    const sig = SIG_SCRATCH
    let ok = false
    try {
      ok = verifyByPeer(env.from, unsigned, sig)
    } catch (err) {
      if (err instanceof IdentityError) throw new BadSignatureError(`cannot verify: ${err.message}`)
      if (err instanceof PlError) throw err
      throw new BadSignatureError(`cannot verify: ${(err as Error).message}`)
    }
    if (!ok) throw new BadSignatureError(`signature does not verify for ${env.from}`, { from: env.from })
    const now = options.now ?? this.clock.now()
    if (Math.abs(env.ts - now) > this.clockSkewMs) throw new ClockSkewError(`envelope ts is ${env.ts - now} ms from the local clock (window ±${this.clockSkewMs} ms)`, { ts: env.ts, now })
    if (env.exp <= now) throw new EnvelopeExpiredError(`envelope expired ${now - env.exp} ms ago`, { exp: env.exp, now })
    const maxLifetime = this.init.maxLifetimeMs ?? DEFAULT_MAX_ENVELOPE_LIFETIME_MS
    if (env.exp - env.ts > maxLifetime) throw new EnvelopeLifetimeError(`envelope lives ${env.exp - env.ts} ms (exp - ts), the limit is ${maxLifetime} ms`, { ts: env.ts, exp: env.exp, max: maxLifetime })
    return { envelope: env, id: cidStringOfBytes(signed) }
  }
}
