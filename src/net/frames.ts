/**
 * Length-prefixed frames: an unsigned LEB128 varint length, then that many
 * bytes of dag-cbor. The decoder checks the declared length against the limit
 * before buffering the payload, so a hostile peer cannot make us hold more
 * than `maxBytes` + a few bytes.
 */
import { Uint8ArrayList } from 'uint8arraylist'
import { encodeCanonical, decodeCanonical } from '../core/encoding.js'
import { FrameTooLargeError, TruncatedFrameError, MalformedFrameError } from './errors.js'

const MAX_VARINT_BYTES = 5

export function encodeVarint (n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`varint must be a non-negative integer, got ${n}`)
  const out: number[] = []
  do {
    let byte = n & 0x7f
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    out.push(byte)
  } while (n > 0)
  return Uint8Array.from(out)
}

/** Encodes one value as a frame; throws FrameTooLargeError if the payload exceeds `maxBytes`. */
export function encodeFrame (value: unknown, maxBytes: number): Uint8Array {
  const payload = encodeCanonical(value)
  if (payload.byteLength > maxBytes) throw new FrameTooLargeError(`frame of ${payload.byteLength} bytes exceeds the limit of ${maxBytes}`, { size: payload.byteLength, max: maxBytes })
  const prefix = encodeVarint(payload.byteLength)
  const out = new Uint8Array(prefix.byteLength + payload.byteLength)
  out.set(prefix, 0)
  out.set(payload, prefix.byteLength)
  return out
}

/** Incremental decoder: push chunks, pull complete frames. */
export class FrameDecoder {
  private readonly buf = new Uint8ArrayList()

  constructor (private readonly maxBytes: number) {}

  push (chunk: Uint8Array | Uint8ArrayList): void {
    this.buf.append(chunk)
    // Fail early on a hostile length prefix, before the payload arrives.
    this.peekLength()
  }

  /** Declared length of the next frame, or undefined if the prefix is incomplete. */
  private peekLength (): { length: number, prefix: number } | undefined {
    let n = 0
    let mul = 1
    for (let i = 0; i < Math.min(this.buf.byteLength, MAX_VARINT_BYTES); i++) {
      const b = this.buf.get(i)
      n += (b & 0x7f) * mul
      if ((b & 0x80) === 0) {
        if (n > this.maxBytes) throw new FrameTooLargeError(`peer announced a frame of ${n} bytes, the limit is ${this.maxBytes}`, { size: n, max: this.maxBytes })
        return { length: n, prefix: i + 1 }
      }
      mul *= 128
    }
    if (this.buf.byteLength >= MAX_VARINT_BYTES) throw new MalformedFrameError('frame length prefix is longer than 5 bytes')
    return undefined
  }

  /** The next complete frame's decoded value, or undefined if more bytes are needed. */
  next (): { value: unknown } | undefined {
    const head = this.peekLength()
    if (head == null || this.buf.byteLength < head.prefix + head.length) return undefined
    const payload = this.buf.subarray(head.prefix, head.prefix + head.length)
    this.buf.consume(head.prefix + head.length)
    try {
      return { value: decodeCanonical(payload) }
    } catch (err) {
      throw new MalformedFrameError(`frame payload is not valid dag-cbor: ${(err as Error).message}`)
    }
  }

  get pending (): number {
    return this.buf.byteLength
  }

  /** Called at end of stream: leftover bytes mean the peer stopped mid-frame. */
  end (): void {
    if (this.buf.byteLength > 0) throw new TruncatedFrameError(`stream ended inside a frame (${this.buf.byteLength} bytes pending)`)
  }
}
