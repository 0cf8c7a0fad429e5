/**
 * ReceiptingRunner: wraps any StepRunner so that every step gets a receipt.
 * A result that already carries a receipt (the remote runner's, countersigned
 * by us) passes through untouched. A step the inner runner executed here
 * gets a receipt with provider = requester = this node, signed and
 * countersigned by our key, whose `award` is a self-award id (the CID of
 * `{self_award: {run, step, provider, input}}`). Either way the receipt is
 * stored (ReceiptStore) before the step is reported finished, so downstream
 * steps can name it in `prev`.
 *
 * @example
 * const runner = new ReceiptingRunner(localRunner, { identity, receipts })
 * const { output, receipt } = await runner.run(step, inputData, ctx)
 */
import { cidStringOf } from '../core/encoding.js'
import type { Identity } from '../core/index.js'
import type { SchemaRegistry } from '../spec/index.js'
import type { RunnerQuery, StepContext, StepRunner, StepRunResult } from '../exec/types.js'
import type { Step } from '../workflow/index.js'
import { countersignVerified, signReceipt, type Receipt, type SignedReceipt } from './signing.js'
import { LIMIT_KEYS, type Limits } from '../wire/index.js'
import { stepCallDocument } from './call.js'
import { prevReceipts } from './prev.js'
import type { ReceiptStore } from './store.js'
import { systemClock, type Clock } from '../core/clock.js'

export interface ReceiptingRunnerInit {
  identity: Identity
  receipts: ReceiptStore
  registry?: SchemaRegistry
  /** the receipt's started/ended times @default systemClock */
  clock?: Clock
}

/** The `award` of a receipt for a step this node ran for itself. */
export function selfAwardId (run: string, step: string, provider: string, input: string): string {
  return cidStringOf({ self_award: { run, step, provider, input } })
}

/** Receipt limits are integers; drop what is unset. */
export function receiptLimits (limits: Limits): Limits {
  const out: Limits = {}
  for (const k of LIMIT_KEYS) {
    const v = limits[k]
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out[k] = Math.ceil(v)
  }
  return out
}

/** Receipt usage: exactly the three measured figures, never negative. */
export function receiptUsage (usage: Partial<Receipt['usage']> | undefined): Receipt['usage'] {
  const n = (v: unknown): number => typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0
  return { cpu_ms: n(usage?.cpu_ms), wall_ms: n(usage?.wall_ms), mem_peak_mb: n(usage?.mem_peak_mb) }
}

/** The capability name a receipt records for a step. */
export function capabilityOf (step: Step): string {
  return step.capability?.name ?? step.module?.key ?? step.id
}

export class ReceiptingRunner implements StepRunner {
  readonly name: string

  constructor (private readonly inner: StepRunner, private readonly init: ReceiptingRunnerInit) {
    this.name = inner.name
  }

  async canRun (step: Step, query: RunnerQuery): Promise<boolean> {
    return await this.inner.canRun(step, query)
  }

  async run (step: Step, inputData: Record<string, unknown>, ctx: StepContext): Promise<StepRunResult> {
    const clock = this.init.clock ?? systemClock
    const started = clock.now()
    const result = await this.inner.run(step, inputData, ctx)
    if (result.receipt != null) return result
    const ended = clock.now()
    const self = this.init.identity.id
    const input = cidStringOf(stepCallDocument(step, inputData, ctx.dag))
    const receipt: Receipt = {
      run: ctx.runId,
      step: ctx.key,
      capability: capabilityOf(step),
      provider: self,
      requester: self,
      award: selfAwardId(ctx.runId, ctx.key, self, input),
      input,
      output: cidStringOf(result.output),
      status: 'ok',
      started,
      ended: Math.max(started, ended),
      usage: receiptUsage(result.usage),
      limits: receiptLimits(ctx.limits),
      // the data never left this node: the run's policies are honoured by construction
      policies: [...ctx.dag.policies],
      prev: await prevReceipts(this.init.receipts, ctx.runId, ctx.dag, step),
      ...(result.via != null ? { via: result.via } : {}),
      ...(ctx.onBehalfOf != null ? { on_behalf_of: ctx.onBehalfOf } : {}),
      ...(result.inner != null ? { inner: { run: result.inner.run, receipts: result.inner.receipts } } : {})
    }
    // signReceipt validated the receipt; our own fresh signature needs no second check
    const signed: SignedReceipt = countersignVerified(this.init.identity, signReceipt(this.init.identity, receipt, { registry: this.init.registry }))
    if (result.inner != null) await this.init.receipts.putInner(result.inner.signed as SignedReceipt[])
    await this.init.receipts.put(signed)
    return { ...result, receipt: signed, executor: result.executor ?? self }
  }

  async stop (): Promise<void> {
    await this.inner.stop?.()
  }
}
