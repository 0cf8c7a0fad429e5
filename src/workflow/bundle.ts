/**
 * Bundles: a workflow folder (`workflow.json` + `module_<key>/` folders) as
 * one deterministic ZIP, and back. Packing sorts entries, leaves directories
 * implicit, fixes every timestamp at 1980-01-01 00:00 and writes no extra
 * attributes, so the same folder always gives the same bytes (and CID). The
 * manifest `pl-manifest.json` pins the workflow document and every module
 * folder by CID; loading verifies it.
 */
import { readFileSync } from 'node:fs'
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { zipSync } from 'fflate'
import { encodeJson } from '../core/encoding.js'
import { DEFAULT_MAX_UNPACKED_BYTES, MANIFEST_FILE, WORKFLOW_FILE } from './constants.js'
import { BundleSymlinkError, UnpackTargetError, UnsafeZipPathError, WorkflowNotFoundError, ZipTooLargeError } from './errors.js'
import { listZip, readZipEntry, type ZipLimits } from './zip-read.js'
import type { BundleManifest } from './folder.js'
import { loadFolder } from './folder.js'

/** Names left out of bundles, as they are left out of module CIDs (src/core/module.ts). */
const IGNORED = new Set(['__pycache__', 'node_modules', '.git', '.DS_Store'])
/** Every entry's DOS timestamp: 1980-01-01 00:00 local time, the earliest ZIP can say. */
const FIXED_MTIME = new Date(1980, 0, 1, 0, 0, 0)

/** Files of a bundle folder as sorted `/` paths; symlinks and special files are refused. */
async function bundleFiles (root: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (d: string): Promise<void> => {
    for (const name of (await readdir(d)).sort()) {
      if (IGNORED.has(name)) continue
      const p = join(d, name)
      const rel = relative(root, p).split(sep).join('/')
      const st = await lstat(p)
      if (st.isSymbolicLink()) throw new BundleSymlinkError(`cannot pack ${root}: ${rel} is a symlink (bundles hold regular files only)`, { path: rel })
      if (st.isDirectory()) await walk(p)
      else if (st.isFile()) out.push(rel)
      else throw new BundleSymlinkError(`cannot pack ${root}: ${rel} is not a regular file`, { path: rel })
    }
  }
  await walk(root)
  return out.sort()
}

/** The manifest's bytes: canonical dag-json (sorted keys), one line. */
export function manifestBytes (manifest: BundleManifest): Uint8Array {
  return encodeJson(manifest)
}


/**
 * Packs a workflow folder into a deterministic ZIP with a fresh manifest.
 * The folder is checked first (it must load), so a broken bundle is never written.
 * @example await writeFile('wf.zip', await packBundle('examples/diamond'))
 */
export async function packBundle (dir: string): Promise<Uint8Array> {
  const root = resolve(dir)
  let st
  try { st = await lstat(root) } catch { throw new WorkflowNotFoundError(`cannot pack ${root}: no such folder`, { path: root }) }
  if (!st.isDirectory()) throw new WorkflowNotFoundError(`cannot pack ${root}: not a folder`, { path: root })
  const loaded = await loadFolder(root, { verifyManifest: false })
  const files = (await bundleFiles(root)).filter(f => f !== MANIFEST_FILE)
  if (!files.includes(WORKFLOW_FILE)) throw new WorkflowNotFoundError(`cannot pack ${root}: no ${WORKFLOW_FILE}`, { path: root })
  const entries: Record<string, Uint8Array> = {}
  for (const rel of [...files, MANIFEST_FILE].sort()) {
    entries[rel] = rel === MANIFEST_FILE ? manifestBytes(loaded.manifest) : new Uint8Array(await readFile(join(root, ...rel.split('/'))))
  }
  return zipSync(entries, { level: 6, mtime: FIXED_MTIME })
}

/**
 * Unpacks a bundle into `targetDir`, which must be missing or empty. All
 * entries are checked before the first byte is written; on any failure the
 * target is left as it was found.
 */
export async function unpackBundle (zip: Uint8Array, targetDir: string, limits: ZipLimits = {}): Promise<void> {
  const entries = listZip(zip, limits)
  const target = resolve(targetDir)
  let created = false
  try {
    const st = await lstat(target)
    if (!st.isDirectory()) throw new UnpackTargetError(`cannot unpack into ${target}: not a folder`, { path: target })
    if ((await readdir(target)).length > 0) throw new UnpackTargetError(`cannot unpack into ${target}: the folder is not empty`, { path: target })
  } catch (err: any) {
    if (err?.code !== 'ENOENT') throw err
    await mkdir(target, { recursive: true })
    created = true
  }
  const maxTotal = limits.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES
  let written = 0
  try {
    for (const e of entries) {
      const dest = resolve(target, ...e.name.replace(/\/$/, '').split('/'))
      // checkEntryName already refused escapes; this guards against any gap in it
      if (dest !== target && !dest.startsWith(target + sep)) throw new UnsafeZipPathError(`bundle entry ${JSON.stringify(e.name)} resolves outside ${target}`, { entry: e.name })
      if (e.dir) {
        await mkdir(dest, { recursive: true })
        continue
      }
      const data = readZipEntry(zip, e)
      written += data.length
      if (written > maxTotal) throw new ZipTooLargeError(`bundle unpacks to more than ${maxTotal} bytes (limit)`, { limit: maxTotal })
      await mkdir(dirname(dest), { recursive: true })
      await writeFile(dest, data, { flag: 'wx' })
    }
  } catch (err) {
    if (created) await rm(target, { recursive: true, force: true })
    else for (const name of await readdir(target)) await rm(join(target, name), { recursive: true, force: true })
    throw err
  }
}

/** Temp folders of unpacked ZIP bundles: `pl-bundle-<owner pid>.<owner start time>-XXXXXX` in the temp dir. */
export const BUNDLE_TEMP_PREFIX = 'pl-bundle-'
const OWNED_TEMP = /^pl-bundle-(\d+)\.(\d+)-[A-Za-z0-9]{6}$/

/** A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat); undefined if it is gone. */
function startTime (pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

/**
 * A fresh temp folder for an unpacked bundle, named after this process (pid
 * and start time, so a reused pid is not mistaken for it): a later
 * `sweepBundleTemps` removes it if this process dies without cleaning up.
 */
export async function makeBundleTemp (dir: string = tmpdir()): Promise<string> {
  return await mkdtemp(join(dir, `${BUNDLE_TEMP_PREFIX}${process.pid}.${startTime('self') ?? '0'}-`))
}

/**
 * Removes bundle temp folders whose owner process is gone (a node that was
 * SIGKILLed mid-run). Folders of live processes, and folders not named by
 * `makeBundleTemp`, are left alone. Returns the folders removed.
 */
export async function sweepBundleTemps (dir: string = tmpdir()): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const removed: string[] = []
  for (const name of names) {
    const m = OWNED_TEMP.exec(name)
    if (m == null) continue
    const pid = Number(m[1])
    if (startTime(pid) === m[2]) continue // the owner is alive
    const path = join(dir, name)
    await rm(path, { recursive: true, force: true })
    removed.push(path)
  }
  return removed
}
