/**
 * `GET /capabilities` (this node's capabilities and the mesh catalog it has
 * heard) and `GET /capabilities/find` (the search `pl cap find` runs: this
 * node, the catalog, then the DHT), and `DELETE /capabilities/:id`
 * (unpublish, publish scope), `POST /capabilities` (publish with an uploaded
 * module or a local capability's implementation: src/gateway/publish.ts) and
 * `GET /capabilities/publish-options` (what publishing takes here). Each
 * answers what the discovery service answers the control API. Every refused
 * request to these routes is counted (`pl_rejected_total{area="gateway"}`).
 */
import type { FastifyInstance } from 'fastify'
import { queryFromParams, type Discovery } from '../discovery/index.js'
import { hasScope } from './auth.js'
import { ServiceUnavailableError } from './errors.js'
import { MAX_DESCRIPTOR_TEXT, publishFromRequest, publishOptions, type PublishBody, type PublishDeps } from './publish.js'
import { MAX_MODULE_UPLOAD_BYTES, sweepUploadedModules } from './module-upload.js'
import { capabilityRef, cidString, plainJsonAnswer, withErrors } from './schemas.js'
import { errorReply } from './server.js'
import { RequestTooDeepError } from '../core/json-guard.js'

/** Catalog entries `GET /capabilities` lists at most. */
export const MAX_LISTED_CATALOG = 1000

/** A catalog entry or a found provider: its descriptor is a Capability.v1 (the other members belong to discovery, DISCOVERY.md). */
const withDescriptor = { type: 'object', additionalProperties: true, required: ['cid', 'descriptor'], properties: { cid: cidString, descriptor: capabilityRef } }

/** One of this node's published capabilities, as `GET /capabilities` lists it. */
const localCapability = {
  type: 'object',
  additionalProperties: false,
  required: ['cid', 'descriptor', 'active', 'publishedAt'],
  properties: { cid: cidString, descriptor: capabilityRef, active: { type: 'boolean' }, publishedAt: { type: 'integer', description: 'ms since epoch' }, problem: { type: 'string' } }
}

const oneOrMany = { anyOf: [{ type: 'string', maxLength: 512 }, { type: 'array', maxItems: 16, items: { type: 'string', maxLength: 512 } }] }

/** Largest `POST /capabilities` body: a base64 upload (4/3 of its bytes) and a descriptor. */
export const PUBLISH_BODY_LIMIT = Math.ceil(MAX_MODULE_UPLOAD_BYTES * 4 / 3) + MAX_DESCRIPTOR_TEXT + 16 * 1024

export interface CapabilityRoutesInit {
  /** what publishing needs besides discovery; unset: no `POST /capabilities` */
  publish?: Omit<PublishDeps, 'discovery'>
  /** counts a refused request (`pl_rejected_total{area="gateway"}`) */
  reject?: (reason: string) => void
}

/** Errors from below the gateway that mean a bad publish request (not a failing node). */
const PUBLISH_INPUT_ERRORS: Record<string, number> = {
  InvalidDescriptorError: 400,
  ProviderMismatchError: 400,
  DescriptorTooLargeError: 413,
  ModuleFolderError: 400
}

/** The module folders of the capabilities this node publishes (uploads among them are kept). */
function moduleDirsInUse (d: Discovery): string[] {
  return d.localCapabilities().flatMap(c => [c.impl?.dir, c.module?.dir]).filter((x): x is string => x != null)
}

