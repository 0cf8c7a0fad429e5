/**
 * Policies at selection time. A plan names policies by reference
 * (`dag.policies`): a Policy.v1 CID (optionally written `cid:<CID>`), or a
 * name the node's config maps to a CID or to an inline Policy.v1. A
 * reference that resolves to nothing fails the step with
 * PolicyUnresolvedError: it is never treated as a bare label. The resolved
 * documents add their rules: attestation requirements (met only by
 * attestations from trusted issuers, see src/trust/evaluate.ts), residency,
 * allowed / denied peers, a maximum price, a maximum eta.
 */
import { cidStringOf, parseCid } from '../core/encoding.js'
import type { BlockStore } from '../store/index.js'
import type { SchemaRegistry } from '../spec/index.js'
import { PolicyUnresolvedError } from '../trust/errors.js'
import { parseRequirement, type Requirement } from '../trust/index.js'
import type { Bid } from './types.js'
import type { PolicyV1 } from '../wire/index.js'

/** Policy.v1 (`network: 'none'`: providers run the steps in a network namespace with only loopback) */
export type PolicyDoc = PolicyV1

/** A resolved reference: the document and its CID. */
export interface ResolvedPolicy { cid: string, doc: PolicyDoc }

/** Resolves one reference or throws PolicyUnresolvedError. */
export type PolicyResolver = (ref: string, options?: { signal?: AbortSignal }) => Promise<ResolvedPolicy>

export interface EffectivePolicy {
  /** the references as the plan gave them */
  refs: string[]
  /** the content addresses of the resolved documents (sent in the CFP, listed in receipts) */
  cids: string[]
  /** resolved documents, by reference */
  docs: Record<string, PolicyDoc>
  /** every attestation requirement of the documents */
  requirements: Requirement[]
  /** allowed regions (intersection of the documents' residency lists) */
  residency?: string[]
  allow?: Set<string>
  deny: Set<string>
  maxPrice?: number
  maxEtaMs?: number
}

/**
 * Resolves through the configured names (name → inline Policy.v1, or name →
 * CID), then the trust service (local store, then the mesh) when given, else
 * the local block store only.
 */
export function policyResolver (blocks: BlockStore | undefined, registry: SchemaRegistry, named: Record<string, PolicyDoc | string> = {}, mesh?: PolicyResolver): PolicyResolver {
  return async (ref, options) => {
    let target = ref
    if (Object.hasOwn(named, ref)) {
      const n = named[ref]
      if (typeof n !== 'string') {
        if (!registry.isValid('Policy.v1', n)) throw new PolicyUnresolvedError(`configured policy ${ref} is not a Policy.v1`, { ref })
        return { cid: cidStringOf(n), doc: n }
      }
      target = n
    }
    if (mesh != null) return await mesh(target, options)
    let cid: string
    try {
      cid = parseCid(target.startsWith('cid:') ? target.slice(4) : target).toString()
    } catch {
      throw new PolicyUnresolvedError(`policy reference ${ref} is neither a CID nor a configured name`, { ref })
    }
    if (blocks == null || !await blocks.has(cid)) throw new PolicyUnresolvedError(`policy ${ref} (${cid}) is not stored here`, { ref, cid })
    const doc = await blocks.get(cid)
    if (!registry.isValid('Policy.v1', doc)) throw new PolicyUnresolvedError(`block ${cid} (policy ${ref}) is not a Policy.v1`, { ref, cid })
    return { cid, doc: doc as PolicyDoc }
  }
}

export async function resolvePolicies (refs: string[], resolve: PolicyResolver, constraints: Record<string, unknown> = {}, options: { signal?: AbortSignal } = {}): Promise<EffectivePolicy> {
  const docs: Record<string, PolicyDoc> = {}
  const cids: string[] = []
  const requirements: Requirement[] = []
  const deny = new Set<string>()
  let allow: Set<string> | undefined
  let residency: string[] | undefined
  let maxPrice = typeof constraints.max_price === 'number' ? constraints.max_price : undefined
  let maxEtaMs: number | undefined
  for (const ref of refs) {
    const { cid, doc } = await resolve(ref, options)
    docs[ref] = doc
    if (!cids.includes(cid)) cids.push(cid)
    for (const a of doc.require_attestations ?? []) requirements.push(parseRequirement(a, ref, doc.self_attest === true))
    if (doc.residency != null) residency = residency == null ? [...doc.residency] : residency.filter(r => doc.residency?.includes(r))
    for (const p of doc.deny_peers ?? []) deny.add(p)
    if (doc.allow_peers != null) allow = allow == null ? new Set(doc.allow_peers) : new Set(doc.allow_peers.filter(p => allow?.has(p)))
    if (doc.max_price != null) maxPrice = Math.min(maxPrice ?? Infinity, doc.max_price)
    if (doc.max_deadline_ms != null) maxEtaMs = Math.min(maxEtaMs ?? Infinity, doc.max_deadline_ms)
  }
  return { refs: [...refs], cids, docs, requirements, residency, allow, deny, maxPrice, maxEtaMs }
}

/** Why a peer may not be asked at all, or undefined. */
export function peerExclusion (policy: EffectivePolicy, peer: string): string | undefined {
  if (policy.deny.has(peer)) return 'denied by policy (deny_peers)'
  if (policy.allow != null && !policy.allow.has(peer)) return 'not in the policy allow list (allow_peers)'
  return undefined
}

/** Why a bid fails the policy's peer, price and eta rules, or undefined (attestations: the round's judge). */
export function bidViolation (policy: EffectivePolicy, bid: Bid, peer: string): string | undefined {
  const excluded = peerExclusion(policy, peer)
  if (excluded != null) return excluded
  if (policy.maxPrice != null && bid.price > policy.maxPrice) return `price ${bid.price} over the maximum ${policy.maxPrice}`
  if (policy.maxEtaMs != null && bid.eta_ms > policy.maxEtaMs) return `eta ${bid.eta_ms} ms over the maximum ${policy.maxEtaMs} ms`
  return undefined
}
