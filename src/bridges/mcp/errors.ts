/** Errors of the MCP bridge (docs/errors/mcp.md). */
import { PlError } from '../../core/errors.js'

/** A tools/call named no tool this node offers. */
export class McpUnknownToolError extends PlError {
  override name = 'McpUnknownToolError'
}

/** A tools/call whose arguments fail the tool's input schema. */
export class McpInvalidArgumentsError extends PlError {
  override name = 'McpInvalidArgumentsError'
}

/** The caller's API key lacks the scope a tool needs (runs need `submit`). */
export class McpScopeError extends PlError {
  override name = 'McpScopeError'
}

/** An MCP server could not be started or reached, or its connection died (retryable: the requester fails over). */
export class McpServerUnavailableError extends PlError {
  override name = 'McpServerUnavailableError'
}

/** An MCP server did not answer a tools/call in time (retryable). */
export class McpServerHungError extends PlError {
  override name = 'McpServerHungError'
}

/** An MCP server answered something that is not a valid tools/call result (retryable). */
export class McpBadAnswerError extends PlError {
  override name = 'McpBadAnswerError'
}

/** The tool ran and reported an error (`isError: true`); its text is in the message. */
export class McpToolError extends PlError {
  override name = 'McpToolError'
}

/** `--mcp "<command>"` / `--mcp-url` / `services.mcp` is malformed (empty command, unbalanced quote, not http(s)). */
export class McpTargetError extends PlError {
  override name = 'McpTargetError'
}
