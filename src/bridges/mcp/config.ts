/**
 * The `services.mcp` config section: light (no SDK), so the daemon checks it
 * without loading the bridge (src/services.ts loads that when first needed).
 */
import type { PublishMcpRequest } from './publish.js'

export interface McpBridgeInit {
  /** an outbound tools/call's time budget (the step's wall limit applies when shorter) @default 60000 */
  callTimeoutMs?: number
  /** starting / reaching an MCP server and its initialize handshake @default 20000 */
  connectTimeoutMs?: number
  /** MCP servers whose tools this node publishes at start (operator config) @default none */
  servers?: PublishMcpRequest[]
  /** tools listed on /mcp at most @default 200 */
  maxTools?: number
}

/** Config keys of `services.mcp`. */
export const MCP_CONFIG_KEYS = ['callTimeoutMs', 'connectTimeoutMs', 'servers', 'maxTools']

export const DEFAULT_CALL_TIMEOUT_MS = 60_000
export const DEFAULT_CONNECT_TIMEOUT_MS = 20_000
