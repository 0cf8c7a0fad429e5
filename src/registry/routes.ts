/**
 * The registry's HTTP routes, as a Fastify plugin the gateway registers. The
 * gateway authenticates every request and sets `request.principal` before a
 * handler runs; each route declares the scope it needs in `config.scope`.
 * Handlers only translate HTTP to Registry calls (no business rules here).
 *
 *   GET    /workflows                              read     latest record of every workflow held here
 *   GET    /workflows/:workflow_id                 read     one version (?version=), from the mesh when not held
 *   GET    /workflows/:workflow_id/versions        read     every version and tombstone
 *   POST   /workflows                              publish  register {plan | bundle(base64)}
 *   PUT    /workflows/:workflow_id                 publish  add a greater version
 *   DELETE /workflows/:workflow_id                 publish  signed tombstone (?purge=1: admin, forget it)
 *   POST   /workflows/query                        read     the filter language (src/registry/query.ts)
 *   POST   /uploadWorkflow                         publish  multipart, the ZIP in field `file`
 *   POST   /dsl-executor/:workflow_id/execute_dsl  submit   run it {input, addons?, version?, wait?}
 *   POST   /dsl-executor/:workflow_id/create-infra submit   warm an executor for it
 *   DELETE /dsl-executor/:workflow_id/remove-infra submit   release that
 *
 * @example
 * await app.register(registryRoutes({ registry: node.service<Registry>('registry') }))
 */
import type { FastifyRequest } from 'fastify'
import multipart from '@fastify/multipart'
import { Ajv } from 'ajv'
import type { GatewayPlugin, Principal } from '../gateway/types.js'
import type { Registry, RegisterInput } from './service.js'
import { InvalidWorkflowRequestError, WorkflowBundleTooLargeError } from './errors.js'
import { MAX_QUERY_LIMIT } from './constants.js'
import * as S from './route-schemas.js'

