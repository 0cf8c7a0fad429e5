/**
 * The `plan` ExternalRunner: a composite capability's step runs its plan as
 * an inner run on this node's executor — the plan's own steps negotiated over
 * the mesh as usual, their CFPs one level deeper (`depth` + 1) — and returns
 * the plan's output. The outer step's input_data fills the plan's inputs (by
 * name); the outer signal (award deadline, wall limit, requester cancel)
 * cancels the inner run. The result names the inner run and its receipts, so
 * the provider's receipt links them (Receipt.v1 `inner`) and the requester
 * can verify the whole tree offline.
 *
 * @example
 * executor.pool.external.register(compositeRunner({ executor, blocks: store.blocks, receipts: receiptStore }))
 */
import type { ErrorData } from '../core/errors.js'
import type { ExternalRunner, Executor } from '../exec/index.js'
import type { ModuleResult } from '../exec/types.js'
import { RunCancelledError } from '../exec/errors.js'
import { receiptCid, type SignedReceipt, type ReceiptStore } from '../receipts/index.js'
import type { BlockStore } from '../store/index.js'
import type { IoSchemas } from '../trust/index.js'
import { DEFAULT_MAX_DEPTH } from '../negotiation/constants.js'
import { CallDepthExceededError, CompositeRunFailedError } from './errors.js'
import { compilePlan, loadPlanDoc } from './plan.js'
import { COMPOSITE_KIND, MAX_INNER_RECEIPT_CIDS } from './constants.js'

export interface CompositeRunnerInit {
  executor: Executor
  blocks: BlockStore
  /** where the inner runs' receipts are (the receipts service's store); without it the result names none */
  receipts?: ReceiptStore
  /** deepest nesting served (the provider's `maxDepth`) @default DEFAULT_MAX_DEPTH */
  maxDepth?: number
  /** the published output schema of a composite capability, to check the plan's output against */
  outputSchema?: (capability: string) => unknown
  io?: IoSchemas
}

/** Whether an inner run failed because a call in it (or deeper) went past the depth limit. */
export function isDepthFailure (e: ErrorData | undefined): boolean {
  if (e == null) return false
  if (e.name === 'CallDepthExceededError') return true
  const d = e.details as { remote?: { name?: string }, answers?: Array<{ reason?: string }> } | undefined
  if (d?.remote?.name === 'CallDepthExceededError') return true
  return e.name === 'NoBidsError' && Array.isArray(d?.answers) && d.answers.some(a => a?.reason === 'too-deep')
}

/** The plan's inputs from the outer step's input_data: each input the plan declares, by name. */
function planInput (declared: Record<string, unknown>, data: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (data == null || typeof data !== 'object' || Array.isArray(data)) return out
  const d = data as Record<string, unknown>
  for (const k of Object.keys(declared)) if (Object.hasOwn(d, k) && d[k] !== undefined) out[k] = d[k]
  return out
}

export function compositeRunner (init: CompositeRunnerInit): ExternalRunner {
  const maxDepth = init.maxDepth ?? DEFAULT_MAX_DEPTH
  return {
    kind: COMPOSITE_KIND,
    ready: () => init.executor.isStarted,
    async run (impl, call, options): Promise<ModuleResult> {
      const capability = typeof impl.options?.capability === 'string' ? impl.options.capability : impl.target
      const depth = call.step?.depth ?? 0
      if (depth > maxDepth) {
        throw new CallDepthExceededError(`composite ${capability} was called at depth ${depth}, above this node's maximum of ${maxDepth}: a composite that (through the mesh) calls itself?`, { capability, depth, max: maxDepth })
      }
      const { yaml } = await loadPlanDoc(init.blocks, impl.target)
      const dag = compilePlan(yaml, `plan ${impl.target}`)
      options.signal?.throwIfAborted()
      const started = performance.now()
      const runId = await init.executor.submit(dag, planInput(dag.inputs, call.inputData), { depth: depth + 1, serves: `${call.step?.runId ?? '?'}/${call.step?.key ?? '?'}` })
      options.log?.info({ capability, inner: runId, depth: depth + 1 }, 'composite: inner run started')
      const onAbort = (): void => { init.executor.cancel(runId).catch(() => {}) }
      if (options.signal?.aborted === true) onAbort()
      else options.signal?.addEventListener('abort', onAbort, { once: true })
      let run
      try {
        run = await init.executor.wait(runId)
      } finally {
        options.signal?.removeEventListener('abort', onAbort)
      }
      if (run.state !== 'succeeded') {
        if (options.signal?.aborted === true) throw options.signal.reason ?? new RunCancelledError(`composite ${capability}: the call was cancelled`, { inner: runId })
        const e = run.error
        const what = `${e?.name ?? 'Error'}: ${e?.message ?? run.state}`
        if (isDepthFailure(e)) throw new CallDepthExceededError(`composite ${capability}: its inner run ${runId} (depth ${depth + 1}) hit the depth limit — ${what}`, { capability, inner: runId, depth: depth + 1 })
        throw new CompositeRunFailedError(`composite ${capability}: its inner run ${runId} ${run.state} — ${what}`, { capability, inner: runId, error: { name: e?.name ?? 'Error', message: (e?.message ?? '').slice(0, 1000) } })
      }
      const output = await init.executor.output(run)
      const schema = init.outputSchema?.(capability)
      if (schema != null && init.io != null) await init.io.check('output', schema, output)
      const own: SignedReceipt[] = init.receipts != null ? await init.receipts.forRun(runId) : []
      if (own.length > MAX_INNER_RECEIPT_CIDS) {
        throw new CompositeRunFailedError(`composite ${capability}: its inner run ${runId} has ${own.length} receipts, a receipt names at most ${MAX_INNER_RECEIPT_CIDS} (a plan that fans out that wide cannot be a composite)`, { capability, inner: runId, receipts: own.length })
      }
      const signed = init.receipts != null ? await init.receipts.withInner(own) : []
      return {
        output,
        usage: { cpu_ms: 0, wall_ms: Math.round(performance.now() - started), mem_peak_mb: 0 },
        via: { kind: COMPOSITE_KIND, target: impl.target, ref: runId },
        inner: { run: runId, receipts: own.map(r => receiptCid(r.receipt)).sort(), signed }
      }
    }
  }
}
