/**
 * Loads a workflow folder: reads and checks workflow.json, finds each
 * module's folder (`codePath` or `module_<key>`) without letting it escape
 * the bundle root, pins every folder by CID (src/core/module.ts), checks a
 * `pl-manifest.json` when there is one, and compiles the Task DAG.
 */
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises'
import { isAbsolute, join, relative, resolve, sep } from 'node:path'
import { cidStringOf, decodeJson } from '../core/encoding.js'
import { MODULE_ENTRIES, moduleSpecOf, type ModuleSpec } from '../core/index.js'
import type { TaskDag } from './ir.js'
import { checkWorkflowGraph, checkWorkflowSchema, compileWorkflowJson, type WorkflowDoc } from './workflow-json.js'
import { MANIFEST_FILE, MAX_DOCUMENT_BYTES, WORKFLOW_FILE } from './constants.js'
import {
  CodePathEscapeError, ManifestMismatchError, ModuleEntryMissingError, ModuleFolderMissingError, WorkflowNotFoundError, WorkflowParseError
} from './errors.js'

export interface BundleManifest {
  /** CID of the workflow.json document (dag-cbor of the parsed JSON) */
  workflow: string
  /** module key → folder CID */
  modules: Record<string, string>
}

export interface FolderOptions {
  /** the workflow document @default <root>/workflow.json */
  file?: string
  /** check `pl-manifest.json` when present @default true */
  verifyManifest?: boolean
  maxRouterIterations?: number
  signal?: AbortSignal
}

export interface LoadedFolder {
  dag: TaskDag
  doc: WorkflowDoc
  manifest: BundleManifest
  manifestCid: string
  modules: Record<string, ModuleSpec>
}

const within = (root: string, p: string): boolean => p === root || p.startsWith(root.endsWith(sep) ? root : root + sep)

/** Reads a JSON document with a size limit; WorkflowNotFoundError / WorkflowParseError. */
export async function readWorkflowDoc (file: string): Promise<unknown> {
  let bytes: Buffer
  try {
    const st = await stat(file)
    if (!st.isFile()) throw new WorkflowNotFoundError(`${file} is not a file`, { path: file })
    if (st.size > MAX_DOCUMENT_BYTES) throw new WorkflowParseError(`${file} is too large (${st.size} > ${MAX_DOCUMENT_BYTES} bytes)`, { path: file })
    bytes = await readFile(file)
  } catch (err: any) {
    if (err?.code === 'ENOENT' || err?.code === 'ENOTDIR') throw new WorkflowNotFoundError(`no ${WORKFLOW_FILE} at ${file}`, { path: file })
    throw err
  }
  try {
    return JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    throw new WorkflowParseError(`${file} is not valid JSON: ${(err as Error).message}`, { path: file })
  }
}

/** The module folder of `key`, resolved and checked to stay inside `root`. */
async function moduleFolder (root: string, realRoot: string, key: string, codePath: string | undefined): Promise<string> {
  const rel = codePath ?? `module_${key}`
  const escape = (why: string): never => {
    throw new CodePathEscapeError(`module '${key}': codePath ${JSON.stringify(rel)} ${why}; module folders must be inside the bundle (${root})`, { key, codePath: rel })
  }
  if (rel.includes('\0')) escape('contains a NUL character')
  if (isAbsolute(rel) || /^[A-Za-z]:/.test(rel)) escape('is an absolute path')
  const candidate = resolve(root, rel)
  const r = relative(root, candidate)
  if (r === '..' || r.startsWith('..' + sep) || isAbsolute(r)) escape('leaves the bundle')
  try {
    await lstat(candidate)
  } catch (err: any) {
    if (err?.code === 'ENOENT' || err?.code === 'ENOTDIR') {
      throw new ModuleFolderMissingError(`module '${key}': folder ${rel} does not exist in ${root}`, { key, dir: candidate })
    }
    throw err
  }
  const real = await realpath(candidate)
  if (!within(realRoot, real)) escape('leads outside the bundle through a symlink')
  if (!(await lstat(real)).isDirectory()) throw new ModuleFolderMissingError(`module '${key}': ${rel} in ${root} is not a folder`, { key, dir: candidate })
  const names = await readdir(real)
  if (!MODULE_ENTRIES.some(e => names.includes(e))) {
    throw new ModuleEntryMissingError(`module '${key}': folder ${rel} has none of ${MODULE_ENTRIES.join(', ')}`, { key, dir: real })
  }
  return real
}

