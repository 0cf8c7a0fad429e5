/**
 * Attached providers: a process in any language (the generated Python and Go
 * provider SDKs, docs/SPEC.md) connects to the gateway's `/attach`
 * WebSocket, registers a capability spec and serves its steps; this node
 * publishes the capability, wins awards for it, forwards each step to the
 * process under the award's wall limit and signs the receipt as provider of
 * record with `via: {kind: 'attached', target: <attachment id>, ref: <call id>}`.
 *
 * @example
 * services.attached = attached()   // before the gateway, which mounts its route
 */
import type { ServiceComponents } from '../../node.js'
import { AttachedService, type AttachedInit, type AttachedServices } from './service.js'

export { AttachedService, capabilitySpec, type AttachedInit, type AttachedServices, type Attachment } from './service.js'
export { attachedBidStrategy } from './strategy.js'
export * from './errors.js'
export * from './constants.js'

export function attached (init: AttachedInit = {}) {
  return (components: ServiceComponents<AttachedServices>): AttachedService => new AttachedService(components, init)
}
