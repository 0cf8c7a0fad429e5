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
 * A composite step's receipt names its inner run's receipts in `inner`
 * (src/composite): those may be in the set too, each checked as a receipt of
 * that inner run requested by the composite's provider, and every one named
 * must be there; the root lists the run's own sinks (the outer receipt pins
 * the inner ones).
 *
 * @example
 * const { root } = verifyChain(receipts)        // throws on the first problem
 * const doc = exportReceipts(receipts)          // { v: 1, run, root, receipts }
 * verifyExport(decodeJson(bytes))               // the offline check of `pl receipts verify <file>`
 */
import { cidStringOf } from '../core/encoding.js'
import { receiptCid, verifySignedReceipt, type ReceiptOptions, type SignedReceipt } from './signing.js'
import {
  DuplicateStepReceiptError, ReceiptChainRequesterError, ReceiptChainRunError, ReceiptExportError, ReceiptInnerMismatchError, ReceiptInnerMissingError,
  ReceiptNotCountersignedError, ReceiptPrevMissingError
} from './errors.js'

/** Inner receipts a composite step's result may carry (nested composites included). */
export const MAX_INNER_RECEIPTS = 4096

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
  /** how many of them are receipts of composites' inner runs */
  inner: number
}

export interface VerifyChainOptions extends ReceiptOptions {
  /** every receipt must carry the requester's countersignature @default true */
  requireRequester?: boolean
  /** the PeerId every receipt must name as requester; by default the first receipt's requester */
  requester?: string
}

/**
 * The receipts a composite step's receipt claims as its inner run's:
 * receipt CID → the run they must be of and the requester they must name
 * (the composite's provider ran the inner plan), and the claiming receipt.
 */
function innerClaims (receipts: SignedReceipt[]): Map<string, { run: string, requester: string, by: string }> {
  const claims = new Map<string, { run: string, requester: string, by: string }>()
  for (const r of receipts) {
    const inner = r.receipt.inner
    if (inner == null) continue
    const by = receiptCid(r.receipt)
    for (const c of inner.receipts) {
      const other = claims.get(c)
      if (other != null && (other.run !== inner.run || other.requester !== r.receipt.provider)) {
        throw new ReceiptInnerMismatchError(`receipt ${c} is claimed by two composite receipts with different inner runs (${other.run}, ${inner.run})`, { receipt: c, field: 'run' })
      }
      claims.set(c, { run: inner.run, requester: r.receipt.provider, by })
    }
  }
  return claims
}

/** The root document of a set of receipts of one run, and its CID (receipts of composites' inner runs are pinned through their outer receipt, not listed). */
export function receiptRoot (receipts: SignedReceipt[]): ReceiptRoot & { cid: string } {
  const claimed = innerClaims(receipts)
  const top = receipts.filter(r => !claimed.has(receiptCid(r.receipt)))
  if (top.length === 0) throw new ReceiptChainRunError('a receipt chain needs at least one receipt')
  const run = top[0].receipt.run
  const cids = top.map(r => receiptCid(r.receipt))
  const referenced = new Set(top.flatMap(r => r.receipt.prev))
  const sinks = [...new Set(cids.filter(c => !referenced.has(c)))].sort()
  const root: ReceiptRoot = { v: 1, kind: ROOT_KIND, run, sinks }
  return { ...root, cid: cidStringOf(root) }
}

/**
 * Verifies a run's receipts offline; throws the first problem found. The set
 * may also hold the receipts of composite steps' inner runs (named in their
 * receipt's `inner`): each is checked as part of its inner run — that run,
 * requested by the composite's provider — and every one named must be there.
 */
