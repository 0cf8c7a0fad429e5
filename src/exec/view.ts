/** The JSON view of a run that the control API returns and `pl runs show` prints. */
import type { Executor } from './executor.js'
import type { RunRecord, StepRecord } from './types.js'

export interface RunView {
  run: RunRecord
  steps: StepRecord[]
  /** the run's result document (succeeded runs) */
  output?: unknown
  /** steps waiting for a decision: `pl decide <run> <key> <choice>` */
  waiting?: Array<{ key: string, question: string, choices: string[] }>
}

export async function runView (executor: Executor, runId: string): Promise<RunView> {
  const { run, steps } = await executor.get(runId)
  const view: RunView = { run, steps }
  if (run.state === 'succeeded') view.output = await executor.output(run)
  const waiting = steps.filter(s => s.state === 'waiting-human' && s.waiting != null)
  if (waiting.length > 0) view.waiting = waiting.map(s => ({ key: s.key, question: s.waiting?.question ?? '', choices: s.waiting?.choices ?? [] }))
  return view
}
