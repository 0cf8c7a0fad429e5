/** JSON Schemas of the registry routes: request validation and the OpenAPI document. */
import { MAX_QUERY_LIMIT } from './constants.js'

const workflowId = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$', description: 'letters, digits, . _ - (1-128), starting with a letter or digit' } as const
const version = { type: 'string', minLength: 5, maxLength: 128, description: 'semver MAJOR.MINOR.PATCH[-pre][+build]' } as const
const cid = { type: 'string', pattern: '^b[a-z2-7]{20,200}$' } as const

export const idParams = { type: 'object', additionalProperties: false, required: ['workflow_id'], properties: { workflow_id: workflowId } } as const

export const listQuery = { type: 'object', additionalProperties: false, properties: { include_deleted: { type: 'boolean', default: false } } } as const
export const getQuery = { type: 'object', additionalProperties: false, properties: { version, refresh: { type: 'boolean', description: 'ask the mesh again even when the cache is fresh' } } } as const
export const deleteQuery = { type: 'object', additionalProperties: false, properties: { purge: { type: ['boolean', 'integer'], enum: [true, false, 0, 1], description: '1: forget every record (admin scope)' } } } as const

export interface RegisterBody { workflow_id?: string, version?: string, releaseTag?: string, plan?: string, bundle?: string }
export const registerBody = {
  type: 'object',
  additionalProperties: false,
  description: 'exactly one of plan (DSL YAML text) or bundle (ZIP bytes, base64); workflow_id / version / releaseTag default to the bundle\'s workflow.json (version 1.0.0 on POST)',
  properties: {
    workflow_id: workflowId,
    version,
    releaseTag: { type: 'string', maxLength: 128 },
    plan: { type: 'string', minLength: 1 },
    bundle: { type: 'string', minLength: 4, description: 'base64 (standard alphabet, padded)' }
  },
  oneOf: [{ required: ['plan'] }, { required: ['bundle'] }]
} as const

const meta = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    description: { type: 'string' },
    tags: { type: 'array', items: { type: 'string' } },
    modules: { type: 'array', items: { type: 'string' } }
  }
} as const

const recordProps = {
  workflow_id: { type: 'string' },
  version: { type: 'string' },
  releaseTag: { type: 'string' },
  kind: { enum: ['bundle', 'plan'] },
  bundle: { ...cid, description: 'CID (raw) of the bundle ZIP or plan text' },
  size: { type: 'integer' },
  publisher: { type: 'string' },
  publisherKind: { enum: ['api-key', 'agent'] },
  ts: { type: 'integer' },
  tombstone: { type: 'boolean' },
  meta,
  record: { ...cid, description: 'CID of the signed record envelope' },
  node: { type: 'string', description: 'PeerId of the node that signed the record' },
  envelope: { type: 'object', additionalProperties: true, description: 'the signed WorkflowRecord.v1 Envelope.v1 (dag-json form)' }
} as const

export const record = { type: 'object', properties: recordProps } as const
export const recordWithState = { type: 'object', properties: { ...recordProps, deleted: { type: 'boolean' } } } as const

export const listAnswer = { type: 'object', properties: { workflows: { type: 'array', items: recordWithState } } } as const

export const versionsAnswer = {
  type: 'object',
  properties: {
    workflow_id: { type: 'string' },
    deleted: { type: 'boolean' },
    versions: { type: 'array', items: record },
    tombstones: { type: 'array', items: record }
  }
} as const

export const deleteAnswer = { type: 'object', properties: { workflow_id: { type: 'string' }, purged: { type: 'boolean' }, tombstone: record } } as const

export const queryBody = {
  type: 'object',
  additionalProperties: false,
  description: 'see docs/REGISTRY.md for the filter language',
  properties: {
    filter: { type: 'object' },
    sort: { type: 'object', additionalProperties: { enum: [1, -1, 'asc', 'desc'] } },
    limit: { type: 'integer', minimum: 1, maximum: MAX_QUERY_LIMIT },
    cursor: { type: 'string', maxLength: 256 }
  }
} as const

export const queryAnswer = {
  type: 'object',
  properties: {
    results: { type: 'array', items: recordWithState },
    total: { type: 'integer' },
    next: { type: 'string' }
  }
} as const

export interface ExecuteBody {
  input?: Record<string, unknown>
  addons?: { webhook?: string[], llm?: string[], callback?: string[] }
  version?: string
  wait?: boolean
}
const names = { type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 128 } } as const
export const executeBody = {
  type: 'object',
  'x-optional-body': true,
  additionalProperties: false,
  properties: {
    input: { type: 'object', description: 'the run\'s input document' },
    addons: { type: 'object', additionalProperties: false, description: 'addons the run needs, by kind; each must be configured on this node', properties: { webhook: names, llm: names, callback: names } },
    version: { ...version, description: 'default: the latest version' },
    wait: { type: 'boolean', description: 'answer once the run ends, with its state and output' }
  }
} as const

export const executeAnswer = {
  type: 'object',
  properties: {
    runId: { type: 'string' },
    state: { type: 'string' },
    output: {},
    workflow_id: { type: 'string' },
    version: { type: 'string' }
  }
} as const

export const infraBody = { type: 'object', 'x-optional-body': true, additionalProperties: false, properties: { version } } as const

export const infraAnswer = {
  type: 'object',
  properties: {
    workflow_id: { type: 'string' },
    version: { type: 'string' },
    record: { type: 'string' },
    kind: { type: 'string' },
    path: { type: 'string' },
    unpacked: { type: 'string' },
    modules: { type: 'object', additionalProperties: { type: 'string' } },
    pools: {
      type: 'object',
      properties: {
        started: { type: 'boolean' },
        reason: { type: 'string' },
        modules: { type: 'array', items: { type: 'object', properties: { module: { type: 'string' }, started: { type: 'boolean' }, reason: { type: 'string' } } } }
      }
    },
    negotiated: {
      type: 'array',
      items: { type: 'object', properties: { step: { type: 'string' }, capability: { type: 'string' }, version: { type: 'string' }, providers: { type: 'integer' }, error: { type: 'string' } } }
    },
    ready: { type: 'boolean' }
  }
} as const

export const removeInfraAnswer = { type: 'object', properties: { workflow_id: { type: 'string' }, released: { type: 'boolean' } } } as const
