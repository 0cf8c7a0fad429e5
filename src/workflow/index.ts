/**
 * Workflow front ends: workflow.json bundles (folder or ZIP) and the YAML
 * DSL, both compiled to one Task DAG (ir.ts) that the executor runs. Pure
 * code: nothing here executes a module or touches the network.
 *
 * @example
 * import { loadWorkflow, dagCid, toDot } from './workflow/index.js'
 * const wf = await loadWorkflow('examples/diamond')      // folder, workflow.json, .zip or .yaml
 * try {
 *   console.log(dagCid(wf.dag), Object.keys(wf.dag.steps)) // 'bafyrei…' [ 'start', 'inc', 'dbl', 'sum' ]
 *   process.stdout.write(toDot(wf.dag))
 * } finally { await wf.cleanup() }
 */
export type * from './ir.js'
export { validateDag, topologicalOrder, dependencies } from './validate.js'
export { dagCid, dagToJson, dagFromJson } from './serialize.js'
export { toDot } from './dot.js'
export { parseDuration } from './duration.js'
export { parseExpr, evalExpr, exprRoots, exprToText, truthy } from './expr.js'
export { parseCall, type ParsedCall, type CallArg } from './call.js'
export { compileDsl } from './dsl.js'
export { compileWorkflowJson, checkWorkflowSchema, checkWorkflowGraph, routerKeyOf, type WorkflowDoc, type WorkflowModule, type CompileWorkflowOptions } from './workflow-json.js'
export { limitsFromRequirements } from './limits.js'
export { folderCid, moduleSpecOf, type ModuleSpec } from '../core/index.js'
export * from './constants.js'
export * from './errors.js'
export { loadWorkflow, type LoadedWorkflow, type LoadWorkflowOptions } from './load.js'
export { loadFolder, type BundleManifest, type LoadedFolder, type FolderOptions } from './folder.js'
export { packBundle, unpackBundle, manifestBytes, makeBundleTemp, sweepBundleTemps, BUNDLE_TEMP_PREFIX } from './bundle.js'
export { listZip, readZipEntry, checkEntryName, type ZipEntry, type ZipLimits } from './zip-read.js'
