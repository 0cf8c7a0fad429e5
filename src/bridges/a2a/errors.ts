/**
 * Errors of the A2A bridge. Inbound ones answer as JSON-RPC errors (code in
 * `rpcCode`, the name in the message and in `error.data`); outbound ones fail
 * an awarded step (retryable when the remote agent hung, vanished or
 * answered garbage, so the requester fails over).
 */
import { PlError } from '../../core/errors.js'

abstract class A2aRequestError extends PlError {
  /** JSON-RPC error code (-32602 invalid params, -32600 invalid request) */
  abstract readonly rpcCode: number
}

/** A message part this bridge does not take: a file/raw/url part, an unknown part kind, or a data part that is neither `{capability, input}`, `{plan, input}` nor `{choice}`. -32602 */
export class A2aUnsupportedPartError extends A2aRequestError {
  override name = 'A2aUnsupportedPartError'
  readonly rpcCode = -32602
}

/** A message part (or the number of parts) over the bridge's limits (`maxPartBytes`, 8 parts). -32602 */
export class A2aPartTooLargeError extends A2aRequestError {
  override name = 'A2aPartTooLargeError'
  readonly rpcCode = -32602
}

/** A message that names no work: no part, a text part while no default capability is configured, a bad capability name, a plan that does not compile. -32602 */
export class A2aInvalidMessageError extends A2aRequestError {
  override name = 'A2aInvalidMessageError'
  readonly rpcCode = -32602
}

/** Outbound: the agent card URL could not be fetched, is not an agent card, or has no such skill. Retryable (the agent may come back). */
export class A2aAgentUnavailableError extends PlError {
  override name = 'A2aAgentUnavailableError'
}

/** Outbound: the remote agent did not finish within the step's wall limit, or the call was aborted while it hung. Retryable. */
export class A2aAgentTimeoutError extends PlError {
  override name = 'A2aAgentTimeoutError'
}

/** Outbound: the remote agent answered something that is not an A2A result (garbage, a non-JSON-RPC body, a task without artifacts). Retryable. */
export class A2aBadAnswerError extends PlError {
  override name = 'A2aBadAnswerError'
}

/** Outbound: the remote agent ended the task failed, rejected, canceled, or asks for input or auth a mesh step cannot give. Not retryable: the agent answered. */
export class A2aTaskFailedError extends PlError {
  override name = 'A2aTaskFailedError'
}

/** Config: a bad `services.a2a` section or `pl cap publish --a2a` argument. */
export class A2aConfigError extends PlError {
  override name = 'A2aConfigError'
}
