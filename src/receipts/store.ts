/**
 * Receipts in LevelDB: `receipts/<receipt CID>` → SignedReceipt, and an index
 * `receipts-run/<run>\0<step key>` → receipt CID (the accepted receipt of that
 * step; a later accepted receipt for the same step replaces the index entry,
 * the older one stays readable by CID). Both writes go in one batch, shared
 * with concurrent puts (the store's group commit).
 *
 * @example
 * const receipts = new ReceiptStore(store)
 * const cid = await receipts.put(accepted)
 * const all = await receipts.forRun(runId)
 */
import type { Store, JsonSublevel } from '../store/index.js'
import { receiptCid, type SignedReceipt } from './signing.js'
import { ReceiptNotFoundError } from './errors.js'
import { receiptRoot, type ReceiptRoot } from './chain.js'
import { systemClock, type Clock } from '../core/clock.js'

const SEP = '\x00'

export class ReceiptStore {
  private readonly byCid: JsonSublevel<SignedReceipt>
  private readonly byRun: JsonSublevel<string>
  /** `receipts-rejected/<run>\0<step key>\0<receipt CID>` → a provider-signed receipt the requester refused, and why */
  private readonly rejected: JsonSublevel<{ signed: SignedReceipt, reason: { name: string, message: string }, at: number }>

  /** @param clock stamps refused receipts @default systemClock */
  constructor (private readonly store: Store, private readonly clock: Clock = systemClock) {
    this.byCid = store.json<SignedReceipt>('receipts')
    this.byRun = store.json<string>('receipts-run')
    this.rejected = store.json('receipts-rejected')
  }

  /** Stores a signed receipt and indexes it under its run and step; returns its receipt CID. */
  async put (signed: SignedReceipt): Promise<string> {
    const cid = receiptCid(signed.receipt)
    const { run, step } = signed.receipt
    // group commit: concurrent puts (parallel steps of a run, several runs) share one batch; resolves once written
    await this.store.write([
      { type: 'put', key: cid, value: signed, sublevel: this.byCid },
      { type: 'put', key: run + SEP + step, value: cid, sublevel: this.byRun }
    ])
    return cid
  }

  /**
   * Stores the receipts of a composite step's inner run (verified with the
   * outer receipt) by CID only: they are another run's, requested by the
   * composite's provider, and are read through the outer receipt's `inner`.
   */
  async putInner (receipts: SignedReceipt[]): Promise<void> {
    if (receipts.length === 0) return
    await this.store.db.batch(receipts.map(r => ({ type: 'put', key: receiptCid(r.receipt), value: r, sublevel: this.byCid as any })) as any)
  }

  /**
   * `receipts` followed by the inner receipts their `inner` names,
   * transitively (a composite nested in a composite), each once: what an
   * export of the outer run carries so the whole tree verifies offline.
   * An inner receipt missing here is left out (the export's verify names it).
   */
  async withInner (receipts: SignedReceipt[]): Promise<SignedReceipt[]> {
    const out = [...receipts]
    const seen = new Set(receipts.map(r => receiptCid(r.receipt)))
    for (let i = 0; i < out.length; i++) {
      for (const cid of out[i].receipt.inner?.receipts ?? []) {
        if (seen.has(cid)) continue
        seen.add(cid)
        const r = await this.get(cid)
        if (r != null) out.push(r)
      }
    }
    return out
  }

  /** Keeps a provider-signed receipt the requester refused to countersign (a constraint or schema violation), with why. */
  async putRejected (signed: SignedReceipt, reason: { name: string, message: string }): Promise<string> {
    const cid = receiptCid(signed.receipt)
    await this.rejected.put(`${signed.receipt.run}\x00${signed.receipt.step}\x00${cid}`, { signed, reason, at: this.clock.now() })
    return cid
  }

  /** The receipts refused for a run, oldest step key first. */
  async rejectedFor (run: string): Promise<Array<{ signed: SignedReceipt, reason: { name: string, message: string }, at: number }>> {
    const out: Array<{ signed: SignedReceipt, reason: { name: string, message: string }, at: number }> = []
    for await (const v of this.rejected.values({ gte: `${run}\x00`, lt: `${run}\x01` })) out.push(v as { signed: SignedReceipt, reason: { name: string, message: string }, at: number })
    return out
  }

  async get (cid: string): Promise<SignedReceipt | undefined> {
    return (await this.byCid.get(cid) as SignedReceipt | undefined) ?? undefined
  }

  /** The accepted receipt of one step of a run, if any. */
  async forStep (run: string, step: string): Promise<{ cid: string, signed: SignedReceipt } | undefined> {
    const cid = await this.byRun.get(run + SEP + step) as string | undefined
    if (cid == null) return undefined
    const signed = await this.get(cid)
    return signed == null ? undefined : { cid, signed }
  }

  /** Step keys of a run that have a receipt, with their receipt CIDs, in key order. */
  async stepsOf (run: string): Promise<Array<{ step: string, cid: string }>> {
    const out: Array<{ step: string, cid: string }> = []
    for await (const [key, cid] of this.byRun.iterator({ gte: run + SEP, lt: run + '\x01' })) {
      out.push({ step: key.slice(run.length + 1), cid: cid as string })
    }
    return out
  }

  /** Every accepted receipt of a run, in step key order (empty when the run has none). */
  async forRun (run: string): Promise<SignedReceipt[]> {
    const out: SignedReceipt[] = []
    for (const { cid } of await this.stepsOf(run)) {
      const signed = await this.get(cid)
      if (signed != null) out.push(signed)
    }
    return out
  }

  /** The run's receipt root (see chain.ts); throws ReceiptNotFoundError when the run has no receipts. */
  async root (run: string): Promise<ReceiptRoot & { cid: string }> {
    const receipts = await this.forRun(run)
    if (receipts.length === 0) throw new ReceiptNotFoundError(`no receipts for run ${run} in this data dir`, { run })
    return receiptRoot(receipts)
  }
}
