/**
 * The runs journal in LevelDB: one keyspace per record kind. Step outputs
 * and run inputs/outputs/DAGs are content in `store.blocks` (by CID); the
 * journal holds states and CIDs. Writes that change a run and a step
 * together go in one batch, so a crash never leaves them disagreeing; a
 * step's or run's output block goes in the batch of the record naming it.
 * Every write goes through the store's group commit: concurrent steps and
 * runs share LevelDB batches, each write resolving once its batch is written.
 *
 *   exec-runs       <runId>                 RunRecord
 *   exec-steps      <runId>/<step key>      StepRecord
 *   exec-decisions  <runId>/<step key>#<n>  DecisionRecord
 */
import type { Store, JsonSublevel, BatchOp } from '../store/index.js'
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

  /** Writes a run record, with `extra` operations (its blocks, step records) in the same batch. */
  async putRun (run: RunRecord, extra: BatchOp[] = []): Promise<void> {
    await this.store.write([...extra, { type: 'put', sublevel: this.runs, key: run.id, value: run }])
  }

  /** Writes journal operations (`stepOp`s, blocks) in one batch. */
  async write (ops: BatchOp[]): Promise<void> {
    await this.store.write(ops)
  }

  /** The write of a step record, for a batch of someone else (`putRun`'s `extra`); the record is encoded when the batch is written: do not change it meanwhile. */
  stepOp (step: StepRecord): BatchOp {
    return { type: 'put', sublevel: this.steps, key: `${step.run}/${step.key}`, value: step }
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

  /** Writes a step record, and the run record too when given, with `extra` operations (its output block), in one batch. */
  async putStep (step: StepRecord, run?: RunRecord, extra: BatchOp[] = []): Promise<void> {
    const ops: BatchOp[] = [...extra, this.stepOp(step)]
    if (run != null) ops.push({ type: 'put', sublevel: this.runs, key: run.id, value: run })
    await this.store.write(ops)
  }

  async getDecision (runId: string, key: string, ask: number): Promise<DecisionRecord | undefined> {
    return ((await this.decisions.get(`${runId}/${key}#${ask}`)) ?? undefined) as DecisionRecord | undefined
  }

  async putDecision (d: DecisionRecord): Promise<void> {
    await this.store.write([{ type: 'put', sublevel: this.decisions, key: `${d.run}/${d.key}#${d.ask}`, value: d }])
  }
}
