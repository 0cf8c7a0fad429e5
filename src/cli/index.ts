/**
 * What the command-line entry points (`pl-node.ts`, `pl.ts`, which are not
 * part of the surface) share with other areas and tests: configuration
 * loading (flags > environment > file > defaults), the detached daemon and
 * its pid file and idle heap settle, `pl-node health` and `doctor`, progress
 * output, helpers, the version. `require-node.ts` is imported for its effect (Node version check,
 * compile cache) first by every entry point, `version.ts` is a light entry
 * (docs/ARCHITECTURE.md "Areas and their surfaces").
 *
 * @example
 * const config = await loadConfig({ dataDir })
 * const { client } = await requireDaemon(dataDir)
 */
export * from './errors.js'
export * from './config.js'
export * from './daemon.js'
export * from './health.js'
export * from './progress.js'
export * from './settle-heap.js'
export * from './util.js'
export * from './version.js'
export { runDoctor, renderFindings, DOCTOR_CHECKS, SANDBOX_FINDINGS } from './doctor/index.js'
export * from './doctor/checks.js'
export type * from './doctor/types.js'
