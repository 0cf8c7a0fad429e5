/** What the gateway's routes use: the same services the control API calls. */
import type { Executor } from '../exec/index.js'
import type { Store, JsonSublevel } from '../store/index.js'
import type { Logger } from '../core/logger.js'
import type { ReceiptExport } from '../receipts/index.js'
import type { RegisteredWorkflowSource, Principal } from './types.js'
import type { KeyStore } from './keys.js'
import type { RunEventHub } from './events.js'
import type { EstimateDeps } from './estimate.js'
import type { Clock } from '../core/clock.js'

/** Who started a run through the gateway: the requester of record (kept in the `gateway-runs` sublevel). */
export interface RunRequester {
  run: string
  principal: string
  kind: Principal['kind']
  /** the agent's PeerId when the request was signed by the agent */
  agent?: string
  at: number
}

export interface GatewayContext {
  executor: Executor
  store: Store
  keys: KeyStore
  hub: RunEventHub
  logger: Logger
  /** the gateway's clock (the node's): requester records, expiry */
  clock: Clock
  requesters: JsonSublevel<RunRequester>
  receipts?: { export: (run: string) => Promise<ReceiptExport> }
  explanations?: (run: string) => Promise<unknown[]>
  workflows?: RegisteredWorkflowSource
  /** undefined when this node does not negotiate (estimate answers 503) */
  estimate?: EstimateDeps
}

/** SubmitOptions naming the agent a run is for, when the caller is an agent that signed its request. */
export function onBehalfOf (p: Principal | undefined): { onBehalfOf?: string } {
  return p?.agent != null ? { onBehalfOf: p.agent } : {}
}

export async function recordRequester (ctx: GatewayContext, run: string, p: Principal | undefined): Promise<void> {
  if (p == null) return
  await ctx.requesters.put(run, { run, principal: p.name, kind: p.kind, ...(p.agent != null ? { agent: p.agent } : {}), at: ctx.clock.now() })
}