export function capabilityRoutes (discovery: () => Discovery | undefined, init: CapabilityRoutesInit = {}) {
  return async (app: FastifyInstance): Promise<void> => {
    const need = (): Discovery => {
      const d = discovery()
      if (d == null) throw new ServiceUnavailableError('this node runs no discovery service')
      return d
    }
    // every refusal on these routes (auth, scope, schema, body size, bad input) is counted; a body too deep was counted by the server's JSON guard already
    app.addHook('onError', async (_req, _rep, err) => {
      if (err instanceof RequestTooDeepError) return
      const { status, body } = await errorReply(err)
      if (status >= 400 && status < 500) init.reject?.(body.error.name)
    })
    app.get('/capabilities', {
      config: { scope: 'read' },
      ...plainJsonAnswer,
      schema: {
        operationId: 'listCapabilities',
        summary: 'This node\'s published capabilities and the mesh catalog it has heard (gossip ads, earlier DHT finds)',
        tags: ['capabilities'],
        response: withErrors({ 200: { type: 'object', required: ['local', 'catalog'], properties: { local: { type: 'array', items: localCapability }, catalog: { type: 'array', items: withDescriptor } } } })
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
    }, async (req) => {
      const d = need()
      const before = new Map(d.localCapabilities().map(c => [c.cid, c]))
      const removed = await d.unpublish(req.params.id)
      // the uploaded module folders no capability uses any more go with them
      const released = removed.flatMap(cid => [before.get(cid)?.impl?.dir, before.get(cid)?.module?.dir]).filter((x): x is string => x != null)
      if (init.publish != null) await sweepUploadedModules(init.publish.dataDir, moduleDirsInUse(d), { only: released }).catch(() => [])
      return { removed }
    })

    const publish = init.publish
    if (publish != null) {
      // folders left by capabilities unpublished elsewhere (CLI, control API) and by uploads a crash interrupted
      const d = discovery()
      if (d != null) await sweepUploadedModules(publish.dataDir, moduleDirsInUse(d), { temps: true }).catch(() => [])
    }
    if (publish != null) {
      const upload = { anyOf: [
        { type: 'object', additionalProperties: false, required: ['zip'], properties: { zip: { type: 'string', minLength: 1, description: 'a ZIP of the module folder (entry file at its root), base64' } } },
        { type: 'object', additionalProperties: false, required: ['file', 'content'], properties: { file: { type: 'string', enum: ['function.mjs', 'function.js', 'function.py'] }, content: { type: 'string', minLength: 1, description: 'the file, base64' } } }
      ] }
      app.post<{ Body: PublishBody }>('/capabilities', {
        config: { scope: 'publish' },
        bodyLimit: PUBLISH_BODY_LIMIT,
        ...plainJsonAnswer,
        schema: {
          operationId: 'publishCapability',
          summary: 'Publishes a capability on this node: a Capability.v1 descriptor (JSON, or the YAML text `pl cap publish` reads) with an uploaded module (ZIP or one entry file, base64; always run in the sandbox) or the implementation of a capability this node publishes (`like`: CID or name)',
          tags: ['capabilities'],
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['descriptor', 'impl'],
            properties: {
              descriptor: { anyOf: [{ type: 'string', minLength: 1, maxLength: MAX_DESCRIPTOR_TEXT }, { type: 'object', additionalProperties: true }], description: 'Capability.v1 without provider (filled in): an object, or YAML/JSON text' },
              impl: {
                anyOf: [
                  { type: 'object', additionalProperties: false, required: ['upload'], properties: { upload, className: { type: 'string', minLength: 1, maxLength: 128, description: 'Python: the class of function.py to run' } } },
                  { type: 'object', additionalProperties: false, required: ['like'], properties: { like: { type: 'string', minLength: 1, maxLength: 256, description: 'CID or name of a capability this node publishes: its implementation is reused' } } },
                  {
                    type: 'object',
                    additionalProperties: false,
                    required: ['external'],
                    properties: {
                      external: {
                        type: 'object',
                        additionalProperties: false,
                        required: ['kind', 'target'],
                        description: 'an external implementation (src/exec/external.ts): only kinds and targets the operator allows (api.publishExternal)',
                        properties: { kind: { type: 'string', minLength: 1, maxLength: 32 }, target: { type: 'string', minLength: 1, maxLength: 2048 }, options: { type: 'object', maxProperties: 32, additionalProperties: { type: ['string', 'number', 'boolean'] } } }
                      }
                    }
                  }
                ]
              },
              price: { type: 'number', minimum: 0, description: 'replaces the descriptor\'s price' }
            }
          },
          response: withErrors({ 200: { type: 'object', required: ['cid', 'descriptor'], properties: { cid: cidString, descriptor: capabilityRef } } })
        }
      }, async (req) => {
        try {
          const d = need()
          return await publishFromRequest(req.body, { ...publish, discovery: d, inUse: () => moduleDirsInUse(d) })
        } catch (err) {
          const status = PUBLISH_INPUT_ERRORS[(err as Error)?.name]
          if (status != null && (err as { statusCode?: number }).statusCode == null) Object.assign(err as object, { statusCode: status })
          throw err
        }
      })
    }

    app.get('/capabilities/publish-options', {
      config: { scope: 'read' },
      schema: {
        operationId: 'capabilityPublishOptions',
        summary: 'Whether the caller may publish here (`POST /capabilities`, publish scope) and what an upload may be',
        tags: ['capabilities'],
        response: withErrors({ 200: { type: 'object', required: ['allowed'], properties: { allowed: { type: 'boolean' }, python: { type: 'boolean' }, maxUploadBytes: { type: 'integer' }, maxUnpackedBytes: { type: 'integer' }, maxEntries: { type: 'integer' } } } })
      }
    }, async (req) => ({ allowed: publish != null && req.principal != null && hasScope(req.principal, 'publish'), ...publishOptions(publish?.python === true) }))

    app.get<{ Querystring: Record<string, string | string[]> }>('/capabilities/find', {
      config: { scope: 'read' },
      ...plainJsonAnswer,
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
        response: withErrors({ 200: { type: 'array', items: withDescriptor } })
      }
    }, async (req) => {
      const d = need()
      const { query, options, limit } = queryFromParams(req.query)
      return (await d.find(query, options)).slice(0, limit)
    })
  }
}
