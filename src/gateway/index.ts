/**
 * The agent gateway: every pl-node can serve HTTP/JSON, WebSocket and SSE to
 * agents on any interface (off unless `--api-listen HOST:PORT`). API keys
 * with scopes (hashed in LevelDB) or ed25519-signed requests from registered
 * agents; per-caller rate limits; route schemas published as OpenAPI 3.1 at
 * `GET /openapi.json`. A front door only: runs, estimates, receipts and
 * events come from the executor, negotiation and receipts services.
 *
 * @example
 * services: { ...daemonServices(config), gateway: gateway({ listen: '0.0.0.0:8080' }) }
 * // then: pl api-key create --name alice --scopes read,submit
 * //       curl -H 'authorization: Bearer plk_…' http://host:8080/runs
 */
export { gateway, GatewayService, gatewayInitFromConfig, parseListen, GATEWAY_CONFIG_KEYS, type GatewayInit, type GatewayComponents } from './service.js'
export { KeyStore, SCOPES, parseScopes, type KeyInfo, type KeyRecord } from './keys.js'
export { RateLimiter, type RateLimiterInit } from './rate-limit.js'
export { estimateDag, type Estimate, type StepEstimate, type EstimateCandidate } from './estimate.js'
export { RunEventHub, type Sink } from './events.js'
export { errorReply, buildServer, consoleUrl, type ServerInit } from './server.js'
export { gatewayRoutes } from './routes.js'
export { graphFrom } from './graph.js'
export { withErrors } from './schemas.js'
export { hasScope, Authenticator, type AuthDeps } from './auth.js'
export { LoginTokens, type LoginTokensInit } from './login.js'
export type { RunRequester, GatewayContext } from './context.js'
export * from './errors.js'
export * from './constants.js'
export type * from './types.js'
