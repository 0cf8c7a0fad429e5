import { PlError } from '../../core/errors.js'

/** A request on `<prefix>.<peerId>.<protocol>` without a reply subject or a well-formed caller proof (`Pl-From`, `Pl-Ts`, `Pl-Nonce`, `Pl-Sig`). */
export class InvalidNatsCallError extends PlError {
  override name = 'InvalidNatsCallError'
}

/** A request on `<prefix>.<peerId>.<protocol>` for a protocol this node does not serve. */
export class UnknownNatsProtocolError extends PlError {
  override name = 'UnknownNatsProtocolError'
}

/** This node already serves its maximum of NATS calls at once (`maxInFlight`); retry later. */
export class NatsBusyError extends PlError {
  override name = 'NatsBusyError'
  constructor (message: string, details: Record<string, unknown> = {}) { super(message, details, true) }
}