export function verifyChain (receipts: unknown[], options: VerifyChainOptions = {}): ChainVerification {
  if (!Array.isArray(receipts) || receipts.length === 0) throw new ReceiptChainRunError('a receipt chain needs at least one receipt')
  const requireRequester = options.requireRequester ?? true
  for (const signed of receipts) verifySignedReceipt(signed, { registry: options.registry, requireRequester })
  const all = receipts as SignedReceipt[]
  const claims = innerClaims(all)
  const byCid = new Map<string, SignedReceipt>()
  const bySteps = new Map<string, string>()
  let run: string | undefined
  // a run has one requester: receipts countersigned by another peer under the same run id are not part of it
  let requester = options.requester
  let inner = 0
  for (const signed of all) {
    const r = signed.receipt
    const cid = receiptCid(r)
    if (byCid.has(cid)) continue
    const claim = claims.get(cid)
    if (claim != null) {
      if (r.run !== claim.run) throw new ReceiptInnerMismatchError(`receipt ${cid} (step ${r.step}) is of run ${r.run}, but receipt ${claim.by} names it as a receipt of its inner run ${claim.run}`, { receipt: cid, field: 'run', expected: claim.run, actual: r.run })
      if (r.requester !== claim.requester) throw new ReceiptInnerMismatchError(`receipt ${cid} (step ${r.step}) names requester ${r.requester}, but the inner run ${claim.run} was requested by ${claim.requester}`, { receipt: cid, field: 'requester', expected: claim.requester, actual: r.requester })
      inner++
    } else {
      run ??= r.run
      if (r.run !== run) throw new ReceiptChainRunError(`the chain mixes runs ${run} and ${r.run}`, { runs: [run, r.run] })
      requester ??= r.requester
      if (r.requester !== requester) {
        throw new ReceiptChainRequesterError(`receipt of step ${r.step} names requester ${r.requester}, the chain's requester is ${requester}`, { expected: requester, actual: r.requester, step: r.step })
      }
    }
    const stepKey = `${r.run}\x00${r.step}`
    const other = bySteps.get(stepKey)
    if (other != null) {
      throw new DuplicateStepReceiptError(`step ${r.step} of run ${r.run} has two accepted receipts: ${other} and ${cid}`, { step: r.step, receipts: [other, cid] })
    }
    bySteps.set(stepKey, cid)
    byCid.set(cid, signed)
  }
  if (run == null) throw new ReceiptChainRunError('every receipt of the set is claimed as an inner receipt: no receipt of the run itself')
  for (const [cid, signed] of byCid) {
    for (const p of signed.receipt.prev) {
      if (!byCid.has(p)) throw new ReceiptPrevMissingError(`receipt ${cid} (step ${signed.receipt.step}) names prev ${p}, which is not in the set`, { receipt: cid, prev: p })
      const a = claims.get(cid)?.run ?? run
      const b = claims.get(p)?.run ?? run
      if (a !== b) throw new ReceiptPrevMissingError(`receipt ${cid} (step ${signed.receipt.step}) names prev ${p} of another run (${b})`, { receipt: cid, prev: p })
    }
    for (const c of signed.receipt.inner?.receipts ?? []) {
      if (!byCid.has(c)) throw new ReceiptInnerMissingError(`receipt ${cid} (step ${signed.receipt.step}) names inner receipt ${c} of run ${signed.receipt.inner?.run ?? '?'}, which is not in the set`, { receipt: cid, inner: c })
    }
  }
  const root = receiptRoot([...byCid.values()])
  return { run, root: root.cid, sinks: root.sinks, receipts: byCid.size, inner }
}

/**
 * The requester's check of the inner receipts a composite step's Result
 * carries: `outer`'s `inner` names them, each verifies (signatures, its inner
 * run, the provider as requester, nested composites' own inner receipts), and
 * nothing else comes along. Returns them, to be stored with the receipt.
 */
export function verifyInnerReceipts (outer: SignedReceipt, carried: unknown, options: ReceiptOptions = {}): SignedReceipt[] {
  const list = carried ?? []
  if (!Array.isArray(list) || list.length > MAX_INNER_RECEIPTS) throw new ReceiptInnerMismatchError(`a composite's inner receipts must be a list of at most ${MAX_INNER_RECEIPTS} signed receipts`, { field: 'inner' })
  if (outer.receipt.inner == null) {
    if (list.length > 0) throw new ReceiptInnerMismatchError('the result carries inner receipts, but its receipt names no inner run', { field: 'inner' })
    return []
  }
  const result = verifyChain([outer, ...list], { registry: options.registry, requireRequester: false, requester: outer.receipt.requester })
  // every carried receipt is some composite's inner receipt: the set is the tree, nothing more
  if (result.receipts - result.inner !== 1) throw new ReceiptInnerMismatchError('the result carries receipts that no composite receipt names as inner', { field: 'inner' })
  for (const r of list as SignedReceipt[]) {
    if (r.requester_sig == null) throw new ReceiptNotCountersignedError(`inner receipt of step ${r.receipt.step} (run ${r.receipt.run}) is not countersigned by ${r.receipt.requester}`, { requester: r.receipt.requester })
  }
  return list as SignedReceipt[]
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
