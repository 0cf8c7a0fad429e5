/** JSON Schemas of the gateway's routes (Fastify route schemas; OpenAPI 3.1 is generated from them). */

export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['name', 'message'],
      properties: {
        name: { type: 'string' },
        message: { type: 'string' },
        details: { type: 'object', additionalProperties: true }
      }
    }
  }
} as const

/** Any JSON object (documents whose shape belongs to another area: run views, explanations). */
export const anyObject = { type: 'object', additionalProperties: true } as const

export const runIdParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 128 } }
} as const

export const cidString = { type: 'string', pattern: '^b[a-z2-7]{20,}$', maxLength: 200, description: 'CIDv1, base32' } as const

export const inputDoc = { type: 'object', additionalProperties: true, description: 'the run input document (values may be `cid:<CID>` references to stored blocks)' } as const

/** The graph of estimate/deploy: DSL text, or a workflow.json document with a stored bundle, or a stored bundle alone. */
export const graphBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    dsl: { type: 'string', minLength: 1, description: 'a DSL plan (YAML text)' },
    workflow: { type: 'object', additionalProperties: true, description: 'a workflow.json document (Workflow.v1); its modules come from `bundle`' },
    bundle: { ...cidString, description: 'CID of a workflow bundle (.zip bytes) stored with POST /blocks' },
    input: inputDoc,
    version: { type: 'string', maxLength: 64, description: 'registered workflows: the version to resolve' },
    wait: { type: 'boolean', description: 'deploy: answer once the run has ended or waits for a decision' }
  }
} as const

/** A Capability.v1 descriptor: the protocol schema itself (a shared schema of the server, src/gateway/server.ts). */
export const capabilityRef = { $ref: 'pl:Capability.v1#' } as const

/**
 * Route option of answers that carry protocol documents with open parts (a
 * descriptor's inline io JSON Schemas are `{type: 'object'}`): Fastify's
 * fast-json-stringify writes only the properties a schema declares and would
 * empty them, so these answers are written with JSON.stringify and the
 * response schema states the contract (OpenAPI).
 */
export const plainJsonAnswer = { serializerCompiler: () => (data: unknown): string => JSON.stringify(data) }

/** Every 4xx/5xx answer has the same shape. */
export function withErrors<T extends Record<string | number, unknown>> (responses: T): T & Record<string, unknown> {
  return { ...responses, '4xx': errorSchema, '5xx': errorSchema }
}

/** Query strings are text: numbers are checked by pattern (JSON bodies are never coerced). */
export const sinceParam = { type: 'string', pattern: '^[0-9]{1,15}$', description: 'first event sequence number to send (a non-negative integer)' } as const
