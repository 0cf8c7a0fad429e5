/** Builders of real signed receipts for the receipts tests. */
import { createIdentity, type Identity } from '../../src/core/index.js'
import { cidStringOf } from '../../src/core/encoding.js'
import { countersignReceipt, signReceipt, receiptCid, type Receipt, type SignedReceipt } from '../../src/receipts/signing.js'

export interface Parties { provider: Identity, requester: Identity }

export async function parties (): Promise<Parties> {
  return { provider: await createIdentity(), requester: await createIdentity() }
}

export function baseReceipt (p: Parties, over: Partial<Receipt> = {}): Receipt {
  return {
    run: 'run-1',
    step: 'split',
    capability: 'Split',
    provider: p.provider.id,
    requester: p.requester.id,
    award: cidStringOf({ award: over.step ?? 'split' }),
    input: cidStringOf({ input: 1 }),
    output: cidStringOf({ output: 1 }),
    status: 'ok',
    started: 1_700_000_000_000,
    ended: 1_700_000_000_050,
    usage: { cpu_ms: 10, wall_ms: 50, mem_peak_mb: 20 },
    limits: { cpu_ms: 1000, wall_ms: 5000, mem_mb: 128 },
    policies: ['pol-a'],
    prev: [],
    ...over
  }
}

/** Provider-signed and requester-countersigned. */
export function accepted (p: Parties, over: Partial<Receipt> = {}): SignedReceipt {
  return countersignReceipt(p.requester, signReceipt(p.provider, baseReceipt(p, over)))
}

/** A diamond a → (b, c) → d of accepted receipts, in topological order. */
export function diamond (p: Parties, run = 'run-1'): SignedReceipt[] {
  const a = accepted(p, { run, step: 'a', output: cidStringOf({ o: 'a' }) })
  const b = accepted(p, { run, step: 'b', prev: [receiptCid(a.receipt)] })
  const c = accepted(p, { run, step: 'c', prev: [receiptCid(a.receipt)] })
  const d = accepted(p, { run, step: 'd', prev: [receiptCid(b.receipt), receiptCid(c.receipt)].sort() })
  return [a, b, c, d]
}
