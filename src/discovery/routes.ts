/**
 * Control API routes, so agents without libp2p publish and find through their
 * local node:
 *   POST   /caps          {descriptor, impl?: {dir, className?} | {external: {kind, target, options?}}} → {cid, descriptor}
 *   DELETE /caps/:id      (descriptor CID or name)               → {removed: [cid]}
 *   GET    /caps/local                                            → [local capability]
 *   GET    /caps/find?name=&version=&attr=k>=v&policy=&io=&input=&output=&timeout=&limit=&cursor=&local=1&dht=1 → [found]
 *   POST   /caps/find     {query, options?: {timeoutMs, localOnly, dhtOnly, limit}, limit?, cursor?} → [found]
 *
 * Finds answer one page (`limit` results, default 100, at most 1000); when
 * there are more, the answer has an `x-pl-next-cursor` header (and, for
 * GET, a `link: <…&cursor=…>; rel="next"` header): ask again with that
 * `cursor` for the next page. On GET an explicit `limit` also stops the DHT
 * walk at that many providers (its meaning before pages); on POST that is
 * `options.limit`.
 */
import { isAbsolute } from 'node:path'
import { assertJsonDepth, DEFAULT_MAX_JSON_DEPTH } from '../core/json-guard.js'
import type { ControlApi } from '../api/index.js'
import { InvalidCapabilityQueryError, InvalidDescriptorError } from './errors.js'
import { parseAttrFilter } from './match.js'
import type { CapabilityQuery, FindOptions, ImplRef } from './types.js'
import type { Discovery } from './service.js'
import { decodeCursor, optionsForPage, pageOf, pageSize, type Cursor } from './page.js'

import { NEXT_CURSOR_HEADER } from '../api/client.js'

function list (v: unknown): string[] {
  if (v == null) return []
  return (Array.isArray(v) ? v : [v]).map(String).filter(s => s !== '')
}

function flag (v: unknown): boolean {
  return v === '1' || v === 'true' || v === true
}

function parseImpl (impl: unknown): ImplRef | undefined {
  if (impl == null) return undefined
  const ref = typeof impl === 'string' ? { dir: impl } : impl as ImplRef
  // an external implementation is checked (kind, target, options) by Discovery.publish
  if (typeof ref === 'object' && ref != null && ref.external != null) return { external: ref.external }
  // a composite's plan file (on this node) or stored plan CID: compiled and checked by Discovery.publish
  if (typeof ref === 'object' && ref != null && typeof ref.plan === 'string') return { plan: ref.plan }
  if (typeof ref !== 'object' || typeof ref.dir !== 'string' || !isAbsolute(ref.dir)) {
    throw new InvalidDescriptorError('impl must be {dir: <absolute path of a module folder>, className?} or {external: {kind, target, options?}}')
  }
  if (ref.className != null && typeof ref.className !== 'string') throw new InvalidDescriptorError('impl.className must be a string')
  return ref.className != null ? { dir: ref.dir, className: ref.className } : { dir: ref.dir }
}

/** A query from GET /caps/find parameters. */
export function queryFromParams (p: Record<string, unknown>): { query: CapabilityQuery, options: FindOptions, limit: number, cursor?: Cursor } {
  const name = list(p.name)[0]
  if (name == null) throw new InvalidCapabilityQueryError('name is required: GET /caps/find?name=<capability>')
  const query: CapabilityQuery = { name }
  const version = list(p.version)[0]
  if (version != null) query.version = version
  const attrs = list(p.attr).map(parseAttrFilter)
  if (attrs.length > 0) query.attrs = attrs
  const policies = list(p.policy)
  if (policies.length > 0) query.policies = policies
  const io = list(p.io)[0]
  if (io != null) {
    assertJsonDepth(io, DEFAULT_MAX_JSON_DEPTH, 'the io query value')
    try { query.io = JSON.parse(io) } catch { throw new InvalidCapabilityQueryError('io must be JSON: {"input"?: schema|cid, "output"?: schema|cid}') }
  }
  const input = list(p.input)[0]
  const output = list(p.output)[0]
  if (input != null || output != null) query.io = { ...query.io, ...(input != null ? { input } : {}), ...(output != null ? { output } : {}) }
  const options: FindOptions = {}
  const timeout = list(p.timeout)[0]
  if (timeout != null) {
    const ms = Number(timeout)
    if (!Number.isInteger(ms) || ms <= 0) throw new InvalidCapabilityQueryError('timeout must be a positive number of milliseconds')
    options.timeoutMs = ms
  }
  const given = list(p.limit)[0]
  const limit = pageSize(given, (m) => new InvalidCapabilityQueryError(m))
  if (given != null) options.limit = limit
  if (flag(p.local)) options.localOnly = true
  if (flag(p.dht)) options.dhtOnly = true
  const c = list(p.cursor)[0]
  return { query, options, limit, ...(c != null ? { cursor: decodeCursor(c) } : {}) }
}

