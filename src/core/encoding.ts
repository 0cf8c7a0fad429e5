/**
 * Canonical encoding and content addressing. dag-cbor is the canonical byte
 * form (map keys sorted, no undefined); dag-json is the human/HTTP form. The
 * CID of a document is CIDv1(dag-cbor, sha2-256) of its canonical bytes.
 */
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import { CID } from 'multiformats/cid'
import { hash } from 'node:crypto'
import * as Digest from 'multiformats/hashes/digest'
import { InvalidEncodingError, CidMismatchError } from './errors.js'
import { encodePlainCbor } from './canonical-cbor.js'

const SHA2_256 = 0x12
export const DAG_CBOR = dagCbor.code
export const DAG_JSON = dagJson.code
export const RAW = 0x55

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

/** Drop `undefined` members so optional fields never break canonical encoding. */
export function stripUndefined<T> (value: T): T {
  if (Array.isArray(value)) return value.map(v => stripUndefined(v)) as unknown as T
  if (value != null && typeof value === 'object' && !(value instanceof Uint8Array) && !(CID.asCID(value) != null)) {
    const obj = value as Record<string, unknown>
    const out: Record<string, unknown> = {}
    // the keys and one read each (Object.entries would build a pair per member)
    for (const k of Object.keys(obj)) {
      const v = obj[k]
      if (v !== undefined) out[k] = stripUndefined(v)
    }
    return out as T
  }
  return value
}

/**
 * The canonical (dag-cbor) bytes of `value`, `undefined` members left out.
 * Plain JSON-like values take a direct encoder (src/core/canonical-cbor.ts,
 * the same bytes); anything else goes through `@ipld/dag-cbor`.
 */
export function encodeCanonical (value: unknown): Uint8Array {
  const plain = encodePlainCbor(value)
  if (plain != null) return plain
  try {
    return dagCbor.encode(stripUndefined(value))
  } catch (err) {
    throw new InvalidEncodingError(`value cannot be encoded as dag-cbor: ${(err as Error).message}`)
  }
}

export function decodeCanonical<T = unknown> (bytes: Uint8Array): T {
  try {
    return dagCbor.decode<T>(bytes)
  } catch (err) {
    throw new InvalidEncodingError(`bytes are not valid dag-cbor: ${(err as Error).message}`)
  }
}

export function encodeJson (value: unknown): Uint8Array {
  try {
    return dagJson.encode(stripUndefined(value))
  } catch (err) {
    throw new InvalidEncodingError(`value cannot be encoded as dag-json: ${(err as Error).message}`)
  }
}

export function decodeJson<T = unknown> (bytes: Uint8Array | string): T {
  const input = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes
  try {
    return dagJson.decode<T>(input)
  } catch (err) {
    throw new InvalidEncodingError(`text is not valid dag-json: ${(err as Error).message}`)
  }
}

export function sha256 (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(hash('sha256', bytes, 'buffer'))
}

/** CID of already-encoded bytes under the given codec (default dag-cbor). */
export function cidOfBytes (bytes: Uint8Array, codec: number = DAG_CBOR): CID {
  return CID.createV1(codec, Digest.create(SHA2_256, sha256(bytes)))
}

const BASE32_CODES = Uint8Array.from('abcdefghijklmnopqrstuvwxyz234567', c => c.charCodeAt(0))
/** the text of one CID: 'b' and 58 base32 characters for a sha2-256 CIDv1 */
const cidText = Buffer.alloc(64)
/** the CIDv1 bytes of one CID: 4 of header and the 32 of the digest */
const cidBytes = new Uint8Array(36)

/**
 * `cidOfBytes(bytes, codec).toString()` without building the CID object:
 * the CIDv1 bytes (version, codec, sha2-256 multihash) in multibase base32
 * ('b' + RFC 4648 lowercase, no padding). About 3× cheaper here, which
 * matters where every write or verify names a block (store puts, envelope
 * ids). `codec` must fit one varint byte (dag-cbor 0x71, raw 0x55).
 */
