/**
 * A small, strict ZIP reader for bundles. It trusts nothing in the archive:
 * every entry name is checked (no absolute paths, `..`, backslashes, drive
 * letters, control characters), symlink and special entries are refused,
 * declared sizes are checked against the limits BEFORE anything is inflated,
 * and inflation is capped at the declared size, so an entry that lies about
 * its size (a zip bomb) is caught while inflating, not after.
 */
import { crc32, inflateRawSync } from 'node:zlib'
import { DEFAULT_MAX_ENTRY_BYTES, DEFAULT_MAX_UNPACKED_BYTES, MAX_ZIP_ENTRIES } from './constants.js'
import {
  UnsafeZipPathError, ZipDuplicateEntryError, ZipEntryTooLargeError, ZipFormatError, ZipSizeMismatchError, ZipSymlinkError, ZipTooLargeError
} from './errors.js'

export interface ZipLimits {
  /** largest unpacked entry @default 64 MiB */
  maxEntryBytes?: number
  /** largest total unpacked size @default 256 MiB */
  maxUnpackedBytes?: number
  /** most entries (files and folders) @default MAX_ZIP_ENTRIES (10 000) */
  maxEntries?: number
}

export interface ZipEntry {
  /** the checked, `/`-separated relative path (directories end in `/`) */
  name: string
  dir: boolean
  method: 0 | 8
  crc: number
  compressedSize: number
  size: number
  /** offset of the compressed bytes in the archive */
  dataOffset: number
}

const EOCD = 0x06054b50
const CENTRAL = 0x02014b50
const LOCAL = 0x04034b50
const S_IFMT = 0o170000
const S_IFLNK = 0o120000
const S_IFREG = 0o100000
const S_IFDIR = 0o040000
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Refuses names that could land outside the target folder or mean something odd on some OS. */
export function checkEntryName (name: string): void {
  const refuse = (why: string): never => { throw new UnsafeZipPathError(`bundle entry ${JSON.stringify(name)} is refused: ${why}`, { entry: name }) }
  if (name.length === 0) refuse('empty name')
  if (name.length > 1024) refuse('name longer than 1024 characters')
  if (name.includes('\\')) refuse('it contains a backslash (a Windows path separator)')
  if (/[\x00-\x1f\x7f]/.test(name)) refuse('it contains control characters')
  if (name.startsWith('/')) refuse('absolute path')
  if (/^[A-Za-z]:/.test(name)) refuse('it starts with a drive letter')
  const parts = (name.endsWith('/') ? name.slice(0, -1) : name).split('/')
  if (parts.includes('..')) refuse('it escapes the target folder (..)')
  if (parts.some(p => p === '' || p === '.')) refuse('empty or "." path segment')
}

function u16 (b: Uint8Array, o: number): number { return b[o] | (b[o + 1] << 8) }
function u32 (b: Uint8Array, o: number): number { return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0 }