async function checkManifest (root: string, expected: BundleManifest): Promise<void> {
  const file = join(root, MANIFEST_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err: any) {
    if (err?.code === 'ENOENT') return
    throw err
  }
  let stored: unknown
  try { stored = decodeJson(text.trim()) } catch { throw new ManifestMismatchError(`${MANIFEST_FILE} in ${root} is not valid JSON`, { path: file }) }
  const s = stored as Partial<BundleManifest> | null
  if (s == null || typeof s !== 'object' || typeof s.workflow !== 'string' || s.modules == null || typeof s.modules !== 'object') {
    throw new ManifestMismatchError(`${MANIFEST_FILE} in ${root} is not {workflow, modules}`, { path: file })
  }
  if (s.workflow !== expected.workflow) {
    throw new ManifestMismatchError(`${WORKFLOW_FILE} in ${root} does not match ${MANIFEST_FILE}: it hashes to ${expected.workflow}, the manifest pins ${s.workflow}`, { expected: s.workflow, actual: expected.workflow })
  }
  const keys = new Set([...Object.keys(s.modules), ...Object.keys(expected.modules)])
  for (const key of [...keys].sort()) {
    const pinned = (s.modules as Record<string, unknown>)[key]
    const actual = expected.modules[key]
    if (pinned !== actual) {
      throw new ManifestMismatchError(pinned == null
        ? `module '${key}' is not pinned by ${MANIFEST_FILE}`
        : actual == null
          ? `${MANIFEST_FILE} pins module '${key}', which the workflow does not have`
          : `module '${key}' does not match ${MANIFEST_FILE}: its folder hashes to ${actual}, the manifest pins ${String(pinned)}`, { key, expected: pinned ?? null, actual: actual ?? null })
    }
  }
}

/** Loads the workflow folder at `root` (see the file comment). */
export async function loadFolder (root: string, options: FolderOptions = {}): Promise<LoadedFolder> {
  const abs = resolve(root)
  const doc = await readWorkflowDoc(options.file ?? join(abs, WORKFLOW_FILE))
  checkWorkflowSchema(doc)
  checkWorkflowGraph(doc)
  const realRoot = await realpath(abs)
  const modules: Record<string, ModuleSpec> = {}
  for (const [key, m] of Object.entries(doc.modules)) {
    options.signal?.throwIfAborted()
    const dir = await moduleFolder(abs, realRoot, key, m.codePath)
    const spec = await moduleSpecOf(key, dir, m.className != null ? { className: m.className } : {})
    // what the module asks of the sandbox; the pool grants it only where the operator allows (SandboxGrantRefusedError otherwise)
    modules[key] = m.permissions != null && m.permissions.length > 0 ? { ...spec, permissions: [...new Set(m.permissions)].sort() } : spec
  }
  const manifest: BundleManifest = {
    workflow: cidStringOf(doc),
    modules: Object.fromEntries(Object.entries(modules).map(([k, s]) => [k, s.cid]))
  }
  if (options.verifyManifest !== false) await checkManifest(abs, manifest)
  const manifestCid = cidStringOf(manifest)
  const dag = compileWorkflowJson(doc, modules, { maxRouterIterations: options.maxRouterIterations, sourceCid: manifestCid })
  return { dag, doc, manifest, manifestCid, modules }
}
