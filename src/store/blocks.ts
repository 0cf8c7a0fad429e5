import { encodeCanonical, decodeCanonical, cidStringOfBytes, verifyBytes, parseCid } from '../core/encoding.js'
import { PlError } from '../core/errors.js'
import { BlockNotFoundError } from './errors.js'
import type { BinarySublevel } from './index.js'
import type { GroupCommit } from './group-commit.js'

/** A document to store is over the size its caller allows (POST /blocks: what peers can fetch, 4 MiB). */
export class DocumentTooLargeError extends PlError {
  override name = 'DocumentTooLargeError'
}

/** Content by CID. Documents are stored as their canonical dag-cbor bytes. */
export class BlockStore {
  /** `commits`: writes go through the store's group commit (concurrent puts share one batch) @default each put on its own */
  constructor (private readonly db: BinarySublevel, private readonly commits?: GroupCommit) {}

  /** Writes `bytes` under `key`; resolves with `result` once written (no async wrapper: the group commit's promise as it is). */
  private write<T> (key: string, bytes: Uint8Array, result: T): Promise<T> {
    if (this.commits == null) return this.db.put(key, bytes).then(() => result)
    return this.commits.write([{ type: 'put', key, value: bytes, sublevel: this.db }], result)
  }

  /** The batch operation storing `value`, for a caller writing it together with other keys in one batch; returns it with the CID. */
  putOp (value: unknown): { cid: string, op: { type: 'put', key: string, value: Uint8Array, sublevel: BinarySublevel } } {
    return this.putBytesOp(encodeCanonical(value))
  }

  /** Like `putOp` for a document already encoded (its canonical dag-cbor bytes, e.g. from a size check): no second encoding. */
  putBytesOp (bytes: Uint8Array): { cid: string, op: { type: 'put', key: string, value: Uint8Array, sublevel: BinarySublevel } } {
    const cid = cidStringOfBytes(bytes)
    return { cid, op: { type: 'put', key: cid, value: bytes, sublevel: this.db } }
  }

  /**
   * Stores a document and returns its CID string. With `maxBytes`, a document
   * whose canonical bytes are larger is refused (DocumentTooLargeError) and
   * nothing is stored.
   */
  put (value: unknown, options: { maxBytes?: number } = {}): Promise<string> {
    let bytes: Uint8Array
    let cid: string
    try {
      bytes = encodeCanonical(value)
      if (options.maxBytes != null && bytes.byteLength > options.maxBytes) {
        throw new DocumentTooLargeError(`document is ${bytes.byteLength} bytes (dag-cbor), over the limit of ${options.maxBytes}`, { size: bytes.byteLength, max: options.maxBytes })
      }
      cid = cidStringOfBytes(bytes)
    } catch (err) {
      return Promise.reject(err) // an error is a rejection, as from an async function
    }
    return this.write(cid, bytes, cid)
  }

  /** Stores bytes that must hash to `cid` (throws CidMismatchError otherwise). */
  async putBytes (cid: string, bytes: Uint8Array): Promise<void> {
    verifyBytes(cid, bytes)
    await this.write(parseCid(cid).toString(), bytes, undefined)
  }

  async getBytes (cid: string): Promise<Uint8Array | undefined> {
    const v = await this.db.get(cid)
    return v == null ? undefined : v as Uint8Array
  }

  async has (cid: string): Promise<boolean> {
    return (await this.db.get(cid)) != null
  }

  async get<T = unknown> (cid: string): Promise<T> {
    const bytes = await this.getBytes(cid)
    if (bytes == null) throw new BlockNotFoundError(`no block ${cid} in the local store`, { cid })
    return decodeCanonical<T>(bytes)
  }
}
