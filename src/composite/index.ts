/**
 * Composite capabilities: a capability implemented by a plan. Published with
 * `impl: {plan: <plan file | cid:<stored plan>>}` (usually with the spec
 * `pl spec from-plan` derives from the same plan), it binds to an external
 * implementation of kind `plan`; when awarded, the provider runs the plan on
 * its own executor (its steps negotiated over the mesh, their calls one level
 * deeper) and returns the plan's output. Its receipt names the inner run's
 * receipts (`inner`), so the requester's export verifies as one tree.
 *
 * @example
 * services: { ..., exec: exec(), composite: composite() }
 * await discovery.publish(descriptorFromSpec(spec), { plan: 'examples/plans/brief.yaml' })
 */
export * from './errors.js'
export * from './constants.js'
export { compositeImpl, compilePlan, checkNotSelfCalling, loadPlanDoc, planCapabilities, type CompositePlanDoc } from './plan.js'
export { compositeRunner, isDepthFailure, type CompositeRunnerInit } from './runner.js'
export { composite, CompositeService, type CompositeInit } from './service.js'
export { descriptorFromSpec } from './descriptor.js'
