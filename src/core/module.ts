/**
 * Module folders: the unit of installed code. A module is a folder holding
 * `function.mjs`, `function.js` or `function.py` (plus whatever it imports).
 * Its CID pins every file in it, so a plan or a capability can name exactly
 * the code it ran.
 *
 * @example
 * const spec = await moduleSpecOf('inc', '/path/module_inc')
 * spec.cid   // 'bafyrei...' — changes when any file of the folder changes
 * spec.kind  // 'py'
 */
import { lstat, readdir, readFile } from 'node:fs/promises'
import { join, relative, resolve, sep } from 'node:path'
import { cidOfBytes, cidStringOf, RAW } from './encoding.js'
import { ModuleFolderError } from './errors.js'

export interface ModuleSpec {
  /** module key (workflow.json) or capability name */
  key: string
  /** absolute path of the module folder ('' for an external implementation) */
  dir: string
  /** CID of the folder (pins the code), or of the ExternalImpl document */
  cid: string
  kind: 'js' | 'py' | 'external'
  /** absolute path of function.mjs | function.js | function.py ('' for an external implementation) */
  entry: string
  /** Python: the class to instantiate when function.py defines several */
  className?: string
  /** JS: sandbox permissions the module asks for (granted only where the operator allows: docs/EXECUTOR.md, Sandbox) */
  permissions?: SandboxPermission[]
  /** kind 'external': who serves the step (docs/EXECUTOR.md, External implementations) */
  external?: ExternalImpl
  /**
   * Code a network caller supplied (a module uploaded through the gateway, or
   * one re-published under another name): always the sandbox, never
   * `isolation: thread`, whatever the operator's defaults and trust lists say.
   */
  confined?: boolean
}

/**
 * A capability implemented outside this node's module pools: an A2A agent, an
 * MCP tool, a process attached to the gateway... `kind` names the runner
 * registered for it (src/exec/external.ts), `target` what that runner calls
 * (an agent card URL, an MCP server command, an attached client id),
 * `options` the runner's own settings (an A2A skill id, an MCP tool name).
 */
export interface ExternalImpl {
  kind: string
  target: string
  options?: Record<string, string | number | boolean>
}

/** Longest external kind / target / option value accepted (they end up in receipts). */
export const MAX_EXTERNAL_KIND = 32
export const MAX_EXTERNAL_TARGET = 2048

/** Checks an ExternalImpl given by a caller (config, control API); throws ModuleFolderError naming the field. */
export function checkExternalImpl (impl: unknown): ExternalImpl {
  const bad = (msg: string): never => { throw new ModuleFolderError(`external implementation: ${msg}`, { impl }) }
  if (impl == null || typeof impl !== 'object' || Array.isArray(impl)) return bad('must be {kind, target, options?}')
  const { kind, target, options, ...rest } = impl as Record<string, unknown>
  if (Object.keys(rest).length > 0) bad(`unknown field ${Object.keys(rest)[0]}`)
  if (typeof kind !== 'string' || !/^[a-z][a-z0-9-]*$/.test(kind) || kind.length > MAX_EXTERNAL_KIND) bad(`kind must be a lower-case name of at most ${MAX_EXTERNAL_KIND} characters (a2a, mcp, attached...)`)
  if (typeof target !== 'string' || target === '' || target.length > MAX_EXTERNAL_TARGET) bad(`target must be a non-empty string of at most ${MAX_EXTERNAL_TARGET} characters`)
  if (options != null) {
    if (typeof options !== 'object' || Array.isArray(options)) bad('options must be a mapping')
    for (const [k, v] of Object.entries(options)) {
      if (!['string', 'number', 'boolean'].includes(typeof v)) bad(`options.${k} must be a string, number or boolean`)
      if (typeof v === 'string' && v.length > MAX_EXTERNAL_TARGET) bad(`options.${k} is longer than ${MAX_EXTERNAL_TARGET} characters`)
    }
  }
  const out: ExternalImpl = { kind: kind as string, target: target as string }
  if (options != null && Object.keys(options).length > 0) out.options = { ...(options as Record<string, string | number | boolean>) }
  return out
}

