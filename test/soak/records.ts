/** Fabricated records for the soak checker tests: real signed receipts, tracked runs, snapshots. */
import { baseReceipt, type Parties } from '../receipts/helpers.js'
import { cidStringOf } from '../../src/core/encoding.js'
import { countersignReceipt, signReceipt, receiptCid, type Receipt, type SignedReceipt } from '../../src/receipts/index.js'
import type { StepView, TrackedRun } from '../../bench/soak/records.js'

export { parties, type Parties } from '../receipts/helpers.js'

/** A receipt of the soak's FetchSections step (test/receipts/helpers.ts `baseReceipt` with the soak's defaults). */
export function receipt (p: Parties, over: Partial<Receipt> = {}): Receipt {
  return baseReceipt(p, {
    step: 'FetchSections',
    capability: 'FetchSections',
    award: cidStringOf({ award: over.step ?? 'FetchSections', run: over.run ?? 'run-1' }),
    policies: [],
    ...over
  })
}

/** Provider-signed only. */
export function signed (p: Parties, over: Partial<Receipt> = {}): SignedReceipt {
  return signReceipt(p.provider, receipt(p, over))
}

/** Provider-signed and countersigned by the requester. */
export function accepted (p: Parties, over: Partial<Receipt> = {}): SignedReceipt {
  return countersignReceipt(p.requester, signed(p, over))
}

/** a → b chain of accepted receipts of one run. */
export function chain (p: Parties, run = 'run-1'): SignedReceipt[] {
  const a = accepted(p, { run, step: 'a', output: cidStringOf({ o: 'a' }) })
  const b = accepted(p, { run, step: 'b', prev: [receiptCid(a.receipt)] })
  return [a, b]
}

export function run (over: Partial<TrackedRun> = {}): TrackedRun {
  return { runId: 'run-1', node: 0, plan: 'sections', submittedAt: 1000, state: 'succeeded', latencyMs: 100, ...over }
}

export function step (over: Partial<StepView> = {}): StepView {
  return { key: 'a', state: 'succeeded', attempts: 1, runner: 'remote', executor: 'peerA', receipt: 'bafyreceipt', ...over }
}
