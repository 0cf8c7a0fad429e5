/**
 * WorkflowRecord.v1: what a registry record says, how a bundle or plan
 * becomes one (checked by the same loader `pl run` uses, so an unsafe ZIP or
 * a broken workflow is refused before it is stored), and how a record
 * received from a peer is verified.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cidOfBytes, RAW } from '../core/encoding.js'
import type { Envelope, EnvelopeVerifier } from '../core/index.js'
import { loadWorkflow, compileDsl } from '../workflow/index.js'
import * as workflowErrors from '../workflow/errors.js'
import { WORKFLOW_FILE } from '../workflow/constants.js'
import type { Principal } from '../gateway/types.js'
import { RECORD_TYPE, WORKFLOW_ID } from './constants.js'
import { parseSemver } from './semver.js'
import type { WorkflowRecordV1, WorkflowRecordV1Meta } from '../wire/index.js'
import { InvalidWorkflowBundleError, InvalidWorkflowIdError, InvalidWorkflowRecordError, WorkflowBundleTooLargeError } from './errors.js'

/** WorkflowRecord.v1 `meta` */
export type WorkflowMeta = WorkflowRecordV1Meta

/** The body of a WorkflowRecord.v1 envelope. */
export type WorkflowRecord = WorkflowRecordV1

export type SignedRecord = Envelope<WorkflowRecord>

/** A bundle or plan checked by the loader, ready to be stored. */
export interface IngestedWorkflow {
  kind: 'bundle' | 'plan'
  bytes: Uint8Array
  cid: string
  meta: WorkflowMeta
  /** what workflow.json says (bundles only) */
  workflowId?: string
  version?: string
  releaseTag?: string
}

export interface IngestLimits {
  maxBundleBytes: number
  maxUnpackedBytes: number
}

/** Names of the errors a loader raises for a bad bundle or plan (the caller's mistake, not ours). */
const LOADER_ERRORS = new Set([...Object.keys(workflowErrors), 'ModuleFolderError', 'InvalidEncodingError', 'CidMismatchError'])

function loaderError (err: unknown, what: string): unknown {
  const name = (err as Error)?.name
  if (typeof name === 'string' && LOADER_ERRORS.has(name)) {
    return new InvalidWorkflowBundleError(`${what} does not load: ${(err as Error).message}`, { cause: name })
  }
  return err
}

export function checkWorkflowId (id: unknown): string {
  if (typeof id !== 'string' || !WORKFLOW_ID.test(id)) {
    throw new InvalidWorkflowIdError(`workflow id ${JSON.stringify(id)?.slice(0, 200)} must be 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit`, { workflow_id: typeof id === 'string' ? id.slice(0, 200) : undefined })
  }
  return id
}

const str = (v: unknown, max: number): string | undefined => typeof v === 'string' && v !== '' ? v.slice(0, max) : undefined

/** Checks a ZIP bundle with the executor's own loader (zip safety, manifest, workflow.json, DAG) and reads its metadata. */
export async function ingestBundle (bytes: Uint8Array, limits: IngestLimits): Promise<IngestedWorkflow> {
  if (bytes.byteLength > limits.maxBundleBytes) throw new WorkflowBundleTooLargeError(`bundle is ${bytes.byteLength} bytes, the limit is ${limits.maxBundleBytes}`, { size: bytes.byteLength, max: limits.maxBundleBytes })
  const tmp = await mkdtemp(join(tmpdir(), 'pl-registry-'))
  try {
    const file = join(tmp, 'bundle.zip')
    await writeFile(file, bytes)
    let wf
    try {
      wf = await loadWorkflow(file, { maxUnpackedBytes: limits.maxUnpackedBytes, maxEntryBytes: limits.maxUnpackedBytes })
    } catch (err) {
      throw loaderError(err, 'the bundle')
    }
    try {
      const doc = JSON.parse(await readFile(join(wf.bundle?.root ?? '', WORKFLOW_FILE), 'utf8')) as Record<string, any>
      const version = doc.version != null && typeof doc.version === 'object' ? doc.version : {}
      return {
        kind: 'bundle',
        bytes,
        cid: cidOfBytes(bytes, RAW).toString(),
        workflowId: str(doc.workflow_id, 200),
        version: str(version.version, 128),
        releaseTag: str(version.releaseTag, 128),
        meta: {
          ...(str(doc.name, 512) != null ? { name: str(doc.name, 512) } : {}),
          ...(str(doc.description, 4096) != null ? { description: str(doc.description, 4096) } : {}),
          tags: Array.isArray(doc.tags) ? doc.tags.filter((t: unknown) => typeof t === 'string').slice(0, 64).map((t: string) => t.slice(0, 128)) : [],
          modules: Object.keys(doc.modules ?? {}).sort().slice(0, 1000).map(k => k.slice(0, 256))
        }
      }
    } finally {
      await wf.cleanup()
    }
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}

/** Checks a DSL plan with the compiler and reads its metadata (goal as name, capability names as modules). */
export function ingestPlan (text: string, limits: IngestLimits): IngestedWorkflow {
  const bytes = new TextEncoder().encode(text)
  if (bytes.byteLength > limits.maxBundleBytes) throw new WorkflowBundleTooLargeError(`plan is ${bytes.byteLength} bytes, the limit is ${limits.maxBundleBytes}`, { size: bytes.byteLength, max: limits.maxBundleBytes })
  let dag
  try {
    dag = compileDsl(text, { file: 'plan.yaml' })
  } catch (err) {
    throw loaderError(err, 'the plan')
  }
  const caps = [...new Set(Object.values(dag.steps).map(s => s.capability?.name).filter((n): n is string => n != null))].sort()
  return {
    kind: 'plan',
    bytes,
    cid: cidOfBytes(bytes, RAW).toString(),
    meta: { ...(dag.name !== '' ? { name: dag.name.slice(0, 512) } : {}), tags: [], modules: caps.slice(0, 1000).map(c => c.slice(0, 256)) }
  }
}

export function publisherOf (principal: Principal | undefined): { publisher: string, publisherKind: 'api-key' | 'agent' } {
  if (principal == null) throw new TypeError('the gateway sets request.principal before registry handlers run')
  return principal.kind === 'agent'
    ? { publisher: principal.agent ?? principal.name, publisherKind: 'agent' }
    : { publisher: principal.name, publisherKind: 'api-key' }
}

/**
 * Verifies a record envelope received from `peer` for `workflowId`: schema,
 * body, signature (by the serving node: only the registering node serves its
 * records), and the workflow id. A record is a permanent statement: its
 * envelope `exp` is not checked (verified as of its own `ts`), and it does not
 * go through the replay store (it is legitimately read again).
 */
export function verifyRecord (verifier: EnvelopeVerifier, value: unknown, peer: string, workflowId: string): SignedRecord {
  let env: SignedRecord
  try {
    const ts = (value as { ts?: unknown })?.ts
    env = verifier.verifyStateless<WorkflowRecord>(value, { expectedTypes: [RECORD_TYPE], expectedFrom: peer, now: typeof ts === 'number' ? ts : undefined }).envelope
  } catch (err) {
    throw new InvalidWorkflowRecordError(`record from ${peer} does not verify: ${(err as Error).message}`, { peer, cause: (err as Error).name })
  }
  if (env.body.workflow_id !== workflowId) throw new InvalidWorkflowRecordError(`peer ${peer} served a record of ${env.body.workflow_id} for ${workflowId}`, { peer })
  try {
    parseSemver(env.body.version)
  } catch {
    throw new InvalidWorkflowRecordError(`peer ${peer} served a record of ${workflowId} whose version is not semver`, { peer })
  }
  return env
}
