/**
 * Pages of find results for the control API. A find's results are ordered
 * (source local → gossip → dht, newest version first, then provider, CID);
 * a page is the `limit` results after the cursor's position in that order.
 * The cursor is opaque to clients: base64url of `{v, k: [source order,
 * version, provider, cid], w}` where `w` says the DHT walk was done on an
 * earlier page — later pages then read only this node and its catalog, where
 * the walk cached what it found (a find is not walked again per page).
 */
import { compareVersions } from './descriptor.js'
import { InvalidCursorError } from './errors.js'
import { FIND_PAGE_SIZE, MAX_FIND_PAGE_SIZE } from './constants.js'
import type { FindOptions, FoundCapability } from './types.js'

const SOURCE_ORDER: Record<string, number> = { local: 0, gossip: 1, dht: 2 }

type Key = [number, string, string, string]

export interface Cursor { key: Key, walked: boolean }

export interface Page { items: FoundCapability[], next?: string }

function keyOf (f: FoundCapability): Key {
  return [SOURCE_ORDER[f.source] ?? 3, f.descriptor.version, f.provider, f.cid]
}

/** The find order (the same as Finder's). */
function compareKeys (a: Key, b: Key): number {
  return a[0] - b[0] || compareVersions(b[1], a[1]) || a[2].localeCompare(b[2]) || a[3].localeCompare(b[3])
}

export function encodeCursor (c: Cursor): string {
  return Buffer.from(JSON.stringify({ v: 1, k: c.key, w: c.walked ? 1 : 0 })).toString('base64url')
}

export function decodeCursor (text: unknown): Cursor {
  if (typeof text !== 'string' || text.length === 0 || text.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(text)) throw new InvalidCursorError('cursor must be the opaque value of an earlier answer\'s x-pl-next-cursor header')
  let v: any
  try { v = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) } catch { v = undefined }
  const k = v?.k
  if (v?.v !== 1 || !Array.isArray(k) || k.length !== 4 || typeof k[0] !== 'number' || !k.slice(1).every((x: unknown) => typeof x === 'string')) {
    throw new InvalidCursorError('cursor is not one this node issued')
  }
  return { key: k as Key, walked: v.w === 1 }
}

/** Page size from a request value: default FIND_PAGE_SIZE, at most MAX_FIND_PAGE_SIZE. */
export function pageSize (v: unknown, onError: (message: string) => Error): number {
  if (v == null || v === '') return FIND_PAGE_SIZE
  const n = Number(v)
  if (!Number.isInteger(n) || n <= 0 || n > MAX_FIND_PAGE_SIZE) throw onError(`limit must be an integer from 1 to ${MAX_FIND_PAGE_SIZE}`)
  return n
}

/** The options of the find behind a later page: no second walk when an earlier page walked. */
export function optionsForPage (options: FindOptions, cursor?: Cursor): FindOptions {
  if (cursor?.walked === true && options.dhtOnly !== true) return { ...options, localOnly: true }
  return options
}

/** The page of `all` (in find order) after `cursor`. */
export function pageOf (all: FoundCapability[], limit: number, options: FindOptions, cursor?: Cursor): Page {
  const after = cursor == null ? all : all.filter(f => compareKeys(keyOf(f), cursor.key) > 0)
  const items = after.slice(0, limit)
  if (after.length <= limit) return { items }
  const walked = cursor?.walked === true || options.localOnly !== true
  return { items, next: encodeCursor({ key: keyOf(items[items.length - 1]), walked }) }
}
