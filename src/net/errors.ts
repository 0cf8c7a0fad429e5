import { PlError } from '../core/errors.js'

export class FrameTooLargeError extends PlError {
  override name = 'FrameTooLargeError'
}

export class TruncatedFrameError extends PlError {
  override name = 'TruncatedFrameError'
}

export class MalformedFrameError extends PlError {
  override name = 'MalformedFrameError'
}

export class RpcTimeoutError extends PlError {
  override name = 'RpcTimeoutError'
  constructor (message: string, details: Record<string, unknown> = {}) { super(message, details, true) }
}

export class RpcDialError extends PlError {
  override name = 'RpcDialError'
  constructor (message: string, details: Record<string, unknown> = {}) { super(message, details, true) }
}

export class RpcStreamError extends PlError {
  override name = 'RpcStreamError'
  constructor (message: string, details: Record<string, unknown> = {}) { super(message, details, true) }
}

/** The remote answered with a non-OK status; `status` and the remote error are in details. */
export class RpcStatusError extends PlError {
  override name = 'RpcStatusError'
}

export class RpcAbortedError extends PlError {
  override name = 'RpcAbortedError'
}

/** A listen address (libp2p or the control API) is taken by another process. */
export class ListenAddressInUseError extends PlError {
  override name = 'ListenAddressInUseError'
}

/** A `--bootstrap` entry is not a multiaddr ending in `/p2p/<peerId>`. */
export class InvalidBootstrapAddressError extends PlError {
  override name = 'InvalidBootstrapAddressError'
}

/** A `--network` name or file that cannot be read or is not a valid network document. */
export class InvalidNetworkError extends PlError {
  override name = 'InvalidNetworkError'
}

/** A peer sent a frame nobody asked for: a response on an idle reused stream, or more requests ahead than the protocol allows. */
export class UnsolicitedFrameError extends PlError {
  override name = 'UnsolicitedFrameError'
}

/** The stream was reset (by the peer or locally) before the frame being read was complete. */
export class StreamResetError extends PlError {
  override name = 'StreamResetError'
  constructor (message: string, details: Record<string, unknown> = {}) { super(message, details, true) }
}
