/**
 * `GET /attach`: the WebSocket attached providers connect to (API key with
 * the `publish` scope, as a bearer header or `?access_token=`). The gateway
 * authenticates the upgrade request like any other route.
 */
import type { WebSocket } from 'ws'
import type { GatewayPlugin } from '../../gateway/types.js'
import { UpgradeRequiredError } from '../../gateway/errors.js'
import { withErrors } from '../../gateway/index.js'

export function attachRoutes (deps: { accept: (socket: WebSocket, maxJsonDepth: number) => void }): GatewayPlugin {
  return async (app) => {
    app.route({
      method: 'GET',
      url: '/attach',
      config: { scope: 'publish', tokenInQuery: true },
      schema: {
        operationId: 'attachProvider',
        summary: 'WebSocket: attach a provider process that registers capability specs and serves their steps (protocol in docs/BRIDGES.md, Attached providers)',
        tags: ['live'],
        querystring: { type: 'object', additionalProperties: false, properties: { access_token: { type: 'string', maxLength: 256 } } },
        response: withErrors({ 101: { description: 'switching to the WebSocket protocol', type: 'null' } })
      },
      handler: async () => { throw new UpgradeRequiredError('GET /attach is a WebSocket endpoint: send an Upgrade: websocket request') },
      // frames are JSON from outside: the gateway's depth limit (api.maxJsonDepth) applies to them as to a body
      wsHandler: (socket: WebSocket, req) => { deps.accept(socket, req.server.plJsonGuard.maxDepth) }
    })
  }
}
