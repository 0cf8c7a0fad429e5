/**
 * Where the graph of an estimate or a deploy comes from: DSL text in the
 * body, a workflow.json document with its modules in a bundle stored by CID,
 * a stored bundle alone, or, when the body has no graph, the workflow that
 * `:id` names in the registry (RegisteredWorkflowSource).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseCid } from '../core/encoding.js'
import type { BlockStore } from '../store/index.js'
import { BlockNotFoundError } from '../store/errors.js'
import { compileDsl, loadWorkflow, type LoadedWorkflow, unpackBundle } from '../workflow/index.js'
import { MANIFEST_FILE, WORKFLOW_FILE } from '../workflow/constants.js'
import type { RegisteredWorkflowSource } from './types.js'
import { NoGraphError } from './errors.js'

export interface GraphBody {
  dsl?: string
  workflow?: Record<string, unknown>
  bundle?: string
  version?: string
}

export interface GraphSource extends LoadedWorkflow {
  /** where the graph came from, for the run record */
  source?: string
  origin: 'dsl' | 'bundle' | 'registry'
}

export async function graphFrom (id: string, body: GraphBody, deps: { blocks: BlockStore, workflows?: RegisteredWorkflowSource }, options: { signal?: AbortSignal } = {}): Promise<GraphSource> {
  if (body.dsl != null) {
    if (body.workflow != null || body.bundle != null) throw new NoGraphError('give either "dsl" or "workflow"/"bundle", not both')
    return { dag: compileDsl(body.dsl, { file: `${id}.yaml` }), cleanup: async () => {}, origin: 'dsl' }
  }
  if (body.bundle != null) {
    const cid = parseCid(body.bundle).toString()
    const bytes = await deps.blocks.getBytes(cid)
    if (bytes == null) throw new BlockNotFoundError(`no bundle ${cid} in this node's store (upload the .zip with POST /blocks first)`, { cid })
    const tmp = await mkdtemp(join(tmpdir(), 'pl-gw-bundle-'))
    const cleanup = async (): Promise<void> => { await rm(tmp, { recursive: true, force: true }) }
    try {
      const root = join(tmp, 'bundle')
      await unpackBundle(bytes, root)
      if (body.workflow != null) {
        // the caller's document replaces the bundle's: its manifest no longer applies (modules are pinned by the CIDs computed at load)
        await writeFile(join(root, WORKFLOW_FILE), JSON.stringify(body.workflow))
        await rm(join(root, MANIFEST_FILE), { force: true })
      }
      const loaded = await loadWorkflow(root, { signal: options.signal })
      return { ...loaded, cleanup, origin: 'bundle', source: `bundle:${cid}` }
    } catch (err) {
      await cleanup()
      throw err
    }
  }
  if (body.workflow != null) throw new NoGraphError('a workflow.json document needs its modules: give "bundle", the CID of its .zip stored with POST /blocks')
  if (deps.workflows == null) throw new NoGraphError(`the body has no graph ("dsl", or "workflow" + "bundle") and this node runs no workflow registry to resolve "${id}"`, { id })
  const resolved = await deps.workflows.resolve(id, { ...(body.version != null ? { version: body.version } : {}), signal: options.signal })
  const loaded = await loadWorkflow(resolved.path, { signal: options.signal })
  return { ...loaded, origin: 'registry', source: resolved.path }
}
