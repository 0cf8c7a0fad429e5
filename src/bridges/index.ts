/**
 * The bridges between the mesh and other protocols, one area each with its
 * own surface: `nats/index.ts` (NATS subjects for gossip and RPC),
 * `mcp/index.ts` (Model Context Protocol, both ways), `a2a/index.ts`
 * (Agent2Agent, both ways), `attached/index.ts` (providers attached over a
 * WebSocket). Import the one you use: each loads its own SDK
 * (docs/ARCHITECTURE.md "Areas and their surfaces"; docs/BRIDGES.md).
 *
 * @example
 * import { nats } from '../bridges/nats/index.js'
 * services: { ...daemonServices(config), nats: nats({ servers: ['nats://127.0.0.1:4222'] }) }
 */
export * as a2a from './a2a/index.js'
export * as attached from './attached/index.js'
export * as mcp from './mcp/index.js'
export * as nats from './nats/index.js'
