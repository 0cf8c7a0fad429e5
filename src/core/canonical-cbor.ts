/**
 * A direct dag-cbor encoder for plain JSON-like values: the same bytes as
 * `@ipld/dag-cbor` `encode` (map keys sorted by encoded length then bytes,
 * smallest integer forms, every other number as a 64-bit float, `undefined`
 * members of objects left out as `stripUndefined` does) at a fraction of
 * the cost: cborg builds a token per value and sorts tokens, which made the
 * encoding of an envelope cost about a third of its signature.
 *
 * Only plain values are handled: null, booleans, finite numbers, strings
 * (well formed), Uint8Array/Buffer, arrays without holes or `undefined`,
 * and objects whose prototype is Object.prototype or null. Anything else
 * (CIDs, Maps, class instances, NaN, lone surrogates, bigints…) answers
 * `undefined` and the caller encodes through dag-cbor, which keeps its
 * exact behaviour (and errors) for those.
 *
 * @example
 * const bytes = encodePlainCbor(value) ?? dagCbor.encode(stripUndefined(value))
 */

class Unsupported extends Error {}
const UNSUPPORTED = new Unsupported('not a plain value')

let buf: Buffer = Buffer.allocUnsafeSlow(4096)
/** the same memory as a plain Uint8Array: its `slice` copies into a Uint8Array (a Buffer's would not) */
let u8 = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
let view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
let pos = 0
let busy = false

function setBuffer (next: Buffer): void {
  buf = next
  u8 = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
  view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
}

function ensure (n: number): void {
  if (pos + n <= buf.byteLength) return
  let size = buf.byteLength * 2
  while (size < pos + n) size *= 2
  const next = Buffer.allocUnsafeSlow(size)
  next.set(u8.subarray(0, pos))
  setBuffer(next)
}

function head (major: number, n: number): void {
  ensure(9)
  const m = major << 5
  if (n < 24) {
    buf[pos++] = m | n
  } else if (n < 0x100) {
    buf[pos++] = m | 24
    buf[pos++] = n
  } else if (n < 0x10000) {
    buf[pos++] = m | 25
    buf[pos++] = n >>> 8
    buf[pos++] = n & 0xff
  } else if (n < 0x100000000) {
    buf[pos++] = m | 26
    view.setUint32(pos, n)
    pos += 4
  } else {
    buf[pos++] = m | 27
    view.setUint32(pos, Math.floor(n / 0x100000000))
    view.setUint32(pos + 4, n >>> 0)
    pos += 8
  }
}

/** True when every UTF-16 unit of `s` is ASCII. */
function isAscii (s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}

/** texts up to this length are written by a loop (keys, ids, CIDs, signatures); longer ones by one native `Buffer#write` */
const LOOP_TEXT_MAX = 256

function writeString (s: string): void {
  const n = s.length
  if (n <= LOOP_TEXT_MAX) {
    // write it as ASCII (its byte length is then its length), undo if it is not
    const start = pos
    head(3, n)
    ensure(n)
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c > 0x7f) { pos = start; writeUtf8(s); return }
      buf[pos++] = c
    }
    return
  }
  if (!isAscii(s)) { writeUtf8(s); return }
  head(3, n)
  ensure(n)
  buf.write(s, pos, 'latin1')
  pos += n
}

function writeUtf8 (s: string): void {
  // lone surrogates: TextEncoder and cborg may not agree on them, leave them to dag-cbor
  if (!s.isWellFormed()) throw UNSUPPORTED
  const bytes = Buffer.from(s, 'utf8')
  head(3, bytes.byteLength)
  ensure(bytes.byteLength)
  buf.set(bytes, pos)
  pos += bytes.byteLength
}

function writeNumber (n: number): void {
  if (Number.isSafeInteger(n)) {
    if (n >= 0) head(0, n)
    else head(1, -n - 1)
    return
  }
  if (!Number.isFinite(n)) throw UNSUPPORTED
  ensure(9)
  buf[pos++] = 0xfb
  view.setFloat64(pos, n)
  pos += 8
}

/** dag-cbor map key order: shorter encoded key first, then bytewise. */
function compareKeys (a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}

function compareUtf8Keys (a: string, b: string): number {
  const ba = Buffer.from(a, 'utf8')
  const bb = Buffer.from(b, 'utf8')
  if (ba.byteLength !== bb.byteLength) return ba.byteLength - bb.byteLength
  return Buffer.compare(ba, bb)
}

/** Sorts few keys in place by insertion (no comparator calls through `Array#sort`), many with `Array#sort`. */
function sortAsciiKeys (keys: string[]): void {
  if (keys.length > 32) { keys.sort(compareKeys); return }
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]
    let j = i - 1
    while (j >= 0 && compareKeys(keys[j], k) > 0) {
      keys[j + 1] = keys[j]
      j--
    }
    keys[j + 1] = k
  }
}

/** The keys of a plain object to encode, in dag-cbor order (`undefined` members left out); throws UNSUPPORTED for any other object. */
function sortedKeys (obj: Record<string, unknown>): string[] {
  const proto = Object.getPrototypeOf(obj)
  if (proto !== Object.prototype && proto !== null) throw UNSUPPORTED
  const all = Object.keys(obj)
  let keys = all
  let ascii = true
  for (let i = 0; i < all.length; i++) {
    if (obj[all[i]] === undefined) { keys = all.filter(k => obj[k] !== undefined); break }
  }
  for (let i = 0; i < keys.length && ascii; i++) ascii = isAscii(keys[i])
  if (keys.length > 1) {
    if (ascii) sortAsciiKeys(keys)
    else keys.sort(compareUtf8Keys)
  }
  return keys
}

