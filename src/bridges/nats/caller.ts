/**
 * The caller proof of a NATS call. On libp2p, Noise authenticates the
 * remote peer of a stream; a NATS message has no such sender, so every
 * request carries four headers signed with the caller's ed25519 key:
 *
 *   Pl-From  the caller's PeerId
 *   Pl-Ts    ms since epoch (must be within the clock-skew window)
 *   Pl-Nonce 12 random bytes, base64url
 *   Pl-Sig   base64url ed25519 signature over
 *            UTF-8("pl/nats-call/v1\n" + subject + "\n" + from + "\n" + ts + "\n" + nonce + "\n") || sha256(payload)
 *
 * The responder verifies the signature for `Pl-From`, the time window, and
 * that the (from, nonce) pair was not seen before (the node's replay store),
 * then treats `Pl-From` as the caller exactly as libp2p's remote peer.
 */
import { createHash, randomBytes } from 'node:crypto'
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node'
import { verifyByPeer, type Identity, type ReplayGuard } from '../../core/index.js'
import { fromBase64url, toBase64url } from '../../core/encoding.js'
import { BadSignatureError, ClockSkewError, ReplayError } from '../../core/errors.js'
import { CALL_DOMAIN, HEADER_FROM, HEADER_NONCE, HEADER_SIG, HEADER_TS } from './constants.js'
import { InvalidNatsCallError } from './errors.js'

const encoder = new TextEncoder()

/** The bytes a caller signs for one call. */
export function callSigningBytes (subject: string, from: string, ts: number, nonce: string, payload: Uint8Array): Uint8Array {
  const head = encoder.encode(`${CALL_DOMAIN}\n${subject}\n${from}\n${ts}\n${nonce}\n`)
  const digest = createHash('sha256').update(payload).digest()
  const out = new Uint8Array(head.byteLength + digest.byteLength)
  out.set(head, 0)
  out.set(digest, head.byteLength)
  return out
}

/** The caller-proof headers of one call from `identity` (`now`: the caller's clock; the bridge passes its component clock). */
export function signCall (identity: Identity, subject: string, payload: Uint8Array, now: number = Date.now()): MsgHdrs {
  const nonce = toBase64url(randomBytes(12))
  const sig = identity.sign(callSigningBytes(subject, identity.id, now, nonce, payload))
  const h = natsHeaders()
  h.set(HEADER_FROM, identity.id)
  h.set(HEADER_TS, String(now))
  h.set(HEADER_NONCE, nonce)
  h.set(HEADER_SIG, toBase64url(sig))
  return h
}

export interface VerifyCallOptions {
  replay?: ReplayGuard
  skewMs: number
  now: number
}

/** Verifies a call's caller proof; returns the caller's PeerId or throws a typed error. */
export async function verifyCall (subject: string, payload: Uint8Array, h: MsgHdrs | undefined, o: VerifyCallOptions): Promise<string> {
  const from = h?.get(HEADER_FROM) ?? ''
  const tsText = h?.get(HEADER_TS) ?? ''
  const nonce = h?.get(HEADER_NONCE) ?? ''
  const sigText = h?.get(HEADER_SIG) ?? ''
  if (from === '' || tsText === '' || nonce === '' || sigText === '') throw new InvalidNatsCallError(`a call on ${subject} needs the headers ${HEADER_FROM}, ${HEADER_TS}, ${HEADER_NONCE} and ${HEADER_SIG}`, { subject })
  const ts = Number(tsText)
  if (!/^\d{1,16}$/.test(tsText) || !Number.isSafeInteger(ts)) throw new InvalidNatsCallError(`${HEADER_TS} must be ms since epoch, got ${tsText.slice(0, 32)}`, { subject })
  if (nonce.length > 64 || from.length > 128) throw new InvalidNatsCallError('caller proof header too long', { subject })
  const sig = /^[A-Za-z0-9_-]{86}$/.test(sigText) ? fromBase64url(sigText) : new Uint8Array(0)
  if (sig.byteLength !== 64 || toBase64url(sig) !== sigText) throw new BadSignatureError('Pl-Sig is not 64 bytes in canonical base64url', { from })
  let ok = false
  try {
    ok = verifyByPeer(from, callSigningBytes(subject, from, ts, nonce, payload), sig)
  } catch (err) {
    throw new BadSignatureError(`cannot verify the caller proof of ${from}: ${(err as Error).message}`, { from })
  }
  if (!ok) throw new BadSignatureError(`caller proof does not verify for ${from}`, { from })
  if (Math.abs(ts - o.now) > o.skewMs) throw new ClockSkewError(`call ts is ${ts - o.now} ms from the local clock (window ±${o.skewMs} ms)`, { ts, now: o.now })
  if (o.replay != null && !await o.replay.add(`nats-call/${from}/${nonce}`, ts + o.skewMs)) throw new ReplayError(`call ${nonce} from ${from} was already received`, { from, nonce })
  return from
}