function optionsFromBody (o: unknown): FindOptions {
  if (o == null) return {}
  if (typeof o !== 'object') throw new InvalidCapabilityQueryError('options must be {timeoutMs?, localOnly?, dhtOnly?, limit?}')
  const { timeoutMs, localOnly, dhtOnly, limit } = o as FindOptions
  if (timeoutMs != null && (!Number.isInteger(timeoutMs) || timeoutMs <= 0)) throw new InvalidCapabilityQueryError('options.timeoutMs must be a positive integer')
  if (limit != null && (!Number.isInteger(limit) || limit <= 0)) throw new InvalidCapabilityQueryError('options.limit must be a positive integer')
  return { ...(timeoutMs != null ? { timeoutMs } : {}), ...(localOnly === true ? { localOnly } : {}), ...(dhtOnly === true ? { dhtOnly } : {}), ...(limit != null ? { limit } : {}) }
}

export function registerRoutes (api: ControlApi, d: Discovery): void {
  api.errorStatus(['InvalidCapabilityQueryError', 'InvalidDescriptorError', 'ProviderMismatchError', 'DescriptorTooLargeError', 'DiscoveryConfigError', 'InvalidCursorError'], 400)
  api.route('POST', '/caps', async ({ body }) => {
    if (body == null || typeof body !== 'object' || body.descriptor == null || typeof body.descriptor !== 'object') {
      throw new InvalidDescriptorError('POST /caps takes {descriptor, impl?: {dir, className?}}')
    }
    const { impl: inlineImpl, ...descriptor } = body.descriptor
    return await d.publish(descriptor, parseImpl(body.impl ?? inlineImpl))
  })
  api.route('DELETE', '/caps/:id', async ({ params }) => ({ removed: await d.unpublish(params.id) }))
  api.route('GET', '/caps/local', async () => d.localCapabilities().map(c => ({
    cid: c.cid,
    descriptor: c.descriptor,
    impl: c.impl,
    module: c.module,
    active: c.active,
    ...(c.problem != null ? { problem: c.problem } : {}),
    publishedAt: c.publishedAt
  })))
  api.route('GET', '/caps/find', async ({ query, raw, header }) => {
    const q = queryFromParams(query)
    const page = pageOf(await d.find(q.query, optionsForPage(q.options, q.cursor)), q.limit, q.options, q.cursor)
    if (page.next != null) {
      header(NEXT_CURSOR_HEADER, page.next)
      const url = new URL(raw.url, 'http://control')
      url.searchParams.set('cursor', page.next)
      header('link', `<${url.pathname}${url.search}>; rel="next"`)
    }
    return page.items
  })
  api.route('POST', '/caps/find', async ({ body, header }) => {
    if (body == null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidCapabilityQueryError('POST /caps/find takes {query, options?, limit?, cursor?}')
    const options = optionsFromBody(body.options)
    const limit = pageSize(body.limit, (m) => new InvalidCapabilityQueryError(m))
    const cursor = body.cursor != null ? decodeCursor(body.cursor) : undefined
    const page = pageOf(await d.find(body.query, optionsForPage(options, cursor)), limit, options, cursor)
    if (page.next != null) header(NEXT_CURSOR_HEADER, page.next)
    return page.items
  })
}
