/**
 * `prev` of a step's receipt: the receipt CIDs of the steps whose outputs it
 * consumed. Upstream steps are `after` plus the steps its bindings read. An
 * upstream step without receipts (branch, human, loop control) is looked
 * through to its own upstream steps, so the chain stays connected. Instances
 * of an upstream step (`id[i]` map items, `id@n` loop iterations) all count.
 */
import type { Binding, Step, TaskDag } from '../workflow/index.js'
import type { ReceiptStore } from './store.js'

/** The step id of an instance key: `sum@2[3]` → `sum`. */
export function baseStepId (key: string): string {
  return key.replace(/(?:@\d+|\[\d+\])+$/, '')
}

function bindingStep (b: Binding | undefined): string | undefined {
  return b != null && (b.from === 'step' || b.from === 'item') ? b.step : undefined
}

/** Ids of the steps `step` reads from, without duplicates. */
export function upstreamIds (step: Step): string[] {
  const ids = new Set<string>(step.after ?? [])
  for (const b of Object.values(step.args ?? {})) {
    const s = bindingStep(b)
    if (s != null) ids.add(s)
  }
  const over = bindingStep(step.over)
  if (over != null) ids.add(over)
  ids.delete(step.id)
  return [...ids]
}

/** Sorted receipt CIDs of the steps `step` consumed in run `runId`. */
export async function prevReceipts (receipts: ReceiptStore, runId: string, dag: TaskDag, step: Step): Promise<string[]> {
  const queue = upstreamIds(step)
  // a first step consumed nothing: no read of the run's receipts
  if (queue.length === 0) return []
  const byStep = new Map<string, string[]>()
  for (const { step: key, cid } of await receipts.stepsOf(runId)) {
    const id = baseStepId(key)
    byStep.set(id, [...(byStep.get(id) ?? []), cid])
  }
  const out = new Set<string>()
  const seen = new Set<string>([step.id])
  while (queue.length > 0) {
    const id = queue.shift() as string
    if (seen.has(id)) continue
    seen.add(id)
    const cids = byStep.get(id)
    if (cids != null) {
      for (const c of cids) out.add(c)
    } else {
      const up = dag.steps[id]
      if (up != null) queue.push(...upstreamIds(up))
    }
  }
  return [...out].sort()
}
