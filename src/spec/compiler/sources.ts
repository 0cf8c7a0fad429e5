/**
 * Where schema documents come from: files the user names, folders of schema
 * files, the package's protocols/schemas, and the local block store (by CID).
 * A schema's CID is `cidStringOf(doc)` — the CID of its canonical dag-cbor
 * form, so formatting and key order never change it (the registry's CID).
 *
 * @example
 * const { doc } = await readSchemaFile('examples/specs/Summarize.v1.json')
 * schemaCid(doc) // 'bafyrei...'
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { cidStringOf, decodeCanonical, verifyBytes } from '../../core/encoding.js'
import { schemasDir } from '../registry.js'
import type { BlockStore } from '../../store/index.js'
import { SpecFileError } from './errors.js'

export type SchemaDocument = Record<string, unknown>

export interface LoadedSchema {
  doc: SchemaDocument
  /** absolute path when read from a file */
  file?: string
}

/** The CID of a schema document (canonical dag-cbor, sha2-256, base32). */
export function schemaCid (doc: unknown): string {
  return cidStringOf(doc)
}

export async function readSchemaFile (path: string): Promise<LoadedSchema> {
  const file = resolve(path)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err: any) {
    throw new SpecFileError(`cannot read schema file ${file}: ${err.code ?? err.message}`, { file })
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw new SpecFileError(`${file} is not JSON: ${(err as Error).message}`, { file })
  }
  if (doc == null || typeof doc !== 'object' || Array.isArray(doc)) throw new SpecFileError(`${file} is not a JSON Schema document (expected an object)`, { file })
  return { doc: doc as SchemaDocument, file }
}

/** Every `*.json` file of a folder (not recursive), sorted by name. */
export async function readSchemaDir (dir: string): Promise<LoadedSchema[]> {
  const abs = resolve(dir)
  let names: string[]
  try {
    names = (await readdir(abs)).filter(n => n.endsWith('.json')).sort()
  } catch (err: any) {
    throw new SpecFileError(`cannot read schema folder ${abs}: ${err.code ?? err.message}`, { dir: abs })
  }
  if (names.length === 0) throw new SpecFileError(`schema folder ${abs} has no *.json files`, { dir: abs })
  return await Promise.all(names.map(async n => await readSchemaFile(join(abs, n))))
}

/** A file or a folder of files. */
export async function readSchemaPath (path: string): Promise<LoadedSchema[]> {
  const abs = resolve(path)
  let isDir: boolean
  try {
    isDir = (await stat(abs)).isDirectory()
  } catch (err: any) {
    throw new SpecFileError(`cannot read ${abs}: ${err.code ?? err.message}`, { path: abs })
  }
  return isDir ? await readSchemaDir(abs) : [await readSchemaFile(abs)]
}

/** Finds schema documents by CID or by `$id`. */
export interface SchemaSource {
  /** for messages: "folder /x", "local store", ... */
  readonly name: string
  byCid: (cid: string) => Promise<LoadedSchema | undefined>
  byId: (id: string) => Promise<LoadedSchema | undefined>
}

/** The schema files of a folder, indexed by CID and `$id` on first use. */
export class DirSource implements SchemaSource {
  readonly name: string
  private index?: Promise<{ cids: Map<string, LoadedSchema>, ids: Map<string, LoadedSchema> }>

  constructor (readonly dir: string) {
    this.name = `folder ${resolve(dir)}`
  }

  private async load (): Promise<{ cids: Map<string, LoadedSchema>, ids: Map<string, LoadedSchema> }> {
    this.index ??= (async () => {
      const cids = new Map<string, LoadedSchema>()
      const ids = new Map<string, LoadedSchema>()
      for (const s of await readSchemaDir(this.dir)) {
        cids.set(schemaCid(s.doc), s)
        if (typeof s.doc.$id === 'string') ids.set(s.doc.$id, s)
      }
      return { cids, ids }
    })()
    return await this.index
  }

  async byCid (cid: string): Promise<LoadedSchema | undefined> {
    return (await this.load()).cids.get(cid)
  }

  async byId (id: string): Promise<LoadedSchema | undefined> {
    return (await this.load()).ids.get(id)
  }
}

/** The package's protocols/schemas (always consulted last). */
export function protocolSource (): DirSource {
  return new DirSource(schemasDir())
}

/** Schemas stored as blocks (canonical dag-cbor) in a node's local store. */
export class StoreSource implements SchemaSource {
  readonly name = 'local store'

  constructor (private readonly blocks: BlockStore) {}

  async byCid (cid: string): Promise<LoadedSchema | undefined> {
    const bytes = await this.blocks.getBytes(cid)
    if (bytes == null) return undefined
    verifyBytes(cid, bytes)
    const doc = decodeCanonical<unknown>(bytes)
    if (doc == null || typeof doc !== 'object' || Array.isArray(doc)) throw new SpecFileError(`block ${cid} in the local store is not a schema document`, { cid })
    return { doc: doc as SchemaDocument }
  }

  async byId (): Promise<LoadedSchema | undefined> {
    return undefined
  }
}

/** A short name for a loaded schema in messages. */
export function describeSchema (s: LoadedSchema): string {
  if (s.file != null) return basename(s.file)
  if (typeof s.doc.$id === 'string') return s.doc.$id
  return `cid:${schemaCid(s.doc)}`
}

/** The minimal client surface a ControlSource needs (ControlClient has it). */
export interface BlockClient {
  request: <T = any>(method: string, path: string, body?: unknown) => Promise<T>
}

/**
 * Schemas from a running pl-node's local store, through its control API
 * (`GET /blocks/:cid`), for when the daemon holds the data dir's lock.
 */
export class ControlSource implements SchemaSource {
  readonly name = 'running pl-node (GET /blocks)'

  constructor (private readonly client: BlockClient) {}

  async byCid (cid: string): Promise<LoadedSchema | undefined> {
    let res: { doc?: unknown }
    try {
      res = await this.client.request<{ doc?: unknown }>('GET', `/blocks/${encodeURIComponent(cid)}`)
    } catch (err) {
      if ((err as Error).name === 'BlockNotFoundError') return undefined
      throw err
    }
    const doc = res?.doc
    if (doc == null || typeof doc !== 'object' || Array.isArray(doc)) throw new SpecFileError(`block ${cid} served by the node is not a schema document`, { cid })
    if (schemaCid(doc) !== cid) throw new SpecFileError(`block ${cid} served by the node hashes to ${schemaCid(doc)}`, { cid })
    return { doc: doc as SchemaDocument }
  }

  async byId (): Promise<LoadedSchema | undefined> {
    return undefined
  }
}
