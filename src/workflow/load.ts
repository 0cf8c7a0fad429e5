/**
 * `loadWorkflow`: one entry point for every way a workflow arrives — a
 * folder with workflow.json, a workflow.json file, a .zip bundle (unpacked
 * into a temp folder that `cleanup()` removes) or a .yaml/.yml DSL plan.
 */
import { lstat, readFile, readdir, rm, stat } from 'node:fs/promises'
import { basename, dirname, extname, join, resolve } from 'node:path'
import type { ModuleSpec } from '../core/index.js'
import type { TaskDag } from './ir.js'
import { compileDsl } from './dsl.js'
import { makeBundleTemp, unpackBundle } from './bundle.js'
import { loadFolder } from './folder.js'
import { DEFAULT_MAX_UNPACKED_BYTES, MAX_DOCUMENT_BYTES, WORKFLOW_FILE } from './constants.js'
import { DslSyntaxError, WorkflowNotFoundError, ZipTooLargeError } from './errors.js'

export interface LoadWorkflowOptions {
  /** bundles: largest total unpacked size @default 256 MiB */
  maxUnpackedBytes?: number
  /** bundles: largest single unpacked entry @default 64 MiB */
  maxEntryBytes?: number
  /** router mode: bound on router iterations @default 20 */
  maxRouterIterations?: number
  signal?: AbortSignal
}

export interface LoadedWorkflow {
  dag: TaskDag
  /** workflow.json sources: where the modules are, pinned by CID (absent for DSL plans) */
  bundle?: { root: string, manifestCid: string, modules: Record<string, ModuleSpec> }
  /** removes the temp folder of an unpacked ZIP (a no-op otherwise); safe to call twice */
  cleanup: () => Promise<void>
}

const noop = async (): Promise<void> => {}

async function fromFolder (root: string, file: string | undefined, options: LoadWorkflowOptions, cleanup: () => Promise<void>): Promise<LoadedWorkflow> {
  const loaded = await loadFolder(root, { file, maxRouterIterations: options.maxRouterIterations, signal: options.signal })
  return { dag: loaded.dag, bundle: { root: resolve(root), manifestCid: loaded.manifestCid, modules: loaded.modules }, cleanup }
}

async function fromZip (path: string, size: number, options: LoadWorkflowOptions): Promise<LoadedWorkflow> {
  const maxTotal = options.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES
  // stored entries are as large packed as unpacked: a bigger archive cannot fit the limit
  if (size > maxTotal + 2 ** 20) throw new ZipTooLargeError(`bundle ${path} is ${size} bytes, more than the unpack limit of ${maxTotal}`, { limit: maxTotal })
  const zip = new Uint8Array(await readFile(path))
  const tmp = await makeBundleTemp()
  let done = false
  const cleanup = async (): Promise<void> => {
    if (done) return
    done = true
    await rm(tmp, { recursive: true, force: true })
  }
  try {
    options.signal?.throwIfAborted()
    await unpackBundle(zip, join(tmp, 'bundle'), { maxEntryBytes: options.maxEntryBytes, maxUnpackedBytes: options.maxUnpackedBytes })
    let root = join(tmp, 'bundle')
    // a ZIP made by hand often wraps everything in one top folder
    const top = await readdir(root)
    if (!top.includes(WORKFLOW_FILE) && top.length === 1 && (await lstat(join(root, top[0]))).isDirectory()) root = join(root, top[0])
    return await fromFolder(root, undefined, options, cleanup)
  } catch (err) {
    await cleanup()
    throw err
  }
}

/**
 * Loads and compiles a workflow from a folder, a workflow.json file, a .zip
 * bundle or a .yaml/.yml DSL plan. The DAG is validated. Call `cleanup()`
 * when done with the bundle's files.
 * @example const wf = await loadWorkflow('plan.yaml'); wf.dag.steps
 */
export async function loadWorkflow (path: string, options: LoadWorkflowOptions = {}): Promise<LoadedWorkflow> {
  options.signal?.throwIfAborted()
  const abs = resolve(path)
  let st
  try {
    st = await stat(abs)
  } catch (err: any) {
    if (err?.code === 'ENOENT' || err?.code === 'ENOTDIR') throw new WorkflowNotFoundError(`no workflow at ${abs}`, { path: abs })
    throw err
  }
  if (st.isDirectory()) {
    try {
      await stat(join(abs, WORKFLOW_FILE))
    } catch {
      throw new WorkflowNotFoundError(`folder ${abs} has no ${WORKFLOW_FILE}`, { path: abs })
    }
    return await fromFolder(abs, undefined, options, noop)
  }
  if (!st.isFile()) throw new WorkflowNotFoundError(`${abs} is not a file or a folder`, { path: abs })
  const ext = extname(abs).toLowerCase()
  if (ext === '.yaml' || ext === '.yml') {
    if (st.size > MAX_DOCUMENT_BYTES) throw new DslSyntaxError(`${abs} is too large (${st.size} > ${MAX_DOCUMENT_BYTES} bytes)`, { file: abs })
    const dag = compileDsl(await readFile(abs, 'utf8'), { file: path })
    return { dag, cleanup: noop }
  }
  if (ext === '.zip') return await fromZip(abs, st.size, options)
  if (ext === '.json') return await fromFolder(dirname(abs), abs, options, noop)
  throw new WorkflowNotFoundError(`${basename(abs)}: expected a folder with ${WORKFLOW_FILE}, a ${WORKFLOW_FILE} file, a .zip bundle or a .yaml plan`, { path: abs })
}
