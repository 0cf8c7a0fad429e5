/**
 * A run's receipts form a DAG: each receipt's `prev` lists the receipt CIDs
 * of the steps whose outputs it consumed. The run is identified by the CID
 * of a small root document listing the sinks (receipts no other receipt of
 * the run names in `prev`):
 *
 *   { v: 1, kind: "pl/receipt-root", run: <run id>, sinks: [<receipt CID>, ...] }   (sinks sorted)
 *
 * Following `prev` from the sinks reaches every receipt of the run, so the
 * root CID pins all of them. `verifyChain` checks a set offline: every
 * signature (provider and requester), every `prev` link resolves inside the
 * set, one run, one requester, and no step has two accepted receipts.
 *
 * @example
 * const { root } = verifyChain(receipts)        // throws on the first problem
 * const doc = exportReceipts(receipts)          // { v: 1, run, root, receipts }
 * verifyExport(decodeJson(bytes))               // the offline check of `pl receipts verify <file>`
 */
import { cidStringOf } from '../core/encoding.js'
import { receiptCid, verifySignedReceipt, type ReceiptOptions, type SignedReceipt } from './signing.js'
import { DuplicateStepReceiptError, ReceiptChainRequesterError, ReceiptChainRunError, ReceiptExportError, ReceiptPrevMissingError } from './errors.js'

export const ROOT_KIND = 'pl/receipt-root'

export interface ReceiptRoot {
  v: 1
  kind: typeof ROOT_KIND
  run: string
  /** receipt CIDs that no other receipt of the run names in `prev`, sorted */
  sinks: string[]
}

/** The file `pl receipts export` writes (dag-json). */
export interface ReceiptExport {
  v: 1
  run: string
  /** CID of the ReceiptRoot */
  root: string
  receipts: SignedReceipt[]
}

export interface ChainVerification {
  run: string
  root: string
  sinks: string[]
  receipts: number
}

export interface VerifyChainOptions extends ReceiptOptions {
  /** every receipt must carry the requester's countersignature @default true */
  requireRequester?: boolean
  /** the PeerId every receipt must name as requester; by default the first receipt's requester */
  requester?: string
}

/** The root document of a set of receipts of one run, and its CID. */
export function receiptRoot (receipts: SignedReceipt[]): ReceiptRoot & { cid: string } {
  if (receipts.length === 0) throw new ReceiptChainRunError('a receipt chain needs at least one receipt')
  const run = receipts[0].receipt.run
  const cids = receipts.map(r => receiptCid(r.receipt))
  const referenced = new Set(receipts.flatMap(r => r.receipt.prev))
  const sinks = [...new Set(cids.filter(c => !referenced.has(c)))].sort()
  const root: ReceiptRoot = { v: 1, kind: ROOT_KIND, run, sinks }
  return { ...root, cid: cidStringOf(root) }
}

/** Verifies a run's receipts offline; throws the first problem found. */
export function verifyChain (receipts: unknown[], options: VerifyChainOptions = {}): ChainVerification {
  if (!Array.isArray(receipts) || receipts.length === 0) throw new ReceiptChainRunError('a receipt chain needs at least one receipt')
  const requireRequester = options.requireRequester ?? true
  const byCid = new Map<string, SignedReceipt>()
  const bySteps = new Map<string, string>()
  let run: string | undefined
  // a run has one requester: receipts countersigned by another peer under the same run id are not part of it
  let requester = options.requester
  for (const signed of receipts) {
    verifySignedReceipt(signed, { registry: options.registry, requireRequester })
    const r = signed.receipt
    run ??= r.run
    if (r.run !== run) throw new ReceiptChainRunError(`the chain mixes runs ${run} and ${r.run}`, { runs: [run, r.run] })
    requester ??= r.requester
    if (r.requester !== requester) {
      throw new ReceiptChainRequesterError(`receipt of step ${r.step} names requester ${r.requester}, the chain's requester is ${requester}`, { expected: requester, actual: r.requester, step: r.step })
    }
    const cid = receiptCid(r)
    if (byCid.has(cid)) continue
    const other = bySteps.get(r.step)
    if (other != null) {
      throw new DuplicateStepReceiptError(`step ${r.step} of run ${r.run} has two accepted receipts: ${other} and ${cid}`, { step: r.step, receipts: [other, cid] })
    }
    bySteps.set(r.step, cid)
    byCid.set(cid, signed)
  }
  for (const [cid, signed] of byCid) {
    for (const p of signed.receipt.prev) {
      if (!byCid.has(p)) throw new ReceiptPrevMissingError(`receipt ${cid} (step ${signed.receipt.step}) names prev ${p}, which is not in the set`, { receipt: cid, prev: p })
    }
  }
  const root = receiptRoot([...byCid.values()])
  return { run: run as string, root: root.cid, sinks: root.sinks, receipts: byCid.size }
}

/** The export document of a run's receipts (write it with encodeJson). */
export function exportReceipts (receipts: SignedReceipt[]): ReceiptExport {
  const root = receiptRoot(receipts)
  return { v: 1, run: root.run, root: root.cid, receipts }
}

/** Checks an export document offline: its shape, the chain, and that `root` is the chain's root. */
export function verifyExport (doc: unknown, options: VerifyChainOptions = {}): ChainVerification {
  if (doc == null || typeof doc !== 'object' || Array.isArray(doc)) throw new ReceiptExportError('a receipts export is a JSON object {v, run, root, receipts}')
  const d = doc as Partial<ReceiptExport>
  if (d.v !== 1) throw new ReceiptExportError(`unsupported receipts export version ${JSON.stringify(d.v)} (this pl reads v 1)`)
  if (typeof d.run !== 'string' || typeof d.root !== 'string' || !Array.isArray(d.receipts)) {
    throw new ReceiptExportError('a receipts export needs string `run`, string `root` and an array `receipts`')
  }
  const result = verifyChain(d.receipts, options)
  if (result.run !== d.run) throw new ReceiptExportError(`the export says run ${d.run} but its receipts are of run ${result.run}`, { run: d.run, actual: result.run })
  if (result.root !== d.root) throw new ReceiptExportError(`the export names root ${d.root} but its receipts have root ${result.root}`, { root: d.root, actual: result.root })
  return result
}
