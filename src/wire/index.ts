/**
 * The wire types: the TypeScript types of the protocol documents
 * (protocols/schemas/*.json). They are generated (./types.gen.ts, by
 * ./generate.ts with the spec compiler's TS emitter) and never written by
 * hand; this file gives them the names the code uses and derives the few
 * narrower or richer types areas need (docs/ARCHITECTURE.md "Wire types").
 *
 * @example
 * import { LIMIT_KEYS, type CapabilityDescriptor, type Limits } from '../wire/index.js'
 * for (const k of LIMIT_KEYS) if (limits[k] != null) ... // 'cpu_ms', 'mem_mb', 'wall_ms'
 */
import type { AwardV1Limits, BidV1Limits, CallForProposalV1Limits, CapabilityV1, CapabilityV1Io, CapabilityV1Limits, DeclineV1, ReceiptV1Limits, ReceiptV1Usage, ResultV1Usage } from './types.gen.js'

export type * from './types.gen.js'

/** Capability.v1: a capability descriptor. Its CID is its identity. */
export type CapabilityDescriptor = CapabilityV1

/** An io schema of a descriptor: a schema CID (string) or an inline JSON Schema. */
export type IoSchema = CapabilityV1Io['input']

/**
 * Resource limits, as every document that carries them declares them
 * (Capability.v1, CallForProposal.v1, Bid.v1, Award.v1, Receipt.v1): the
 * schemas spell the same object in each, and `_limitsAgree` below fails to
 * compile the day one of them differs.
 */
export type Limits = CapabilityV1Limits

/** Resources a step used (Receipt.v1 and Result.v1 `usage`, identical by schema). */
export type Usage = ReceiptV1Usage

/** Why a provider declines a call (Decline.v1 `reason`). */
export type DeclineReason = DeclineV1['reason']

/** `true` when A and B are mutually assignable. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const _limitsAgree: Same<Limits, AwardV1Limits> & Same<Limits, BidV1Limits> & Same<Limits, CallForProposalV1Limits> & Same<Limits, ReceiptV1Limits> & Same<Usage, ResultV1Usage> = true

/** Every key of Limits, exactly (the compiler refuses a missing or an extra key). */
const LIMIT_KEY_SET: { [K in keyof Required<Limits>]: true } = { cpu_ms: true, mem_mb: true, wall_ms: true }

/** The keys of Limits, for code that walks them. */
export const LIMIT_KEYS = Object.freeze(Object.keys(LIMIT_KEY_SET)) as ReadonlyArray<keyof Limits>