/** The module spec of an external implementation: its CID pins the {kind, target, options} document. */
export function externalModuleSpec (key: string, impl: ExternalImpl): ModuleSpec {
  const external = checkExternalImpl(impl)
  return { key, dir: '', cid: cidStringOf({ external }), kind: 'external', entry: '', external }
}

/** What a sandboxed JS module may be allowed beyond its folder and temp folder. */
export type SandboxPermission = 'child-process' | 'worker' | 'addons' | 'wasi'
export const SANDBOX_PERMISSIONS: readonly unknown[] = ['child-process', 'worker', 'addons', 'wasi'] satisfies SandboxPermission[]

/** Entry files in the order they are looked for. */
export const MODULE_ENTRIES = ['function.mjs', 'function.js', 'function.py'] as const

/** Folders never part of a module's identity (caches a run may leave behind). */
const IGNORED = new Set(['__pycache__', 'node_modules', '.git', '.DS_Store'])

/** Files of a folder as sorted, `/`-separated relative paths. Refuses symlinks and special files. */
export async function listModuleFiles (dir: string): Promise<string[]> {
  const root = resolve(dir)
  const out: string[] = []
  async function walk (d: string): Promise<void> {
    const names = (await readdir(d)).sort()
    for (const name of names) {
      if (IGNORED.has(name)) continue
      const p = join(d, name)
      const st = await lstat(p)
      const rel = relative(root, p).split(sep).join('/')
      if (st.isSymbolicLink()) throw new ModuleFolderError(`module folder ${root} contains a symlink: ${rel}`, { dir: root, path: rel })
      if (st.isDirectory()) await walk(p)
      else if (st.isFile()) out.push(rel)
      else throw new ModuleFolderError(`module folder ${root} contains a special file: ${rel}`, { dir: root, path: rel })
    }
  }
  try {
    const st = await lstat(root)
    if (!st.isDirectory()) throw new ModuleFolderError(`module folder ${root} is not a directory`, { dir: root })
  } catch (err: any) {
    if (err?.code === 'ENOENT') throw new ModuleFolderError(`module folder ${root} does not exist`, { dir: root })
    throw err
  }
  await walk(root)
  return out.sort()
}

/** CID of a module folder: dag-cbor of `{files: [[path, raw CID of bytes], ...]}` with paths sorted. */
export async function folderCid (dir: string): Promise<string> {
  const files = await listModuleFiles(dir)
  const entries: Array<[string, string]> = []
  for (const rel of files) {
    const bytes = await readFile(join(dir, ...rel.split('/')))
    entries.push([rel, cidOfBytes(bytes, RAW).toString()])
  }
  return cidStringOf({ files: entries })
}

/** Top-level `class Name` definitions of a Python source. */
export function pythonClasses (source: string): string[] {
  return [...source.matchAll(/^class\s+([A-Za-z_]\w*)\s*[(:]/gm)].map(m => m[1])
}

/** Describe the module in `dir`: its entry file, language, Python class, and folder CID. */
export async function moduleSpecOf (key: string, dir: string, options: { className?: string } = {}): Promise<ModuleSpec> {
  const abs = resolve(dir)
  const files = await listModuleFiles(abs)
  const entryName = MODULE_ENTRIES.find(e => files.includes(e))
  if (entryName == null) {
    throw new ModuleFolderError(`module '${key}': folder ${abs} has none of ${MODULE_ENTRIES.join(', ')}`, { key, dir: abs })
  }
  const entry = join(abs, entryName)
  const kind = entryName.endsWith('.py') ? 'py' : 'js'
  let className = options.className
  if (kind === 'py') {
    const classes = pythonClasses(await readFile(entry, 'utf8'))
    if (className != null) {
      if (!classes.includes(className)) throw new ModuleFolderError(`module '${key}': function.py defines no class ${className} (found: ${classes.join(', ') || 'none'})`, { key, dir: abs, className })
    } else if (classes.length === 1) {
      className = classes[0]
    } else {
      throw new ModuleFolderError(classes.length === 0
        ? `module '${key}': function.py defines no top-level class`
        : `module '${key}': function.py defines several classes (${classes.join(', ')}); name one with className`, { key, dir: abs, classes })
    }
  }
  const cid = await folderCid(abs)
  return className != null ? { key, dir: abs, cid, kind, entry, className } : { key, dir: abs, cid, kind, entry }
}
