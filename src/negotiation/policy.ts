/**
 * Policies at selection time. A plan names policies by reference (`dag.policies`).
 * A reference that resolves to a Policy.v1 document (a CID in the local block
 * store, optionally written `cid:<CID>`, or a named policy configured on the
 * node) adds its rules: required attestations, allowed / denied peers, a
 * maximum price, a maximum eta. Every reference, resolved or not, must also be
 * honoured by the provider: its bid must list the reference in `attestations`,
 * and its receipt must list it in `policies`.
 */
import { parseCid } from '../core/encoding.js'
import type { BlockStore } from '../store/blocks.js'
import type { SchemaRegistry } from '../spec/registry.js'
import type { Bid } from './types.js'

/** Policy.v1 */
export interface PolicyDoc {
  name: string
  version?: string
  description?: string
  require_attestations?: string[]
  allow_peers?: string[]
  deny_peers?: string[]
  max_price?: number
  max_deadline_ms?: number
  residency?: string[]
  /** 'none': providers run the steps in a network namespace with only loopback */
  network?: 'none'
}

export type PolicyResolver = (ref: string) => Promise<PolicyDoc | undefined>

export interface EffectivePolicy {
  /** the references as the plan gave them (sent in the CFP, listed in receipts) */
  refs: string[]
  /** resolved documents, by reference */
  docs: Record<string, PolicyDoc>
  /** every attestation a bid must carry: the references and the documents' `require_attestations` */
  attestations: string[]
  allow?: Set<string>
  deny: Set<string>
  maxPrice?: number
  maxEtaMs?: number
}

/** Resolves references through configured named policies, then Policy.v1 blocks in the local store. */
export function policyResolver (blocks: BlockStore | undefined, registry: SchemaRegistry, named: Record<string, PolicyDoc> = {}): PolicyResolver {
  return async (ref) => {
    if (Object.hasOwn(named, ref)) return named[ref]
    if (blocks == null) return undefined
    const text = ref.startsWith('cid:') ? ref.slice(4) : ref
    let cid: string
    try {
      cid = parseCid(text).toString()
    } catch {
      return undefined
    }
    if (!await blocks.has(cid)) return undefined
    const doc = await blocks.get(cid)
    return registry.isValid('Policy.v1', doc) ? doc as PolicyDoc : undefined
  }
}

export async function resolvePolicies (refs: string[], resolve: PolicyResolver, constraints: Record<string, unknown> = {}): Promise<EffectivePolicy> {
  const docs: Record<string, PolicyDoc> = {}
  const attestations = new Set(refs)
  const deny = new Set<string>()
  let allow: Set<string> | undefined
  let maxPrice = typeof constraints.max_price === 'number' ? constraints.max_price : undefined
  let maxEtaMs: number | undefined
  for (const ref of refs) {
    const doc = await resolve(ref)
    if (doc == null) continue
    docs[ref] = doc
    for (const a of doc.require_attestations ?? []) attestations.add(a)
    for (const p of doc.deny_peers ?? []) deny.add(p)
    if (doc.allow_peers != null) allow = allow == null ? new Set(doc.allow_peers) : new Set(doc.allow_peers.filter(p => allow?.has(p)))
    if (doc.max_price != null) maxPrice = Math.min(maxPrice ?? Infinity, doc.max_price)
    if (doc.max_deadline_ms != null) maxEtaMs = Math.min(maxEtaMs ?? Infinity, doc.max_deadline_ms)
  }
  return { refs: [...refs], docs, attestations: [...attestations].sort(), allow, deny, maxPrice, maxEtaMs }
}

/** Why a peer may not be asked at all, or undefined. */
export function peerExclusion (policy: EffectivePolicy, peer: string): string | undefined {
  if (policy.deny.has(peer)) return 'denied by policy (deny_peers)'
  if (policy.allow != null && !policy.allow.has(peer)) return 'not in the policy allow list (allow_peers)'
  return undefined
}

/** Why a bid fails the policy, or undefined. */
export function bidViolation (policy: EffectivePolicy, bid: Bid, peer: string): string | undefined {
  const excluded = peerExclusion(policy, peer)
  if (excluded != null) return excluded
  const attested = new Set(bid.attestations ?? [])
  const missing = policy.attestations.filter(a => !attested.has(a))
  if (missing.length > 0) return `missing attestations ${missing.join(', ')}`
  if (policy.maxPrice != null && bid.price > policy.maxPrice) return `price ${bid.price} over the maximum ${policy.maxPrice}`
  if (policy.maxEtaMs != null && bid.eta_ms > policy.maxEtaMs) return `eta ${bid.eta_ms} ms over the maximum ${policy.maxEtaMs} ms`
  return undefined
}