/** Lists and checks every entry of a ZIP (nothing is inflated). */
export function listZip (zip: Uint8Array, limits: ZipLimits = {}): ZipEntry[] {
  const maxEntry = limits.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES
  const maxTotal = limits.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES
  const bad = (why: string): never => { throw new ZipFormatError(`not a valid bundle ZIP: ${why}`) }
  if (!(zip instanceof Uint8Array)) bad('expected bytes')
  if (zip.length < 22) bad('too short to be a ZIP')
  // the end-of-central-directory record is in the last 22 + 65535 bytes
  let eocd = -1
  for (let o = zip.length - 22; o >= Math.max(0, zip.length - 22 - 65535); o--) {
    if (u32(zip, o) === EOCD && o + 22 + u16(zip, o + 20) === zip.length) { eocd = o; break }
  }
  if (eocd < 0) bad('no end-of-central-directory record')
  if (u16(zip, eocd + 4) !== 0 || u16(zip, eocd + 6) !== 0) bad('multi-disk archives are not supported')
  const count = u16(zip, eocd + 10)
  const cdSize = u32(zip, eocd + 12)
  const cdOffset = u32(zip, eocd + 16)
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) bad('ZIP64 archives are not supported')
  if (u16(zip, eocd + 8) !== count) bad('entry counts disagree')
  const maxEntries = Math.min(limits.maxEntries ?? MAX_ZIP_ENTRIES, MAX_ZIP_ENTRIES)
  if (count > maxEntries) throw new ZipTooLargeError(`bundle has ${count} entries, more than the limit of ${maxEntries}`, { entries: count, limit: maxEntries })
  if (cdOffset + cdSize > eocd) bad('central directory out of bounds')

  const entries: ZipEntry[] = []
  const names = new Set<string>()
  let total = 0
  let o = cdOffset
  for (let i = 0; i < count; i++) {
    if (o + 46 > eocd || u32(zip, o) !== CENTRAL) bad(`central directory entry ${i} is damaged`)
    const madeBy = u16(zip, o + 4)
    const flags = u16(zip, o + 8)
    const method = u16(zip, o + 10)
    const crc = u32(zip, o + 16)
    const compressedSize = u32(zip, o + 20)
    const size = u32(zip, o + 24)
    const nameLen = u16(zip, o + 28)
    const extraLen = u16(zip, o + 30)
    const commentLen = u16(zip, o + 32)
    const external = u32(zip, o + 38)
    const localOffset = u32(zip, o + 42)
    if (o + 46 + nameLen + extraLen + commentLen > eocd) bad(`central directory entry ${i} is truncated`)
    const rawName = zip.subarray(o + 46, o + 46 + nameLen)
    o += 46 + nameLen + extraLen + commentLen
    let name: string
    try { name = utf8.decode(rawName) } catch { throw new UnsafeZipPathError(`bundle entry ${i} has a name that is not UTF-8`, { index: i }) }
    checkEntryName(name)
    const mode = (madeBy >> 8) === 3 ? (external >>> 16) & S_IFMT : 0
    if (mode === S_IFLNK) throw new ZipSymlinkError(`bundle entry ${JSON.stringify(name)} is a symlink; bundles hold regular files only`, { entry: name })
    if (mode !== 0 && mode !== S_IFREG && mode !== S_IFDIR) bad(`entry ${JSON.stringify(name)} is a special file (mode 0o${mode.toString(8)})`)
    if ((flags & 1) !== 0) bad(`entry ${JSON.stringify(name)} is encrypted`)
    if (method !== 0 && method !== 8) bad(`entry ${JSON.stringify(name)} uses compression method ${method} (only stored and deflate)`)
    if (compressedSize === 0xffffffff || size === 0xffffffff) bad('ZIP64 entries are not supported')
    const dir = name.endsWith('/') || mode === S_IFDIR
    if (dir && size !== 0) bad(`directory entry ${JSON.stringify(name)} has content`)
    const key = dir && !name.endsWith('/') ? name + '/' : name
    if (names.has(key)) throw new ZipDuplicateEntryError(`bundle has two entries named ${JSON.stringify(name)}`, { entry: name })
    names.add(key)
    if (size > maxEntry) throw new ZipEntryTooLargeError(`bundle entry ${JSON.stringify(name)} unpacks to ${size} bytes, over the limit of ${maxEntry}`, { entry: name, size, limit: maxEntry })
    total += size
    if (total > maxTotal) throw new ZipTooLargeError(`bundle unpacks to more than ${maxTotal} bytes (limit); refused before inflating`, { limit: maxTotal })
    // the local header must agree with the central directory
    if (localOffset + 30 > cdOffset || u32(zip, localOffset) !== LOCAL) bad(`local header of ${JSON.stringify(name)} is missing`)
    const lNameLen = u16(zip, localOffset + 26)
    const lExtraLen = u16(zip, localOffset + 28)
    const lName = zip.subarray(localOffset + 30, localOffset + 30 + lNameLen)
    if (lNameLen !== nameLen || !lName.every((b, j) => b === rawName[j])) bad(`local and central names of ${JSON.stringify(name)} differ`)
    if (u16(zip, localOffset + 8) !== method) bad(`local and central methods of ${JSON.stringify(name)} differ`)
    const dataOffset = localOffset + 30 + lNameLen + lExtraLen
    if (dataOffset + compressedSize > cdOffset) bad(`data of ${JSON.stringify(name)} runs past the central directory`)
    entries.push({ name: key, dir, method: method as 0 | 8, crc, compressedSize, size, dataOffset })
  }
  // a file and a folder of the same name cannot both exist
  for (const e of entries) {
    const parts = e.name.replace(/\/$/, '').split('/')
    for (let j = 1; j < parts.length; j++) {
      const prefix = parts.slice(0, j).join('/')
      if (names.has(prefix)) throw new ZipDuplicateEntryError(`bundle entry ${JSON.stringify(prefix)} is a file and also the folder of ${JSON.stringify(e.name)}`, { entry: prefix })
    }
  }
  return entries
}

/** The bytes of one listed entry, inflated with a cap at its declared size and CRC-checked. */
export function readZipEntry (zip: Uint8Array, entry: ZipEntry): Uint8Array {
  const raw = zip.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize)
  let data: Uint8Array
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size) throw new ZipSizeMismatchError(`stored entry ${JSON.stringify(entry.name)} declares ${entry.size} bytes but holds ${entry.compressedSize}`, { entry: entry.name })
    data = raw
  } else {
    try {
      data = inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) })
    } catch (err: any) {
      if (err?.code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
        throw new ZipSizeMismatchError(`entry ${JSON.stringify(entry.name)} inflates past its declared ${entry.size} bytes (a zip bomb lies about its size)`, { entry: entry.name, declared: entry.size })
      }
      throw new ZipFormatError(`entry ${JSON.stringify(entry.name)} does not inflate: ${String(err?.message ?? err)}`, { entry: entry.name })
    }
    if (data.length !== entry.size) throw new ZipSizeMismatchError(`entry ${JSON.stringify(entry.name)} inflates to ${data.length} bytes but declares ${entry.size}`, { entry: entry.name, declared: entry.size, actual: data.length })
  }
  if (crc32(data) !== entry.crc) throw new ZipFormatError(`entry ${JSON.stringify(entry.name)} fails its CRC check`, { entry: entry.name })
  return data
}
