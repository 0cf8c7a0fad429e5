/**
 * `/pl/workflows/1.0.0`: "which records of workflow X do you publish?" The
 * answer lists the CIDs of the signed WorkflowRecord.v1 envelopes (versions
 * and tombstones) this node registered; the asker fetches them and the
 * bundles with `/pl/fetch/1.0.0` and verifies both. A lookup asks this of the
 * providers a DHT walk finds under the CID of `pl:wf:<workflow_id>`.
 */
import { cidOfBytes, RAW } from '../core/encoding.js'
import type { CID } from 'multiformats/cid'
import { defineProtocol, type ProtocolDef, type RpcResponse } from '../net/index.js'
import { MAX_RECORDS_PER_ANSWER, WORKFLOWS_PROTOCOL, WORKFLOW_ID, WORKFLOW_KEY_PREFIX } from './constants.js'
import { InvalidWorkflowsAnswerError } from './errors.js'

export interface WorkflowsRequest { workflow_id: string }
export interface WorkflowsAnswer { records: string[] }

const CID_TEXT = /^b[a-z2-7]{20,200}$/

/** DHT key of a workflow id: CIDv1(raw, sha2-256) of the UTF-8 bytes of `pl:wf:<workflow_id>`. */
export function workflowKey (id: string): CID {
  return cidOfBytes(new TextEncoder().encode(WORKFLOW_KEY_PREFIX + id), RAW)
}

export function workflowsProtocol (handler?: (req: WorkflowsRequest, peer: string) => Promise<RpcResponse<WorkflowsAnswer>>): ProtocolDef<WorkflowsRequest, WorkflowsAnswer> {
  return defineProtocol<WorkflowsRequest, WorkflowsAnswer>({
    id: WORKFLOWS_PROTOCOL,
    maxRequestBytes: 1024,
    maxResponseBytes: 128 * 1024,
    timeouts: { dialMs: 5_000, firstByteMs: 5_000, totalMs: 10_000 },
    handler: handler == null
      ? undefined
      : async (req, ctx) => {
        if (req == null || typeof req !== 'object' || typeof req.workflow_id !== 'string' || !WORKFLOW_ID.test(req.workflow_id)) {
          throw new InvalidWorkflowsAnswerError('a /pl/workflows request is {workflow_id: string}')
        }
        return await handler(req, ctx.peer)
      }
  })
}

/** Checks the shape of an answer from a peer. */
export function checkWorkflowsAnswer (body: unknown, peer: string): WorkflowsAnswer {
  const records = (body as WorkflowsAnswer | undefined)?.records
  if (!Array.isArray(records) || records.length > MAX_RECORDS_PER_ANSWER || !records.every(c => typeof c === 'string' && CID_TEXT.test(c))) {
    throw new InvalidWorkflowsAnswerError(`peer ${peer} answered ${WORKFLOWS_PROTOCOL} without a list of at most ${MAX_RECORDS_PER_ANSWER} record CIDs`, { peer })
  }
  return { records }
}
