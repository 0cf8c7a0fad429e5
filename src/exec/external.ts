/**
 * External implementations: capabilities this node offers but does not run in
 * its own module pools. A bridge (A2A agent, MCP tool, a process attached to
 * the gateway, a composite plan) registers an ExternalRunner for its `kind`;
 * a capability published with `impl: {external: {kind, target, options}}`
 * binds to a ModuleSpec of kind 'external', and ModulePool.runModule hands
 * its steps to the runner of that kind. Everything around the call stays the
 * node's: the award, the limits (the wall limit arrives as `call.limits` and
 * `options.signal`), the receipt it signs as provider of record — which names
 * the runner in `via` so a verifier sees the step ran outside the node.
 *
 * @example
 * pool.external.register({
 *   kind: 'echo',
 *   async run (impl, call, options) {
 *     return { output: call.inputData, usage: { cpu_ms: 0, wall_ms: 1, mem_peak_mb: 0 }, via: { kind: 'echo', target: impl.target } }
 *   }
 * })
 * await discovery.publish(descriptor, { external: { kind: 'echo', target: 'local' } })
 */
import type { ExternalImpl, ModuleSpec } from '../core/index.js'
import { ExternalRunnerMissingError, ModuleLoadError } from './errors.js'
import type { ModuleCall, ModuleCallOptions, ModuleResult } from './types.js'

export type { ExternalImpl }

/** Runs the steps of one kind of external implementation. */
export interface ExternalRunner {
  /** the `kind` of the ExternalImpls it serves (a2a, mcp, attached...) */
  readonly kind: string
  /**
   * Runs one call. Must honour `options.signal` (the award's wall limit and
   * cancellation abort it), throw typed errors (`retryable: true` when the
   * remote side hung, vanished or answered garbage, so the requester fails
   * over), and say in the result's `via` what it called.
   */
  run: (impl: ExternalImpl, call: ModuleCall, options: ModuleCallOptions) => Promise<ModuleResult>
  /** whether it can serve `impl` now (an attached process is connected...); @default true */
  ready?: (impl: ExternalImpl) => boolean
}

/** The runners of a node, by kind. */
export class ExternalRunners {
  private readonly runners = new Map<string, ExternalRunner>()

  /** Registers a runner; returns a function that unregisters it. */
  register (runner: ExternalRunner): () => void {
    if (this.runners.has(runner.kind)) throw new ModuleLoadError(`an external runner for kind '${runner.kind}' is already registered`, { kind: runner.kind })
    this.runners.set(runner.kind, runner)
    return () => { if (this.runners.get(runner.kind) === runner) this.runners.delete(runner.kind) }
  }

  get (kind: string): ExternalRunner | undefined {
    return this.runners.get(kind)
  }

  kinds (): string[] {
    return [...this.runners.keys()].sort()
  }

  /** Whether a step of `module` could be handed to a runner now. */
  ready (module: ModuleSpec): boolean {
    const impl = module.external
    if (impl == null) return false
    const runner = this.runners.get(impl.kind)
    return runner != null && (runner.ready?.(impl) ?? true)
  }

  async run (module: ModuleSpec, call: ModuleCall, options: ModuleCallOptions): Promise<ModuleResult> {
    const impl = module.external
    if (impl == null) throw new ModuleLoadError(`module ${module.key} is external but names no implementation`, { module: module.key })
    const runner = this.runners.get(impl.kind)
    if (runner == null) {
      throw new ExternalRunnerMissingError(`capability ${module.key} is served by an external '${impl.kind}' implementation, but this node runs no '${impl.kind}' bridge (known: ${this.kinds().join(', ') || 'none'})`, { module: module.key, kind: impl.kind })
    }
    const result = await runner.run(impl, call, options)
    return { ...result, via: result.via ?? { kind: impl.kind, target: impl.target } }
  }
}
