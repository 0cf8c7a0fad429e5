/**
 * The local executor: runs a Task DAG on this node's own modules. JS
 * modules run in piscina worker threads (one pool per heap limit), Python
 * modules in reused `python3` runner processes; every step has a hard wall
 * limit, a memory limit and, when set, a CPU limit. Runs and steps are
 * journaled in LevelDB so a crashed run resumes without redoing finished
 * steps. Modules reach addons (webhook, callback, llm) and humans
 * (`context.human.ask`) through their context. The scheduler asks
 * StepRunners "who runs this step?": the LocalRunner first, then any the
 * embedder adds (the remote runner plugs in there).
 *
 * @example
 * const store = await Store.open(dataDir)
 * const executor = new Executor({ store, logger })
 * executor.start()
 * const { dag, bundle } = await loadWorkflow('fixtures/workflows/diamond-js')
 * const runId = await executor.submit(dag, { number: 5 }, { modules: bundle?.modules })
 * const run = await executor.wait(runId)
 * console.log(run.state, await executor.output(run))   // succeeded { number: 18 }
 * await executor.stop(); await store.close()
 *
 * Without a DAG (the provider side of remote execution):
 * const pool = new ModulePool()
 * const { output, usage } = await pool.runModule(spec, { parameters, settings, globalSettings, globalParameters, inputData, limits }, { signal })
 */
export { Executor, type ExecutorInit, type SubmitOptions, type SeqEvent } from './executor.js'
export { exec, type ExecServiceInit, type ExecService } from './service.js'
export { ModulePool, type ModulePoolInit } from './pool.js'
export { LocalRunner, type LocalCapabilities } from './local-runner.js'
export { Addons, type AddonsConfig, type WebhookConfig, type LlmConfig, type AddonCallback, type CallbackContext } from './addons.js'
export { effectiveLimits } from './limits.js'
export { ExternalRunners, type ExternalRunner, type ExternalImpl } from './external.js'
export { toPlain } from './inputs.js'
export { probeContainment, probeNetNamespace, type Containment, type ContainmentMode } from './containment.js'
export { systemClock, type Clock } from './clock.js'
export { runView, type RunView } from './view.js'
export * from './errors.js'
export * from './constants.js'
export type * from './types.js'
export { Semaphore } from './semaphore.js'
