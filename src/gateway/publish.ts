/**
 * `POST /capabilities`: a network caller publishes a capability on this node.
 * The descriptor (Capability.v1 as JSON, or the YAML/JSON text `pl cap
 * publish` reads) is checked first — its io schemas must compile as JSON
 * Schema, the whole must validate — and only then is an implementation bound:
 *   - `impl.upload`: a module ZIP or a single entry file (base64), stored and
 *     unpacked by src/gateway/module-upload.ts, bound **confined** (always the
 *     sandbox, no permissions);
 *   - `impl.like`: the implementation of a capability this node already
 *     publishes (by CID, or the newest version of a name), re-published under
 *     the new descriptor; under another name it is bound confined too, so a
 *     caller cannot pick up trust the operator gave a name.
 * Then the discovery service publishes it as `pl cap publish` would.
 *
 * @example
 * POST /capabilities {descriptor: "name: Echo\nversion: 1.0.0\n…", impl: {upload: {file: 'function.mjs', content: '<base64>'}}, price: 2}
 */
import { parse as parseYaml } from 'yaml'
import { type Discovery, buildDescriptor, compareVersions } from '../discovery/index.js'
import { CapabilityNotFoundError, InvalidDescriptorError } from '../discovery/errors.js'
import type { CapabilityDescriptor, CapabilityDescriptorInput, ImplRef, LocalCapability } from '../discovery/types.js'
import { type SchemaRegistry, formatAjvErrors } from '../spec/index.js'
import { checkExternalImpl, type ExternalImpl } from '../core/index.js'
import { valueDepthOver } from '../core/json-guard.js'
import { ExternalImplRefusedError, ImplNotReusableError } from './errors.js'
import { installUploadedModule, MAX_MODULE_ENTRIES, MAX_MODULE_UNPACKED_BYTES, MAX_MODULE_UPLOAD_BYTES, type ModuleUpload, type UploadDeps } from './module-upload.js'

/** Longest descriptor text or JSON accepted (bytes). */
export const MAX_DESCRIPTOR_TEXT = 256 * 1024
/** Deepest nesting of a descriptor (its io schemas are walked recursively later). */
export const MAX_DESCRIPTOR_DEPTH = 64


export interface PublishBody {
  descriptor: string | Record<string, unknown>
  impl: { upload: ModuleUpload, className?: string, like?: undefined, external?: undefined }
  | { like: string, upload?: undefined, className?: undefined, external?: undefined }
  | { external: ExternalImpl, upload?: undefined, className?: undefined, like?: undefined }
  price?: number
}

export interface PublishDeps extends UploadDeps {
  discovery: Discovery
  registry: SchemaRegistry
  /** this node's PeerId (the descriptor's provider) */
  self: string
  /** take Python uploads (`api.publishPython`) @default false */
  python?: boolean
  /** external implementations a caller may bind: kind → allowed targets (exact, or a prefix ending in `/`) (`api.publishExternal`) @default none */
  external?: Record<string, string[]>
  /** kinds of external implementation this node has a runner for */
  externalKinds?: () => string[]
}

/** An external implementation a network caller asks for: a kind with a runner here, a target the operator allowed. */
export function allowedExternal (given: unknown, allowed: Record<string, string[]>, kinds: string[]): ExternalImpl {
  const ext = checkExternalImpl(given)
  const targets = Object.hasOwn(allowed, ext.kind) ? allowed[ext.kind] : undefined
  if (targets == null) throw new ExternalImplRefusedError(`external implementations of kind ${ext.kind} are not taken over the gateway (api.publishExternal allows: ${Object.keys(allowed).join(', ') || 'none'})`, { kind: ext.kind })
  if (!kinds.includes(ext.kind)) throw new ExternalImplRefusedError(`no runner serves external implementations of kind ${ext.kind} on this node (runners: ${kinds.join(', ') || 'none'})`, { kind: ext.kind })
  if (!targets.some(t => t === ext.target || (t.endsWith('/') && ext.target.startsWith(t)))) throw new ExternalImplRefusedError(`target ${JSON.stringify(ext.target)} is not among the ${ext.kind} targets api.publishExternal allows`, { kind: ext.kind, target: ext.target })
  return ext
}

/** What the console's publish form needs to know (`GET /capabilities/publish-options`). */
export function publishOptions (python: boolean): Record<string, unknown> {
  return { python, maxUploadBytes: MAX_MODULE_UPLOAD_BYTES, maxUnpackedBytes: MAX_MODULE_UNPACKED_BYTES, maxEntries: MAX_MODULE_ENTRIES }
}