function writeValue (v: unknown): void {
  switch (typeof v) {
    case 'string': writeString(v); return
    case 'number': writeNumber(v); return
    case 'boolean': ensure(1); buf[pos++] = v ? 0xf5 : 0xf4; return
    case 'object': break
    default: throw UNSUPPORTED
  }
  if (v === null) {
    ensure(1)
    buf[pos++] = 0xf6
    return
  }
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype) throw UNSUPPORTED
    head(4, v.length)
    for (let i = 0; i < v.length; i++) {
      const item = v[i]
      if (item === undefined) throw UNSUPPORTED // a hole or undefined: dag-cbor refuses it
      writeValue(item)
    }
    return
  }
  if (v instanceof Uint8Array) {
    const proto = Object.getPrototypeOf(v)
    if (proto !== Uint8Array.prototype && proto !== Buffer.prototype) throw UNSUPPORTED
    head(2, v.byteLength)
    ensure(v.byteLength)
    buf.set(v, pos)
    pos += v.byteLength
    return
  }
  const obj = v as Record<string, unknown>
  const keys = sortedKeys(obj)
  head(5, keys.length)
  for (let i = 0; i < keys.length; i++) {
    writeString(keys[i])
    writeValue(obj[keys[i]])
  }
}

/**
 * The dag-cbor bytes of `value` (with `prefix` in front when given), or
 * undefined when `value` holds anything but plain JSON-like data.
 */
export function encodePlainCbor (value: unknown, prefix?: Uint8Array): Uint8Array | undefined {
  // busy: re-entered from a getter, dag-cbor does it
  return withPlainCbor(value, prefix, bytes => bytes.slice())
}

function release (): void {
  busy = false
  // a rare huge value does not keep its buffer
  if (buf.byteLength > 1 << 20) setBuffer(Buffer.allocUnsafeSlow(4096))
}

/**
 * `use(full, without)` on both canonical forms of a plain object, from one
 * encoding pass: its dag-cbor bytes, and those of the same object without its
 * top-level member `omit` with `prefix` in front (an envelope's signed form
 * and its signed bytes: the id and the signature check). Both are views of
 * the encoder's scratch memory: no copy, for bytes that are only hashed or
 * verified. The views are valid while `use` runs (encodings started inside
 * it go through dag-cbor); what `use` throws is thrown. Undefined, without
 * calling `use`, when `value` is not a plain object of plain values.
 */
export function withPlainCborForms<R> (value: unknown, omit: string, prefix: Uint8Array, use: (full: Uint8Array, without: Uint8Array) => R): R | undefined {
  if (busy || value == null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) return undefined
  busy = true
  try {
    const end = writeForms(value as Record<string, unknown>, omit, prefix)
    if (end < 0) return undefined
    return use(u8.subarray(0, end), u8.subarray(end, pos))
  } finally {
    release()
  }
}

/**
 * Writes `obj`, then the prefix and `obj` without `omit`, into the scratch
 * buffer: answers where the first form ends (the second ends at `pos`), or -1
 * when `obj` is not plain.
 */
function writeForms (obj: Record<string, unknown>, omit: string, prefix: Uint8Array): number {
  pos = 0
  try {
    const keys = sortedKeys(obj)
    head(5, keys.length)
    const entries = pos
    // [cut, cutEnd): the omitted member's key and value; empty when there is none
    let cut = -1
    let cutEnd = -1
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]
      if (key === omit) cut = pos
      writeString(key)
      writeValue(obj[key])
      if (key === omit) cutEnd = pos
    }
    const end = pos
    if (cut < 0) { cut = end; cutEnd = end }
    // the second form goes after the first in the scratch buffer, copied within it
    ensure(prefix.byteLength + 9 + end)
    u8.set(prefix, pos)
    pos += prefix.byteLength
    head(5, cutEnd > cut ? keys.length - 1 : keys.length)
    u8.copyWithin(pos, entries, cut)
    pos += cut - entries
    u8.copyWithin(pos, cutEnd, end)
    pos += end - cutEnd
    return end
  } catch {
    // UNSUPPORTED, or anything else (a getter that throws, a stack overflow): dag-cbor decides
    return -1
  }
}

/**
 * `use(bytes)` on `encodePlainCbor(value, prefix)` given as a view of the
 * encoder's scratch memory (no copy; valid while `use` runs; what `use`
 * throws is thrown). Undefined, without calling `use`, when `value` is not
 * plain.
 */
export function withPlainCbor<R> (value: unknown, prefix: Uint8Array | undefined, use: (bytes: Uint8Array) => R): R | undefined {
  if (busy) return undefined
  busy = true
  try {
    pos = 0
    try {
      if (prefix != null) {
        ensure(prefix.byteLength)
        u8.set(prefix, 0)
        pos = prefix.byteLength
      }
      writeValue(value)
    } catch {
      return undefined
    }
    return use(u8.subarray(0, pos))
  } finally {
    release()
  }
}
