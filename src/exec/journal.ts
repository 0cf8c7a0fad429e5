/**
 * The runs journal in LevelDB: one keyspace per record kind. Step outputs
 * and run inputs/outputs/DAGs are content in `store.blocks` (by CID); the
 * journal holds states and CIDs. Writes that change a run and a step
 * together go in one batch, so a crash never leaves them disagreeing.
 *
 *   exec-runs       <runId>                 RunRecord
 *   exec-steps      <runId>/<step key>      StepRecord
 *   exec-decisions  <runId>/<step key>#<n>  DecisionRecord
 */
import type { Store, JsonSublevel } from '../store/index.js'
import type { DecisionRecord, RunRecord, StepRecord } from './types.js'

const END = '\uffff'

export class Journal {
  private readonly runs: JsonSublevel<RunRecord>
  private readonly steps: JsonSublevel<StepRecord>
  private readonly decisions: JsonSublevel<DecisionRecord>

  constructor (private readonly store: Store) {
    this.runs = store.json<RunRecord>('exec-runs')
    this.steps = store.json<StepRecord>('exec-steps')
    this.decisions = store.json<DecisionRecord>('exec-decisions')
  }

  async getRun (runId: string): Promise<RunRecord | undefined> {
    return ((await this.runs.get(runId)) ?? undefined) as RunRecord | undefined
  }

  async putRun (run: RunRecord): Promise<void> {
    await this.runs.put(run.id, run)
  }

  async listRuns (): Promise<RunRecord[]> {
    const out: RunRecord[] = []
    for await (const v of this.runs.values()) out.push(v as RunRecord)
    return out.sort((a, b) => a.created - b.created)
  }

  async getStep (runId: string, key: string): Promise<StepRecord | undefined> {
    return ((await this.steps.get(`${runId}/${key}`)) ?? undefined) as StepRecord | undefined
  }

  async listSteps (runId: string): Promise<StepRecord[]> {
    const out: StepRecord[] = []
    for await (const v of this.steps.values({ gt: `${runId}/`, lt: `${runId}/${END}` })) out.push(v as StepRecord)
    return out.sort((a, b) => (a.started ?? 0) - (b.started ?? 0))
  }

  /** Writes a step record, and the run record too when given, in one batch. */
  async putStep (step: StepRecord, run?: RunRecord): Promise<void> {
    const ops: any[] = [{ type: 'put', sublevel: this.steps, key: `${step.run}/${step.key}`, value: step }]
    if (run != null) ops.push({ type: 'put', sublevel: this.runs, key: run.id, value: run })
    await this.store.db.batch(ops)
  }

  async getDecision (runId: string, key: string, ask: number): Promise<DecisionRecord | undefined> {
    return ((await this.decisions.get(`${runId}/${key}#${ask}`)) ?? undefined) as DecisionRecord | undefined
  }

  async putDecision (d: DecisionRecord): Promise<void> {
    await this.decisions.put(`${d.run}/${d.key}#${d.ask}`, d)
  }
}
