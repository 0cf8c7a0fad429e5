/**
 * `/pl/revocations/1.0.0`: "which revocations do you know of these
 * attestations?" Revocations travel on gossip (`pl/v1/revocations`); a node
 * that was offline when one was published asks its peers when they connect,
 * naming the attestations it holds and those it has seen in bids from
 * trusted issuers. The answer is checked entry by entry by the asker
 * (signature, and issuer = the attestation's issuer): a peer can withhold a
 * revocation, never forge one.
 *
 * @example
 * const def = revocationSyncProtocol(async (cids) => await known(cids))
 * await rpc.handle(def)
 * const { revocations } = checkSyncAnswer(expectOk(await rpc.request(peer, def, { attestations: [cid] }), def.id), peer)
 */
import { defineProtocol, type ProtocolDef } from '../net/index.js'
import { parseCid } from '../core/encoding.js'
import type { Revocation } from './attestation.js'
import { MAX_SYNC_ANSWER, MAX_SYNC_REQUEST, REVOCATION_SYNC_PROTOCOL } from './constants.js'
import { RevocationSyncAnswerError, RevocationSyncRequestError } from './errors.js'

export interface SyncRequest { attestations: string[] }
export interface SyncAnswer { revocations: unknown[] }

/** a CID string is at most this long (base32 CIDv1 of a sha2-256 digest is 59 characters) */
const MAX_CID_TEXT = 128

/** Throws RevocationSyncRequestError unless `req` is `{attestations: [CID...]}` of at most MAX_SYNC_REQUEST distinct CIDs. */
export function checkSyncRequest (req: unknown): SyncRequest {
  const list = (req as Partial<SyncRequest> | null)?.attestations
  if (req == null || typeof req !== 'object' || !Array.isArray(list)) throw new RevocationSyncRequestError('a /pl/revocations request is {attestations: [CID...]}')
  if (list.length > MAX_SYNC_REQUEST) throw new RevocationSyncRequestError(`a /pl/revocations request names at most ${MAX_SYNC_REQUEST} attestations, not ${list.length}`, { count: list.length, max: MAX_SYNC_REQUEST })
  for (const c of list) {
    if (typeof c !== 'string' || c.length > MAX_CID_TEXT) throw new RevocationSyncRequestError('a /pl/revocations request names attestations by CID strings')
    try {
      parseCid(c)
    } catch {
      throw new RevocationSyncRequestError(`${JSON.stringify(c).slice(0, 80)} is not a CID`)
    }
  }
  return { attestations: [...new Set(list)] }
}

/** Throws RevocationSyncAnswerError unless `body` is `{revocations: [...]}` of at most MAX_SYNC_ANSWER entries. Each entry is checked by the caller. */
export function checkSyncAnswer (body: unknown, peer: string): SyncAnswer {
  const list = (body as Partial<SyncAnswer> | null)?.revocations
  if (body == null || typeof body !== 'object' || !Array.isArray(list) || list.length > MAX_SYNC_ANSWER) {
    throw new RevocationSyncAnswerError(`peer ${peer} answered /pl/revocations without a list of at most ${MAX_SYNC_ANSWER} revocations`, { peer })
  }
  return { revocations: list }
}

/** The protocol; `known` returns the stored revocations of the named attestations (the handler bounds the answer). */
export function revocationSyncProtocol (known?: (attestations: string[]) => Promise<Revocation[]>): ProtocolDef<SyncRequest, SyncAnswer> {
  return defineProtocol<SyncRequest, SyncAnswer>({
    id: REVOCATION_SYNC_PROTOCOL,
    // MAX_SYNC_REQUEST CIDs of ~60 characters, in dag-cbor
    maxRequestBytes: 32 * 1024,
    // a Revocation.v1 is ~400 bytes with a reason of up to 200 characters
    maxResponseBytes: 512 * 1024,
    maxInboundStreams: 8,
    maxOutboundStreams: 8,
    timeouts: { dialMs: 5_000, firstByteMs: 5_000, totalMs: 10_000 },
    handler: known == null
      ? undefined
      : async (req) => {
        const { attestations } = checkSyncRequest(req)
        const revocations = (await known(attestations)).slice(0, MAX_SYNC_ANSWER)
        return { status: 'OK', body: { revocations } }
      }
  })
}
