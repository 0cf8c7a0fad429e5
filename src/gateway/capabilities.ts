/**
 * `GET /capabilities` (this node's capabilities and the mesh catalog it has
 * heard) and `GET /capabilities/find` (the search `pl cap find` runs: this
 * node, the catalog, then the DHT), and `DELETE /capabilities/:id`
 * (unpublish, publish scope). Each answers what the discovery service
 * answers the control API. Publishing is not offered here: it binds a module
 * folder on the node's disk, which stays the operator's act (`pl cap publish`).
 */
import type { FastifyInstance } from 'fastify'
import { queryFromParams } from '../discovery/routes.js'
import type { Discovery } from '../discovery/service.js'
import { ServiceUnavailableError } from './errors.js'
import { anyObject, withErrors } from './schemas.js'

/** Catalog entries `GET /capabilities` lists at most. */
export const MAX_LISTED_CATALOG = 1000

const oneOrMany = { anyOf: [{ type: 'string', maxLength: 512 }, { type: 'array', maxItems: 16, items: { type: 'string', maxLength: 512 } }] }

export function capabilityRoutes (discovery: () => Discovery | undefined) {
  return async (app: FastifyInstance): Promise<void> => {
    const need = (): Discovery => {
      const d = discovery()
      if (d == null) throw new ServiceUnavailableError('this node runs no discovery service')
      return d
    }
    app.get('/capabilities', {
      config: { scope: 'read' },
      schema: {
        operationId: 'listCapabilities',
        summary: 'This node\'s published capabilities and the mesh catalog it has heard (gossip ads, earlier DHT finds)',
        tags: ['capabilities'],
        response: withErrors({ 200: { type: 'object', required: ['local', 'catalog'], properties: { local: { type: 'array', items: anyObject }, catalog: { type: 'array', items: anyObject } } } })
      }
    }, async () => {
      const d = need()
      const local = d.localCapabilities().map(({ cid, descriptor, active, publishedAt, problem }) => ({ cid, descriptor, active, publishedAt, ...(problem != null ? { problem } : {}) }))
      return { local, catalog: d.catalogEntries(MAX_LISTED_CATALOG) }
    })

    app.delete<{ Params: { id: string } }>('/capabilities/:id', {
      config: { scope: 'publish' },
      schema: {
        operationId: 'unpublishCapability',
        summary: 'Stops publishing a capability of this node (by descriptor CID, or every version of a name): ads withdrawn, DHT records cancelled',
        tags: ['capabilities'],
        params: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 256 } } },
        response: withErrors({ 200: { type: 'object', required: ['removed'], properties: { removed: { type: 'array', items: { type: 'string' } } } } })
      }
    }, async (req) => ({ removed: await need().unpublish(req.params.id) }))

    app.get<{ Querystring: Record<string, string | string[]> }>('/capabilities/find', {
      config: { scope: 'read' },
      schema: {
        operationId: 'findCapabilities',
        summary: 'Providers of a capability: this node, the catalog, then the DHT (the filters of `pl cap find`)',
        tags: ['capabilities'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 256 },
            version: { type: 'string', maxLength: 64 },
            attr: { ...oneOrMany, description: 'attribute filter `key>=value` (also <=, >, <, =); repeat for more' },
            policy: { ...oneOrMany, description: 'required policy CID; repeat for more' },
            timeout: { type: 'string', pattern: '^[0-9]{1,6}$', description: 'ms to spend (DHT walk)' },
            limit: { type: 'string', pattern: '^[0-9]{1,4}$' },
            local: { type: 'string', enum: ['1', 'true', '0', 'false'] },
            dht: { type: 'string', enum: ['1', 'true', '0', 'false'] }
          }
        },
        response: withErrors({ 200: { type: 'array', items: anyObject } })
      }
    }, async (req) => {
      const d = need()
      const { query, options, limit } = queryFromParams(req.query)
      return (await d.find(query, options)).slice(0, limit)
    })
  }
}
