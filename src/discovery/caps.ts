/**
 * `/pl/caps/1.0.0`: "which capabilities named X do you publish?" The answer
 * lists descriptor CIDs with their TTL; the asker fetches the descriptors it
 * lacks with `/pl/fetch/1.0.0` (verified against their CIDs). A DHT find asks
 * this of every provider the walk turns up under the CID of `pl:cap:<name>`.
 */
import { defineProtocol, type ProtocolDef, type RpcResponse } from '../net/index.js'
import { CAPS_PROTOCOL, CID_TEXT, MAX_CAPS_PER_ANSWER } from './constants.js'
import { InvalidCapabilityQueryError, InvalidCapsAnswerError } from './errors.js'

export interface CapsRequest { name: string, version?: string }
export interface CapsAnswer { caps: Array<{ cid: string, ttl: number }> }

export function capsProtocol (handler?: (req: CapsRequest, peer: string) => Promise<RpcResponse<CapsAnswer>>): ProtocolDef<CapsRequest, CapsAnswer> {
  return defineProtocol<CapsRequest, CapsAnswer>({
    id: CAPS_PROTOCOL,
    maxRequestBytes: 1024,
    maxResponseBytes: 64 * 1024,
    timeouts: { dialMs: 5_000, firstByteMs: 5_000, totalMs: 10_000 },
    handler: handler == null
      ? undefined
      : async (req, ctx) => {
        if (req == null || typeof req !== 'object' || typeof req.name !== 'string' || (req.version != null && typeof req.version !== 'string')) {
          throw new InvalidCapabilityQueryError('a /pl/caps request is {name: string, version?: string}')
        }
        return await handler(req, ctx.peer)
      }
  })
}

/** Checks the shape of an answer from a peer. */
export function checkCapsAnswer (body: unknown, peer: string): CapsAnswer {
  const caps = (body as CapsAnswer | undefined)?.caps
  if (!Array.isArray(caps) || caps.length > MAX_CAPS_PER_ANSWER) throw new InvalidCapsAnswerError(`peer ${peer} answered /pl/caps without a list of at most ${MAX_CAPS_PER_ANSWER} caps`, { peer })
  for (const c of caps) {
    if (c == null || typeof c.cid !== 'string' || !CID_TEXT.test(c.cid) || typeof c.ttl !== 'number' || !(c.ttl >= 0)) {
      throw new InvalidCapsAnswerError(`peer ${peer} answered /pl/caps with a malformed entry`, { peer })
    }
  }
  return { caps }
}
