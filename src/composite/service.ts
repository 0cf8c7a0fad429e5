/**
 * The composite service of a pl-node: registers the `plan` ExternalRunner in
 * the executor's module pool, so capabilities published with
 * `impl: {plan: <file | cid:…>}` are bid on and served (src/composite/runner.ts).
 * Start it after exec, receipts and discovery.
 */
import type { PlComponents, PlService, ServiceComponents } from '../node.js'
import type { ExecService } from '../exec/index.js'
import type { ReceiptsService } from '../receipts/index.js'
import type { Discovery } from '../discovery/index.js'
import { IoSchemas } from '../trust/index.js'
import { compositeRunner } from './runner.js'

export interface CompositeInit {
  /** deepest composite nesting run here; keep it equal to negotiation's `maxDepth` @default DEFAULT_MAX_DEPTH */
  maxDepth?: number
}

/** The services the composite service uses, each optional: without an executor it runs nothing. */
export interface CompositeServices {
  exec?: ExecService
  discovery?: Discovery
  receipts?: ReceiptsService
}

export type CompositeComponents = Pick<PlComponents, 'store' | 'registry'> & { services: CompositeServices }

export class CompositeService implements PlService {
  private unregister?: () => void

  constructor (private readonly c: CompositeComponents, private readonly init: CompositeInit) {}

  start (): void {
    if (this.unregister != null) return
    const { exec, discovery, receipts } = this.c.services
    if (exec == null) return // a node without an executor runs no composites
    this.unregister = exec.executor.pool.external.register(compositeRunner({
      executor: exec.executor,
      blocks: this.c.store.blocks,
      receipts: receipts?.store,
      maxDepth: this.init.maxDepth,
      io: new IoSchemas(this.c.registry, this.c.store.blocks),
      outputSchema: (name) => discovery?.localCapabilities().find(l => l.descriptor.name === name && l.active !== false)?.descriptor.io?.output
    }))
  }

  stop (): void {
    this.unregister?.()
    this.unregister = undefined
  }
}

/** Service factory: `services: { composite: composite() }` (after exec). */
export function composite (init: CompositeInit = {}): (components: ServiceComponents<CompositeServices>) => CompositeService {
  return (components) => new CompositeService(components, init)
}
