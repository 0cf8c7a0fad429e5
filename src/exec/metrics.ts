/** Executor metrics on the node's prom-client registry. */
import { Counter, Gauge, Histogram } from 'prom-client'
import type { Metrics } from '../core/index.js'
import type { ExecEvent } from './types.js'
import type { ContainmentReport } from './pool.js'

export class ExecMetrics {
  private readonly steps: Counter<'outcome'>
  private readonly runs: Counter<'outcome'>
  private readonly stepWall: Histogram
  private readonly contained: Gauge<'kind' | 'mode'>

  constructor (metrics: Metrics) {
    const reg = metrics.registry
    this.steps = (reg.getSingleMetric('pl_exec_steps_total') as Counter<'outcome'> | undefined) ??
      new Counter({ name: 'pl_exec_steps_total', help: 'Step attempts by outcome (finished, replayed, failed, retried, skipped, journal-failed)', labelNames: ['outcome'], registers: [reg] })
    this.runs = (reg.getSingleMetric('pl_exec_runs_total') as Counter<'outcome'> | undefined) ??
      new Counter({ name: 'pl_exec_runs_total', help: 'Runs ended, by outcome', labelNames: ['outcome'], registers: [reg] })
    this.stepWall = (reg.getSingleMetric('pl_exec_step_wall_seconds') as Histogram | undefined) ??
      new Histogram({ name: 'pl_exec_step_wall_seconds', help: 'Wall time of steps run locally', buckets: [0.001, 0.01, 0.1, 1, 10, 60, 600], registers: [reg] })
    this.contained = (reg.getSingleMetric('pl_exec_containment') as Gauge<'kind' | 'mode'> | undefined) ??
      new Gauge({ name: 'pl_exec_containment', help: 'How the processes a step starts are contained (1 = in use), by module kind and mode (pid-namespace, process-group, thread-process-tree)', labelNames: ['kind', 'mode'], registers: [reg] })
  }

  containment (c: ContainmentReport): void {
    this.contained.set({ kind: 'python', mode: c.python.mode }, 1)
    this.contained.set({ kind: 'js', mode: c.js.mode }, 1)
  }

  observe (ev: ExecEvent): void {
    switch (ev.type) {
      case 'pl:step:finished':
        this.steps.inc({ outcome: ev.replayed ? 'replayed' : 'finished' })
        if (!ev.replayed && ev.usage != null) this.stepWall.observe(ev.usage.wall_ms / 1000)
        break
      case 'pl:step:failed': this.steps.inc({ outcome: ev.willRetry ? 'retried' : 'failed' }); break
      case 'pl:step:skipped': this.steps.inc({ outcome: 'skipped' }); break
      case 'pl:step:journal-failed': this.steps.inc({ outcome: 'journal-failed' }); break
      case 'pl:run:finished': this.runs.inc({ outcome: 'succeeded' }); break
      case 'pl:run:failed': this.runs.inc({ outcome: ev.error.name === 'RunCancelledError' ? 'cancelled' : 'failed' }); break
    }
  }
}
