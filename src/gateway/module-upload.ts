/**
 * Modules uploaded with `POST /capabilities`: a ZIP of a module folder or a
 * single entry file (`function.mjs`, `function.js`, `function.py`), stored
 * content-addressed in the node's block store (raw CID of the uploaded
 * bytes) and unpacked under `<dataDir>/uploaded-modules/<CID>` — never a path
 * the caller chose. ZIPs go through the bundle reader's checks (no absolute
 * paths, `..`, symlinks, special files, duplicate entries; sizes checked
 * before inflating) with tighter limits. The folder must hold an entry file
 * at its root (ModuleFolderError otherwise). Uploads have a quota
 * (MAX_UPLOADED_MODULES folders, MAX_UPLOADED_MODULES_BYTES in all); folders
 * no published capability uses are swept (`sweepUploadedModules`).
 *
 * @example
 * const dir = await installUploadedModule({ zip: b64 }, { dataDir, blocks })
 * await discovery.publish(descriptor, { dir, confined: true })
 */
import { randomBytes } from 'node:crypto'
import { lstat, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cidOfBytes, RAW } from '../core/encoding.js'
import { folderCid, MODULE_ENTRIES, moduleSpecOf, type ModuleSpec } from '../core/index.js'
import { unpackBundle } from '../workflow/index.js'
import { InvalidModuleUploadError, ModuleUploadRefusedError, UploadQuotaExceededError } from './errors.js'

/** Largest uploaded ZIP or file (bytes, before base64). @default 2 MiB */
export const MAX_MODULE_UPLOAD_BYTES = 2 * 2 ** 20
/** Largest total size an uploaded ZIP unpacks to. @default 16 MiB */
export const MAX_MODULE_UNPACKED_BYTES = 16 * 2 ** 20
/** Most entries (files and folders) an uploaded ZIP may hold. @default 256 */
export const MAX_MODULE_ENTRIES = 256
/** Folder (under the data dir) of unpacked uploads. */
export const UPLOADED_MODULES_DIR = 'uploaded-modules'
/** Most uploaded module folders kept at once (a new one past it first sweeps those no capability uses). @default 256 */
export const MAX_UPLOADED_MODULES = 256
/** Most bytes all uploaded module folders may hold together. @default 512 MiB */
export const MAX_UPLOADED_MODULES_BYTES = 512 * 2 ** 20

export type ModuleUpload = { zip: string, file?: undefined } | { file: string, content: string, zip?: undefined }

export interface UploadDeps {
  dataDir: string
  blocks: { putBytes: (cid: string, bytes: Uint8Array) => Promise<void> }
  /** module folders published capabilities use (never swept) @default none: every folder counts as used */
  inUse?: () => Iterable<string>
  /** @default { modules: MAX_UPLOADED_MODULES, bytes: MAX_UPLOADED_MODULES_BYTES } */
  quota?: { modules?: number, bytes?: number }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/** Base64 text → bytes; a typed error for anything else, an empty or an oversized upload. */
export function decodeUpload (text: string, what: string): Uint8Array {
  const clean = text.replace(/\s+/g, '')
  if (clean.length % 4 !== 0 || !BASE64.test(clean)) throw new InvalidModuleUploadError(`${what} is not base64`, { field: what })
  const bytes = new Uint8Array(Buffer.from(clean, 'base64'))
  if (bytes.length === 0) throw new InvalidModuleUploadError(`${what} is empty`, { field: what })
  if (bytes.length > MAX_MODULE_UPLOAD_BYTES) throw new InvalidModuleUploadError(`${what} has ${bytes.length} bytes, over the limit of ${MAX_MODULE_UPLOAD_BYTES}`, { field: what, bytes: bytes.length, limit: MAX_MODULE_UPLOAD_BYTES })
  return bytes
}

async function exists (p: string): Promise<boolean> {
  return await stat(p).then(() => true, () => false)
}

/** Bytes of the files below `dir` (symlinks are not followed; uploads hold none). */
async function bytesOf (dir: string): Promise<number> {
  let total = 0
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (e.isFile()) total += (await lstat(join(e.parentPath, e.name)).catch(() => ({ size: 0 }))).size
  }
  return total
}

/** The upload folders (temp folders of an upload in progress excluded) and their sizes. */
async function usage (root: string): Promise<Array<{ dir: string, bytes: number }>> {
  const out: Array<{ dir: string, bytes: number }> = []
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (name.startsWith('.tmp-')) continue
    out.push({ dir: join(root, name), bytes: await bytesOf(join(root, name)) })
  }
  return out
}

/** An unused upload folder younger than this is kept by a sweep: it may belong to a publish in progress. @default 10 min */
export const UPLOAD_SWEEP_GRACE_MS = 10 * 60_000

/**
 * Removes the upload folders no published capability uses (`inUse`): with
 * `only`, just those folders (the ones an unpublish released); otherwise
 * every unused one older than `minAgeMs` (a publish in progress holds a
 * folder it has not bound yet), and with `temps` the temp folders of uploads
 * a crash interrupted (`.tmp-*`, whatever their age: only at start). Answers the folders removed. Run at
 * gateway start, after an unpublish and when a new upload would pass the quota.
 */
