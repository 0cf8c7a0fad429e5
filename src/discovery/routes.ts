/**
 * Control API routes, so agents without libp2p publish and find through their
 * local node:
 *   POST   /caps          {descriptor, impl?: {dir, className?}} → {cid, descriptor}
 *   DELETE /caps/:id      (descriptor CID or name)               → {removed: [cid]}
 *   GET    /caps/local                                            → [local capability]
 *   GET    /caps/find?name=&version=&attr=k>=v&policy=&io=&input=&output=&timeout=&limit=&local=1&dht=1
 *   POST   /caps/find     {query, options?: {timeoutMs, localOnly, dhtOnly, limit}} → [found]
 */
import { isAbsolute } from 'node:path'
import { assertJsonDepth, DEFAULT_MAX_JSON_DEPTH, type ControlApi } from '../api/control.js'
import { InvalidCapabilityQueryError, InvalidDescriptorError } from './errors.js'
import { parseAttrFilter } from './match.js'
import type { CapabilityQuery, FindOptions, ImplRef } from './types.js'
import type { Discovery } from './service.js'

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
  if (typeof ref !== 'object' || typeof ref.dir !== 'string' || !isAbsolute(ref.dir)) {
    throw new InvalidDescriptorError('impl must be {dir: <absolute path of a module folder>, className?}')
  }
  if (ref.className != null && typeof ref.className !== 'string') throw new InvalidDescriptorError('impl.className must be a string')
  return ref.className != null ? { dir: ref.dir, className: ref.className } : { dir: ref.dir }
}

/** A query from GET /caps/find parameters. */
export function queryFromParams (p: Record<string, unknown>): { query: CapabilityQuery, options: FindOptions } {
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
  const limit = list(p.limit)[0]
  if (limit != null) {
    const n = Number(limit)
    if (!Number.isInteger(n) || n <= 0) throw new InvalidCapabilityQueryError('limit must be a positive integer')
    options.limit = n
  }
  if (flag(p.local)) options.localOnly = true
  if (flag(p.dht)) options.dhtOnly = true
  return { query, options }
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
  api.errorStatus(['InvalidCapabilityQueryError', 'InvalidDescriptorError', 'ProviderMismatchError', 'DescriptorTooLargeError', 'DiscoveryConfigError'], 400)
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
  api.route('GET', '/caps/find', async ({ query }) => {
    const q = queryFromParams(query)
    return await d.find(q.query, q.options)
  })
  api.route('POST', '/caps/find', async ({ body }) => {
    if (body == null || typeof body !== 'object') throw new InvalidCapabilityQueryError('POST /caps/find takes {query, options?}')
    return await d.find(body.query, optionsFromBody(body.options))
  })
}
