/**
 * Length-prefixed frames: an unsigned LEB128 varint length, then that many
 * bytes of dag-cbor. The decoder checks the declared length against the limit
 * before buffering the payload, so a hostile peer cannot make us hold more
 * than `maxBytes` + a few bytes.
 */
import { Uint8ArrayList } from 'uint8arraylist'
import { encodeCanonical, decodeCanonical } from '../core/encoding.js'
import { FrameTooLargeError, TruncatedFrameError, MalformedFrameError, UnsolicitedFrameError, StreamResetError } from './errors.js'

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

/** What `FrameReader.next()` returns at a clean end of stream between frames. */
export const END_OF_STREAM: unique symbol = Symbol('end of stream')

/** The parts of a libp2p stream a FrameReader listens to. */
export interface FrameSource {
  status: string
  addEventListener: (type: 'message' | 'end' | 'close', listener: (evt: any) => void) => void
  removeEventListener: (type: 'message' | 'end' | 'close', listener: (evt: any) => void) => void
}

/**
 * Reads frames from one libp2p stream across many requests (a reused
 * stream): it listens to the stream's `message` events from construction on,
 * so no byte is lost between calls, keeps at most `maxQueued` decoded frames
 * (past that it fails with UnsolicitedFrameError: a peer pipelining more than
 * the protocol allows) plus one partial frame of at most `maxBytes`.
 */
export class FrameReader {
  private readonly decoder: FrameDecoder
  private readonly queue: unknown[] = []
  private failure?: Error
  private ended = false
  private wake?: () => void
  /** bytes received so far */
  received = 0
  /** called on every chunk, before it is decoded */
  onData?: () => void
  /** called once when the stream ends or fails */
  onEnd?: () => void

  constructor (private readonly stream: FrameSource, maxBytes: number, private readonly maxQueued: number) {
    this.decoder = new FrameDecoder(maxBytes)
    stream.addEventListener('message', this.onMessage)
    stream.addEventListener('end', this.onStreamEnd)
    stream.addEventListener('close', this.onClose)
  }

  private readonly onMessage = (evt: { data: Uint8Array | Uint8ArrayList }): void => {
    if (this.done) return
    this.received += evt.data.byteLength
    this.onData?.()
    if (this.done) return
    try {
      this.decoder.push(evt.data)
      for (let f = this.decoder.next(); f != null; f = this.decoder.next()) {
        if (this.queue.length >= this.maxQueued) throw new UnsolicitedFrameError(`peer sent more than ${this.maxQueued} frame(s) ahead`, { max: this.maxQueued })
        this.queue.push(f.value)
      }
    } catch (err) {
      this.finish(err as Error)
      return
    }
    this.notify()
  }

  private readonly onStreamEnd = (): void => {
    this.finish(this.stream.status === 'aborted' || this.stream.status === 'reset' ? new StreamResetError(`stream ${this.stream.status}`) : undefined)
  }

  private readonly onClose = (evt: { error?: Error }): void => {
    this.finish(evt.error ?? (this.stream.status === 'aborted' || this.stream.status === 'reset' ? new StreamResetError(`stream ${this.stream.status}`) : undefined))
  }

  private finish (err?: Error): void {
    if (this.done) return
    if (err == null) {
      try { this.decoder.end(); this.ended = true } catch (e) { this.failure = e as Error }
    } else {
      this.failure = err
    }
    this.stream.removeEventListener('message', this.onMessage)
    this.stream.removeEventListener('end', this.onStreamEnd)
    this.stream.removeEventListener('close', this.onClose)
    this.notify()
    this.onEnd?.()
  }

  private notify (): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  /** true once the stream ended or failed: no more frames will come (queued ones still can be read) */
  get done (): boolean {
    return this.ended || this.failure != null
  }

  /** the failure that ended the stream, if any */
  get error (): Error | undefined {
    return this.failure
  }

  /** frames decoded and not read yet, plus bytes of a partial frame */
  get backlog (): { frames: number, bytes: number } {
    return { frames: this.queue.length, bytes: this.decoder.pending }
  }

  /** The next frame's value; END_OF_STREAM at a clean end between frames; throws the framing or stream error otherwise. */
  async next (): Promise<unknown> {
    for (;;) {
      if (this.queue.length > 0) return this.queue.shift()
      if (this.failure != null) throw this.failure
      if (this.ended) return END_OF_STREAM
      await new Promise<void>((resolve) => { this.wake = resolve })
    }
  }
}
