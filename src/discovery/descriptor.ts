/**
 * Capability descriptors: building one from a publisher's input, the DHT
 * keys it is provided under, and its size limit.
 */
import { CID } from 'multiformats/cid'
import { cidOfBytes, encodeCanonical, RAW, stripUndefined } from '../core/encoding.js'
import type { ModuleSpec } from '../core/index.js'
import type { SchemaRegistry } from '../spec/index.js'
import { CAP_KEY_PREFIX } from './constants.js'
import { DescriptorTooLargeError, InvalidDescriptorError, ProviderMismatchError } from './errors.js'
import type { CapabilityDescriptor, CapabilityDescriptorInput } from './types.js'

/** DHT key of a capability name: CIDv1(raw, sha2-256) of the UTF-8 bytes of `pl:cap:<name>`. */
export function capNameKey (name: string): CID {
  return cidOfBytes(new TextEncoder().encode(CAP_KEY_PREFIX + name), RAW)
}

/** Throws DescriptorTooLargeError when the descriptor's canonical bytes exceed `max`; returns the size. */
export function assertDescriptorSize (descriptor: unknown, max: number): number {
  const size = encodeCanonical(descriptor).byteLength
  if (size > max) throw new DescriptorTooLargeError(`descriptor is ${size} bytes, the limit is ${max}`, { size, max })
  return size
}

/**
 * The descriptor this node publishes: `provider` = this node, `limits`
 * defaulted, `module` computed from the bound implementation (never a local
 * path: the folder layout of the provider is not the network's business).
 */
export function buildDescriptor (input: CapabilityDescriptorInput, self: string, registry: SchemaRegistry, options: { module?: ModuleSpec, maxBytes: number }): CapabilityDescriptor {
  if (input == null || typeof input !== 'object' || Array.isArray(input)) throw new InvalidDescriptorError('a capability descriptor must be an object')
  if (input.provider != null && input.provider !== self) {
    throw new ProviderMismatchError(`descriptor names provider ${String(input.provider)}, but this node is ${self}`, { provider: input.provider, self })
  }
  const { module: givenModule, ...rest } = input
  const module = options.module != null ? { cid: options.module.cid, kind: options.module.kind } : givenModule
  const descriptor = stripUndefined({ ...rest, provider: self, limits: input.limits ?? {}, module }) as CapabilityDescriptor
  registry.validate('Capability.v1', descriptor)
  assertDescriptorSize(descriptor, options.maxBytes)
  return descriptor
}

/** Inline io schemas of a descriptor (stored as blocks so peers can fetch them by CID). */
export function inlineSchemas (descriptor: CapabilityDescriptor): Array<Record<string, unknown>> {
  return [descriptor.io.input, descriptor.io.output].filter((s): s is Record<string, any> => typeof s === 'object' && s != null)
}

/**
 * Schema CIDs a descriptor points at: `io.input` / `io.output` given as a CID,
 * and `$ref`s of the form `cid:<CID>[#/pointer]` (or `<CID>#/pointer`) inside
 * its inline schemas. Malformed references are skipped.
 */
export function schemaCidRefs (descriptor: CapabilityDescriptor): string[] {
  const out = new Set<string>()
  const add = (ref: string): void => {
    const text = ref.startsWith('cid:') ? ref.slice(4) : ref
    const cid = text.split('#')[0]
    try { out.add(CID.parse(cid).toString()) } catch {}
  }
  const walk = (node: unknown, depth: number): void => {
    if (depth > 32 || node == null || typeof node !== 'object') return
    if (Array.isArray(node)) { for (const v of node) walk(v, depth + 1); return }
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') add(v)
      else walk(v, depth + 1)
    }
  }
  for (const s of [descriptor.io.input, descriptor.io.output]) {
    if (typeof s === 'string') add(s)
    else walk(s, 0)
  }
  return [...out]
}

/** Orders version strings numerically part by part (1.10.0 > 1.9.2), falling back to text. */
export function compareVersions (a: string, b: string): number {
  const pa = a.split(/[.+-]/)
  const pb = b.split(/[.+-]/)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? ''
    const y = pb[i] ?? ''
    const nx = /^\d+$/.test(x) ? Number(x) : NaN
    const ny = /^\d+$/.test(y) ? Number(y) : NaN
    const c = !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : x < y ? -1 : x > y ? 1 : 0
    if (c !== 0) return c
  }
  return 0
}