/** The descriptor of a request: an object, or YAML/JSON text; `impl:` inside it (a path on the node) is refused. */
export function parseDescriptor (given: unknown): CapabilityDescriptorInput {
  let doc = given
  if (typeof given === 'string') {
    try { doc = parseYaml(given, { maxAliasCount: 16 }) } catch (err) { throw new InvalidDescriptorError(`descriptor is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`) }
  }
  if (doc == null || typeof doc !== 'object' || Array.isArray(doc)) throw new InvalidDescriptorError('descriptor must be a mapping (name, version, io, limits?, price?, attrs?, ...)')
  if (valueDepthOver(doc, MAX_DESCRIPTOR_DEPTH)) throw new InvalidDescriptorError(`descriptor nests deeper than ${MAX_DESCRIPTOR_DEPTH} levels`, { max: MAX_DESCRIPTOR_DEPTH })
  if ('impl' in doc) throw new InvalidDescriptorError('descriptor has impl: a module folder on the node is the operator\'s to bind (pl cap publish); send impl beside the descriptor ({upload} or {like})')
  return doc as CapabilityDescriptorInput
}

/** Inline io schemas must be JSON Schemas (2020-12 meta-schema): InvalidDescriptorError naming the one that is not. */
export function checkIoSchemas (d: CapabilityDescriptorInput, registry: SchemaRegistry): void {
  const io = (d as { io?: unknown }).io
  if (io == null || typeof io !== 'object') return // the descriptor schema says what is missing
  for (const dir of ['input', 'output'] as const) {
    const s = (io as Record<string, unknown>)[dir]
    if (s == null || typeof s === 'string') continue
    let ok: boolean
    let why: string
    try {
      ok = typeof s === 'boolean' || (typeof s === 'object' && !Array.isArray(s) && registry.ajv.validateSchema(s) === true)
      why = Array.isArray(s) || typeof s !== 'object' ? 'not an object' : formatAjvErrors(registry.ajv.errors)
    } catch (err) {
      ok = false
      why = (err as Error).message
    }
    if (!ok) throw new InvalidDescriptorError(`io.${dir} is not a valid JSON Schema: ${why}`, { field: `io.${dir}` })
  }
}

/** The local capability `like` names: by CID, else the newest version of a name. */
function likeOf (locals: LocalCapability[], like: string): LocalCapability {
  const byCid = locals.find(c => c.cid === like)
  if (byCid != null) return byCid
  const named = locals.filter(c => c.descriptor.name === like).sort((a, b) => compareVersions(b.descriptor.version, a.descriptor.version))
  if (named.length === 0) throw new CapabilityNotFoundError(`impl.like: this node publishes no capability ${JSON.stringify(like)}`, { id: like })
  return named.find(c => c.active) ?? named[0]
}

/** The implementation a re-publish reuses; confined when the name changes. */
export function reusedImpl (source: LocalCapability, name: string): ImplRef {
  const impl = source.impl
  if (impl == null) throw new ImplNotReusableError(`impl.like: ${source.descriptor.name}@${source.descriptor.version} has no module to reuse (published without impl)`, { cid: source.cid })
  if (!source.active) throw new ImplNotReusableError(`impl.like: ${source.descriptor.name}@${source.descriptor.version} is inactive (${source.problem ?? 'its module changed'}): the operator must publish it again first`, { cid: source.cid })
  if (impl.external != null) return { external: impl.external }
  if (impl.plan != null) return { plan: impl.plan }
  const base = { dir: impl.dir, ...(impl.className != null ? { className: impl.className } : {}) }
  if (name !== source.descriptor.name || impl.confined === true) return { ...base, confined: true }
  return { ...base, ...(impl.permissions != null ? { permissions: impl.permissions } : {}) }
}

export async function publishFromRequest (body: PublishBody, deps: PublishDeps): Promise<{ cid: string, descriptor: CapabilityDescriptor }> {
  const input = parseDescriptor(body.descriptor)
  const { module: _ignored, ...descriptor } = input
  if (body.price != null) descriptor.price = body.price
  checkIoSchemas(descriptor, deps.registry)
  // the whole descriptor is checked before any file is written (publish checks it again with the module)
  buildDescriptor(descriptor, deps.self, deps.registry, { maxBytes: Number.MAX_SAFE_INTEGER })
  const name = descriptor.name
  let impl: ImplRef
  if (body.impl.like != null) {
    impl = reusedImpl(likeOf(deps.discovery.localCapabilities(), body.impl.like), name)
  } else if (body.impl.external != null) {
    impl = { external: allowedExternal(body.impl.external, deps.external ?? {}, deps.externalKinds?.() ?? []) }
  } else {
    const spec = await installUploadedModule(body.impl.upload, name, deps, { className: body.impl.className, python: deps.python })
    impl = { dir: spec.dir, ...(spec.className != null ? { className: spec.className } : {}), confined: true }
  }
  return await deps.discovery.publish(descriptor, impl)
}