export function cidStringOfBytes (bytes: Uint8Array, codec: number = DAG_CBOR): string {
  if (codec > 0x7f) return cidOfBytes(bytes, codec).toString()
  // the one-shot hash skips the Hash object (~1 µs less per CID here); the digest comes as a
  // 'binary' (latin1) string, one character per byte: ~1.3 µs less than a Buffer, whose backing store
  // node allocates per call (docs/PERFORMANCE.md "Receipt writes, second pass")
  const digest = hash('sha256', bytes, 'binary')
  // CIDv1 bytes (version, codec, sha2-256, digest length, digest) into a scratch array, then
  // base32 five bytes (eight characters) at a time into a scratch buffer read as one string
  const raw = cidBytes
  raw[0] = 0x01
  raw[1] = codec
  raw[2] = SHA2_256
  raw[3] = digest.length
  for (let i = 0; i < digest.length; i++) raw[4 + i] = digest.charCodeAt(i)
  const len = 4 + digest.length
  let n = 0
  cidText[n++] = 0x62 // 'b'
  let i = 0
  for (; i + 5 <= len; i += 5) {
    const b0 = raw[i]
    const b1 = raw[i + 1]
    const b2 = raw[i + 2]
    const b3 = raw[i + 3]
    const b4 = raw[i + 4]
    cidText[n++] = BASE32_CODES[b0 >>> 3]
    cidText[n++] = BASE32_CODES[((b0 & 7) << 2) | (b1 >>> 6)]
    cidText[n++] = BASE32_CODES[(b1 >>> 1) & 31]
    cidText[n++] = BASE32_CODES[((b1 & 1) << 4) | (b2 >>> 4)]
    cidText[n++] = BASE32_CODES[((b2 & 15) << 1) | (b3 >>> 7)]
    cidText[n++] = BASE32_CODES[(b3 >>> 2) & 31]
    cidText[n++] = BASE32_CODES[((b3 & 3) << 3) | (b4 >>> 5)]
    cidText[n++] = BASE32_CODES[b4 & 31]
  }
  // the last 1–4 bytes: 5 bits at a time, the rest padded with zero bits (no '=')
  let bits = 0
  let value = 0
  for (; i < len; i++) {
    value = ((value << 8) | raw[i]) & 0xffff
    bits += 8
    while (bits >= 5) {
      cidText[n++] = BASE32_CODES[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) cidText[n++] = BASE32_CODES[(value << (5 - bits)) & 31]
  return cidText.toString('latin1', 0, n)
}

/** CID of any document: CIDv1(dag-cbor, sha2-256) of its canonical bytes. */
export function cidOf (value: unknown): CID {
  return cidOfBytes(encodeCanonical(value))
}

/** CID string of a document (base32, the form stored in objects and keys). */
export function cidStringOf (value: unknown): string {
  return cidStringOfBytes(encodeCanonical(value))
}

export function parseCid (text: string): CID {
  try {
    return CID.parse(text)
  } catch {
    throw new InvalidEncodingError(`not a CID: ${JSON.stringify(text).slice(0, 80)}`)
  }
}

/** Throws CidMismatchError unless `bytes` hash to `cid` (codec and digest). */
export function verifyBytes (cid: CID | string, bytes: Uint8Array): void {
  const expected = typeof cid === 'string' ? parseCid(cid) : cid
  if (expected.multihash.code !== SHA2_256) {
    throw new CidMismatchError(`unsupported hash function 0x${expected.multihash.code.toString(16)} in ${expected.toString()}`)
  }
  const actual = cidOfBytes(bytes, expected.code)
  if (actual.toString() !== expected.toString()) {
    throw new CidMismatchError(`bytes do not match ${expected.toString()} (they hash to ${actual.toString()})`, { expected: expected.toString(), actual: actual.toString() })
  }
}

export function toBase64url (bytes: Uint8Array): string {
  // a Buffer (a signature from node:crypto) is read as it is; another Uint8Array through a Buffer view of its memory
  return (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString('base64url')
}

export function fromBase64url (text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new InvalidEncodingError('not base64url text')
  return new Uint8Array(Buffer.from(text, 'base64url'))
}

export { CID }