export async function sweepUploadedModules (dataDir: string, inUse: Iterable<string>, options: { only?: Iterable<string>, temps?: boolean, minAgeMs?: number, now?: number } = {}): Promise<string[]> {
  const root = join(dataDir, UPLOADED_MODULES_DIR)
  const used = new Set(inUse)
  const only = options.only != null ? new Set(options.only) : undefined
  // compared with file times, which are wall-clock
  const before = (options.now ?? Date.now()) - (options.minAgeMs ?? UPLOAD_SWEEP_GRACE_MS)
  const removed: string[] = []
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const dir = join(root, name)
    if (name.startsWith('.tmp-')) {
      // only at start: then every temp folder is a crash's leftover, whatever its age
      if (options.temps !== true) continue
    } else if (used.has(dir) || (only != null ? !only.has(dir) : ((await stat(dir).catch(() => undefined))?.mtimeMs ?? 0) > before)) {
      continue
    }
    await rm(dir, { recursive: true, force: true })
    removed.push(dir)
  }
  return removed
}

/** Refuses a new folder of `bytes` when the uploads would pass the quota, after sweeping unused ones once. */
async function checkQuota (root: string, bytes: number, deps: UploadDeps): Promise<void> {
  const maxModules = deps.quota?.modules ?? MAX_UPLOADED_MODULES
  const maxBytes = deps.quota?.bytes ?? MAX_UPLOADED_MODULES_BYTES
  const over = (u: Array<{ bytes: number }>): boolean => u.length + 1 > maxModules || u.reduce((s, x) => s + x.bytes, 0) + bytes > maxBytes
  let u = await usage(root)
  if (!over(u)) return
  if (deps.inUse != null) {
    await sweepUploadedModules(deps.dataDir, deps.inUse())
    u = await usage(root)
    if (!over(u)) return
  }
  const held = u.reduce((s, x) => s + x.bytes, 0)
  throw new UploadQuotaExceededError(`this node holds ${u.length} uploaded modules (${held} bytes) in use by published capabilities; one more of ${bytes} bytes passes its quota of ${maxModules} modules / ${maxBytes} bytes: unpublish capabilities (DELETE /capabilities/<id>) first`, { modules: u.length, bytes: held, upload: bytes, maxModules, maxBytes })
}

/**
 * Stores and unpacks an upload; answers the module folder's spec (its entry,
 * kind and folder CID). The same bytes always land in the same folder; a
 * folder found there with other content (edited on disk) is replaced.
 */
export async function installUploadedModule (upload: ModuleUpload, key: string, deps: UploadDeps, options: { className?: string, python?: boolean } = {}): Promise<ModuleSpec> {
  const isZip = upload.zip != null
  if (!isZip && !(MODULE_ENTRIES as readonly string[]).includes(upload.file)) {
    throw new InvalidModuleUploadError(`an uploaded file must be named ${MODULE_ENTRIES.join(', ')} (got ${JSON.stringify(upload.file)}); upload a ZIP for a module of several files`, { file: upload.file })
  }
  const bytes = decodeUpload(isZip ? upload.zip : upload.content, isZip ? 'impl.upload.zip' : 'impl.upload.content')
  const cid = cidOfBytes(bytes, RAW).toString()
  const root = join(deps.dataDir, UPLOADED_MODULES_DIR)
  const target = join(root, isZip ? cid : `${cid}-${upload.file}`)
  const temp = join(root, `.tmp-${randomBytes(6).toString('hex')}`)
  await mkdir(root, { recursive: true })
  try {
    if (isZip) {
      await unpackBundle(bytes, temp, { maxEntries: MAX_MODULE_ENTRIES, maxUnpackedBytes: MAX_MODULE_UNPACKED_BYTES, maxEntryBytes: MAX_MODULE_UNPACKED_BYTES })
    } else {
      await mkdir(temp)
      await writeFile(join(temp, upload.file), bytes, { flag: 'wx' })
    }
    // checks the entry file (and a Python class) before anything is kept
    const spec = await moduleSpecOf(key, temp, { className: options.className })
    if (spec.kind === 'py' && options.python !== true) throw new ModuleUploadRefusedError('this gateway takes no Python modules (api.publishPython is off: Python steps run without a filesystem sandbox); upload a JS module (function.mjs) or ask the operator', { kind: 'py' })
    if (!await exists(target)) await checkQuota(root, await bytesOf(temp), deps)
    await deps.blocks.putBytes(cid, bytes)
    if (await exists(target)) {
      const same = await folderCid(target).catch(() => undefined) === await folderCid(temp)
      if (same) await rm(temp, { recursive: true, force: true })
      else {
        await rm(target, { recursive: true, force: true })
        await rename(temp, target)
      }
    } else {
      await rename(temp, target)
    }
  } catch (err) {
    await rm(temp, { recursive: true, force: true })
    throw err
  }
  return await moduleSpecOf(key, target, { className: options.className })
}
