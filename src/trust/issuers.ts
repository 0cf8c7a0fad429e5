/**
 * Trusted issuers: the node's config (`trust.issuers`) plus the data dir's
 * `trust.json`, which `pl trust add|remove` edit. The file is re-read when
 * it changes, so a running node sees `pl trust add` at its next selection.
 * A trust file is also what `pl receipts verify --trust <file>` reads:
 * `{issuers: [...], revocations?: [Revocation.v1...], attestations?: [Attestation.v1...], policies?: {CID: Policy.v1}}`.
 */
import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import { readFile, writeFile, rename } from 'node:fs/promises'
import { publicKeyOfPeer } from '../core/index.js'
import { CLAIM_KEY } from './constants.js'
import { TrustFileError } from './errors.js'
import type { TrustedIssuer } from './evaluate.js'

export interface TrustFile {
  issuers: TrustedIssuer[]
  revocations?: unknown[]
  attestations?: unknown[]
  policies?: Record<string, unknown>
}

/** Checks one issuer entry (PeerId that decodes, claim keys well formed). */
export function checkIssuer (value: unknown, where: string): TrustedIssuer {
  const v = value as Partial<TrustedIssuer> | null
  if (v == null || typeof v !== 'object' || typeof v.key !== 'string') throw new TrustFileError(`${where}: an issuer needs a "key" (its PeerId)`, { where })
  try {
    publicKeyOfPeer(v.key)
  } catch (err) {
    throw new TrustFileError(`${where}: issuer key ${v.key.slice(0, 80)} is not an ed25519 PeerId: ${(err as Error).message}`, { where })
  }
  if (v.name != null && typeof v.name !== 'string') throw new TrustFileError(`${where}: issuer name must be a string`, { where })
  if (v.claims != null && (!Array.isArray(v.claims) || v.claims.some(c => typeof c !== 'string' || !CLAIM_KEY.test(c)))) throw new TrustFileError(`${where}: issuer claims must be a list of claim keys`, { where })
  return { key: v.key, ...(v.name != null ? { name: v.name } : {}), ...(v.claims != null ? { claims: [...v.claims] } : {}) }
}

export function parseTrustFile (doc: unknown, where: string): TrustFile {
  const d = doc as Partial<TrustFile> | null
  if (d == null || typeof d !== 'object' || Array.isArray(d)) throw new TrustFileError(`${where}: a trust file is a JSON object {issuers: [...]}`, { where })
  const issuers = (d.issuers ?? []).map((i, n) => checkIssuer(i, `${where}: issuers[${n}]`))
  for (const k of ['revocations', 'attestations'] as const) if (d[k] != null && !Array.isArray(d[k])) throw new TrustFileError(`${where}: ${k} must be a list`, { where })
  return { ...d, issuers }
}

/** Reads a trust file; a missing one is empty when `missingOk` (the data dir's own), else TrustFileError. */
export async function readTrustFile (path: string, options: { missingOk?: boolean } = {}): Promise<TrustFile> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    if (err.code === 'ENOENT' && options.missingOk === true) return { issuers: [] }
    throw new TrustFileError(`cannot read trust file ${path}: ${err.code ?? err.message}`, { path })
  }
  try {
    return parseTrustFile(JSON.parse(text), path)
  } catch (err) {
    if ((err as Error).name === 'TrustFileError') throw err
    throw new TrustFileError(`trust file ${path} is not JSON: ${(err as Error).message}`, { path })
  }
}

export async function writeTrustFile (path: string, file: TrustFile): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, JSON.stringify(file, null, 2) + '\n', { mode: 0o644 })
  await rename(tmp, path)
}

/**
 * The issuers of the config plus those of a trust file, re-read when its
 * inode, size or times change. While started, a directory watch marks the file changed,
 * so a judge call costs no stat unless the file was touched; without a
 * watch (not started, or the platform refuses one) every call stats it.
 */
export class IssuerList {
  private cached: TrustedIssuer[] = []
  private merged?: TrustedIssuer[]
  /** what the last read saw: inode, size, mtime and ctime (file times tick in jiffies, so two quick rewrites can share an mtime) */
  private stamp = ''
  private watcher?: FSWatcher
  private dirty = true

  constructor (private readonly configured: TrustedIssuer[], private readonly file?: string) {}

  /** Watches the file's folder for changes (idempotent). */
  start (): void {
    if (this.file == null || this.watcher != null) return
    const name = basename(this.file)
    try {
      this.watcher = watch(dirname(this.file), { persistent: false }, (_event, changed) => {
        if (changed == null || String(changed) === name || String(changed).startsWith(`${name}.tmp`)) this.dirty = true
      })
      this.watcher.on('error', () => { this.stop() })
    } catch {
      this.watcher = undefined
    }
    this.dirty = true
  }

  stop (): void {
    this.watcher?.close()
    this.watcher = undefined
    this.dirty = true
  }

  list (): TrustedIssuer[] {
    if (this.file == null) return this.configured
    if (this.watcher != null && !this.dirty && this.merged != null) return this.merged
    // cleared before the stat: a change while reading marks it again
    this.dirty = false
    let stamp = ''
    try {
      const st = statSync(this.file, { bigint: true })
      stamp = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`
    } catch {
      stamp = ''
    }
    if (stamp !== this.stamp || this.merged == null) {
      this.stamp = stamp
      try {
        this.cached = stamp === '' ? [] : parseTrustFile(JSON.parse(readFileSync(this.file, 'utf8')), this.file).issuers
      } catch {
        // a file being rewritten or broken by hand: keep what was read last (pl trust list reports the error)
      }
      const out = [...this.configured]
      for (const i of this.cached) if (!out.some(o => o.key === i.key)) out.push(i)
      this.merged = out
    }
    return this.merged
  }
}