export interface RegistryRoutesDeps {
  registry: Registry
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

function principalOf (request: FastifyRequest): Principal {
  const p = request.principal
  if (p == null) throw new TypeError('registry routes need the gateway to set request.principal')
  return p
}

function decodeBase64 (text: string): Uint8Array {
  if (text.length % 4 !== 0 || !BASE64.test(text)) throw new InvalidWorkflowRequestError('"bundle" must be the ZIP bytes in base64 (standard alphabet, padded)')
  return new Uint8Array(Buffer.from(text, 'base64'))
}

function registerInput (body: S.RegisterBody): RegisterInput {
  return {
    ...(body.plan != null ? { plan: body.plan } : {}),
    ...(body.bundle != null ? { bundle: decodeBase64(body.bundle) } : {}),
    ...(body.workflow_id != null ? { workflow_id: body.workflow_id } : {}),
    ...(body.version != null ? { version: body.version } : {}),
    ...(body.releaseTag != null ? { releaseTag: body.releaseTag } : {})
  }
}

/** Fastify's and @fastify/multipart's own 4xx errors while reading an upload, as registry errors. */
function uploadError (err: any, max: number): unknown {
  if (typeof err?.code !== 'string' || !err.code.startsWith('FST_')) return err
  if (err.code === 'FST_REQ_FILE_TOO_LARGE') return new WorkflowBundleTooLargeError(`the uploaded bundle is over ${max} bytes`, { max })
  return new InvalidWorkflowRequestError(`bad multipart upload: ${String(err.message)}`, { code: err.code })
}

/**
 * The plugin. Validation is strict: unknown fields are refused (400), never
 * dropped, and JSON bodies are not coerced (Fastify's default ajv removes
 * additional properties and coerces types; this plugin's routes use their own).
 */
export function registryRoutes (deps: RegistryRoutesDeps): GatewayPlugin {
  const reg = deps.registry
  const maxBundle = reg.settings.maxBundleBytes
  // JSON bodies carry the bundle in base64: 4/3 of its size, plus room for the other fields
  const jsonBodyLimit = Math.ceil(maxBundle / 3) * 4 + 64 * 1024
  const strict = new Ajv({ allErrors: false, strict: false, removeAdditional: false, coerceTypes: false, useDefaults: false })
  const coercing = new Ajv({ allErrors: false, strict: false, removeAdditional: false, coerceTypes: true, useDefaults: false })
  return async (app) => {
    app.setValidatorCompiler(({ schema, httpPart }) => {
      const validate = (httpPart === 'body' ? strict : coercing).compile(schema)
      // a route whose body is optional (`x-optional-body`) may come without one; every other body is required
      if (httpPart !== 'body' || (schema as Record<string, unknown>)['x-optional-body'] !== true) return validate
      // Fastify reads the errors from the function it was given
      const optional = Object.assign((data: unknown): boolean => {
        if (data === undefined || data === null) return true
        const ok = validate(data)
        optional.errors = validate.errors
        return ok
      }, { errors: null as typeof validate.errors })
      return optional
    })
    await app.register(multipart, { limits: { fileSize: maxBundle, files: 1, fields: 3, parts: 4, fieldSize: 1024, fieldNameSize: 64, headerPairs: 100 } })

    app.get('/workflows', {
      config: { scope: 'read' },
      schema: { summary: 'Latest record of every workflow this node holds (registered here or cached from the mesh)', tags: ['registry'], querystring: S.listQuery, response: { 200: S.listAnswer } }
    }, async (request) => {
      const q = request.query as { include_deleted?: boolean }
      return { workflows: await reg.list({ includeDeleted: q.include_deleted === true }) }
    })

    app.post('/workflows/query', {
      config: { scope: 'read' },
      schema: { summary: `Query records with the filter language (limit at most ${MAX_QUERY_LIMIT}, paged with a cursor)`, tags: ['registry'], body: S.queryBody, response: { 200: S.queryAnswer } }
    }, async (request) => await reg.query(request.body))

    app.get('/workflows/:workflow_id', {
      config: { scope: 'read' },
      schema: { summary: 'One version of a workflow (default the latest); found in the mesh when not held here', tags: ['registry'], params: S.idParams, querystring: S.getQuery, response: { 200: S.recordWithState } }
    }, async (request) => {
      const { workflow_id: id } = request.params as { workflow_id: string }
      const q = request.query as { version?: string, refresh?: boolean }
      if (q.refresh === true) await reg.lookup(id, { refresh: true })
      return await reg.get(id, { version: q.version })
    })

    app.get('/workflows/:workflow_id/versions', {
      config: { scope: 'read' },
      schema: { summary: 'Every version and tombstone of a workflow', tags: ['registry'], params: S.idParams, response: { 200: S.versionsAnswer } }
    }, async (request) => await reg.versions((request.params as { workflow_id: string }).workflow_id))

    app.post('/workflows', {
      config: { scope: 'publish' },
      bodyLimit: jsonBodyLimit,
      schema: { summary: 'Register a workflow: a DSL plan or a ZIP bundle (base64); the publisher is the caller', tags: ['registry'], body: S.registerBody, response: { 200: S.record, 201: S.record } }
    }, async (request, reply) => {
      const { record, created } = await reg.register(registerInput(request.body as S.RegisterBody), principalOf(request), { mode: 'create' })
      return await reply.code(created ? 201 : 200).send(record)
    })

    app.put('/workflows/:workflow_id', {
      config: { scope: 'publish' },
      bodyLimit: jsonBodyLimit,
      schema: { summary: 'Add a version (semver greater than the latest, else 409)', tags: ['registry'], params: S.idParams, body: S.registerBody, response: { 200: S.record, 201: S.record } }
    }, async (request, reply) => {
      const { workflow_id: id } = request.params as { workflow_id: string }
      const { record, created } = await reg.register(registerInput(request.body as S.RegisterBody), principalOf(request), { mode: 'update', workflowId: id })
      return await reply.code(created ? 201 : 200).send(record)
    })

    app.delete('/workflows/:workflow_id', {
      config: { scope: 'publish' },
      schema: { summary: 'Delete: a signed tombstone (history kept); ?purge=1 (admin scope) forgets every record', tags: ['registry'], params: S.idParams, querystring: S.deleteQuery, response: { 200: S.deleteAnswer } }
    }, async (request) => {
      const { workflow_id: id } = request.params as { workflow_id: string }
      const q = request.query as { purge?: boolean | 0 | 1 }
      return await reg.remove(id, principalOf(request), { purge: q.purge === true || q.purge === 1 })
    })

    app.post('/uploadWorkflow', {
      config: { scope: 'publish' },
      schema: { summary: 'Upload a ZIP bundle (multipart/form-data, field "file"; optional fields workflow_id, version, releaseTag); idempotent', tags: ['registry'], consumes: ['multipart/form-data'], response: { 200: S.record, 201: S.record } }
    }, async (request, reply) => {
      const input: RegisterInput = {}
      try {
        for await (const part of request.parts()) {
          if (part.type === 'file') {
            if (part.fieldname !== 'file') {
              part.file.resume()
              throw new InvalidWorkflowRequestError(`the bundle goes in the multipart field "file", not "${part.fieldname}"`)
            }
            input.bundle = new Uint8Array(await part.toBuffer())
          } else {
            if (!['workflow_id', 'version', 'releaseTag'].includes(part.fieldname) || typeof part.value !== 'string') {
              throw new InvalidWorkflowRequestError(`unknown multipart field "${part.fieldname}" (known: file, workflow_id, version, releaseTag)`)
            }
            (input as Record<string, unknown>)[part.fieldname] = part.value
          }
        }
      } catch (err) {
        throw uploadError(err, maxBundle)
      }
      if (input.bundle == null) throw new InvalidWorkflowRequestError('no file: send the ZIP bundle in the multipart field "file"')
      const { record, created } = await reg.register(input, principalOf(request), { mode: 'upload' })
      return await reply.code(created ? 201 : 200).send(record)
    })

    app.post('/dsl-executor/:workflow_id/execute_dsl', {
      config: { scope: 'submit' },
      schema: { summary: 'Run a registered workflow; with wait: true the answer comes once the run ends', tags: ['dsl-executor'], params: S.idParams, body: S.executeBody, response: { 200: S.executeAnswer } }
    }, async (request) => {
      const { workflow_id: id } = request.params as { workflow_id: string }
      return await reg.runs.execute(id, (request.body ?? {}), { principal: principalOf(request) })
    })

    app.post('/dsl-executor/:workflow_id/create-infra', {
      config: { scope: 'submit' },
      schema: { summary: 'Warm an executor for a registered workflow: fetch and unpack the bundle, find providers of its negotiated steps', tags: ['dsl-executor'], params: S.idParams, body: S.infraBody, response: { 200: S.infraAnswer } }
    }, async (request) => {
      const { workflow_id: id } = request.params as { workflow_id: string }
      return await reg.runs.createInfra(id, { version: (request.body as { version?: string } | undefined)?.version })
    })

    app.delete('/dsl-executor/:workflow_id/remove-infra', {
      config: { scope: 'submit' },
      schema: { summary: 'Release what create-infra prepared', tags: ['dsl-executor'], params: S.idParams, response: { 200: S.removeInfraAnswer } }
    }, async (request) => await reg.runs.removeInfra((request.params as { workflow_id: string }).workflow_id))
  }
}
