/**
 * Attestations whose shape and issuer signature already checked, by content
 * CID (the CID covers every field and the signature: the same CID is the
 * same document). Bounded, least recently used dropped first. Judging a bid
 * re-runs everything else (subject, window, revocation, trust) every time;
 * only the signature and schema check is skipped. A revocation drops its
 * attestation from the cache.
 *
 * @example
 * const cache = new VerifiedAttestations(4096)
 * checkCredentials(bid.credentials, { ...ctx, verified: cache })
 */
export class VerifiedAttestations {
  private readonly cids = new Map<string, true>()

  constructor (private readonly max: number) {}

  has (cid: string): boolean {
    if (!this.cids.has(cid)) return false
    // most recently used last
    this.cids.delete(cid)
    this.cids.set(cid, true)
    return true
  }

  add (cid: string): void {
    this.cids.delete(cid)
    this.cids.set(cid, true)
    if (this.cids.size > this.max) this.cids.delete(this.cids.keys().next().value as string)
  }

  delete (cid: string): void {
    this.cids.delete(cid)
  }

  get size (): number {
    return this.cids.size
  }
}
