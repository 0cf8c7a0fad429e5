/**
 * The receipts service of a pl-node: owns the ReceiptStore, wraps step
 * runners so every step gets a receipt, and serves a run's receipts on the
 * control API (`GET /receipts/:runId` → the export document).
 */
import type { PlComponents, PlService } from '../node.js'
import type { StepRunner } from '../exec/types.js'
import { ReceiptStore } from './store.js'
import { ReceiptingRunner } from './runner.js'
import { exportReceipts, type ReceiptExport } from './chain.js'
import { ReceiptNotFoundError } from './errors.js'

export type ReceiptsComponents = Pick<PlComponents, 'store' | 'identity' | 'registry' | 'api' | 'clock'>

export class ReceiptsService implements PlService {
  readonly store: ReceiptStore
  private routed = false

  constructor (private readonly components: ReceiptsComponents) {
    this.store = new ReceiptStore(components.store, components.clock)
  }

  /** Wraps a runner so that its steps get (and store) receipts. */
  wrap (runner: StepRunner): StepRunner {
    return new ReceiptingRunner(runner, { identity: this.components.identity, receipts: this.store, registry: this.components.registry, clock: this.components.clock })
  }

  /** The export document of a run; throws ReceiptNotFoundError when it has no receipts. */
  async export (runId: string): Promise<ReceiptExport> {
    const receipts = await this.store.forRun(runId)
    if (receipts.length === 0) throw new ReceiptNotFoundError(`no receipts for run ${runId}`, { run: runId })
    return exportReceipts(await this.store.withInner(receipts))
  }

  start (): void {
    if (this.routed || this.components.api == null) return
    this.routed = true
    this.components.api.route('GET', '/receipts/:runId', async ({ params }) => await this.export(params.runId))
  }

  stop (): void {}
}

/** Service factory: `services: { receipts: receipts() }`. */
export function receipts () {
  return (components: PlComponents): ReceiptsService => new ReceiptsService(components)
}
