/**
 * The workflow registry: workflows as data in the mesh, with no central
 * registry. A registered workflow is a content-addressed bundle (a ZIP of
 * workflow.json + module folders, or a DSL plan) plus a signed
 * WorkflowRecord.v1 per version; deletion is a signed tombstone. The node
 * that registers a workflow provides `pl:wf:<id>` on the DHT and serves the
 * records and bundle over `/pl/workflows` + `/pl/fetch`; every other node
 * finds, verifies and caches them. The gateway mounts `registryRoutes`.
 *
 * @example
 * const node = await PlNode.create({ dataDir, services: { exec: exec(), registry: registry() } })
 * await node.start()
 * const reg = node.service<Registry>('registry')
 * const { record } = await reg.register({ plan: yamlText, workflow_id: 'summarize' }, principal, { mode: 'create' })
 * const { path } = await reg.resolve('summarize') // on any node of the mesh
 */
export { Registry, registry, type RegistryInit, type RegistryComponents, type RegisterInput, type RecordView, type RegisterResult } from './service.js'
export { type WorkflowRecord, type SignedRecord, type WorkflowMeta } from './record.js'
export { compileQuery, runQuery, QUERY_FIELDS, type QueryRequest, type QueryResult, type QueryDoc } from './query.js'
export { compareSemver, parseSemver } from './semver.js'
export { workflowKey } from './protocol.js'
export { registryRoutes, type RegistryRoutesDeps } from './routes.js'
export { RegistryRuns, type ExecuteRequest, type ExecuteAnswer, type InfraReport } from './runs.js'
export * from './errors.js'
export * from './constants.js'
