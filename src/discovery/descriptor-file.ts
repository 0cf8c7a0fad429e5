/**
 * Capability descriptor files (YAML or JSON): a Capability.v1 without
 * `provider`, plus `impl:` naming the module folder relative to the file
 * (`./module`) or `{dir, className}`. Read by `pl cap publish` and by the
 * daemon's configured offers (src/offers.ts).
 */
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { InvalidDescriptorError } from './errors.js'
import type { ImplRef } from './types.js'

/** Reads a JSON or YAML document (by extension; otherwise JSON, then YAML). */
export async function readDocument (path: string, what: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    throw new InvalidDescriptorError(`cannot read ${what} ${path}: ${String(err.code ?? err.message)}`, { path })
  }
  try {
    if (/\.json$/i.test(path)) return JSON.parse(text)
    if (/\.ya?ml$/i.test(path)) return parseYaml(text)
    try { return JSON.parse(text) } catch { return parseYaml(text) }
  } catch (err) {
    throw new InvalidDescriptorError(`${what} ${path} is not valid JSON or YAML: ${(err as Error).message}`, { path })
  }
}

/** The descriptor of a file, its `impl` (relative to the file) stripped and resolved. */
export async function readDescriptorFile (path: string): Promise<{ descriptor: Record<string, unknown>, impl?: ImplRef }> {
  const doc = await readDocument(path, 'descriptor')
  if (doc == null || typeof doc !== 'object' || Array.isArray(doc)) throw new InvalidDescriptorError(`descriptor ${path} must be a mapping (name, version, io, ...)`, { path })
  const { impl, ...descriptor } = doc as Record<string, unknown>
  if (impl == null) return { descriptor }
  const base = dirname(resolve(path))
  if (typeof impl === 'string') return { descriptor, impl: { dir: resolve(base, impl) } }
  // impl: {external: {kind, target, options}}: checked when published
  if (typeof impl === 'object' && (impl as any).external != null) return { descriptor, impl: { external: (impl as any).external } }
  if (typeof impl === 'object' && typeof (impl as any).dir === 'string' && ((impl as any).className == null || typeof (impl as any).className === 'string')) {
    const { dir, className } = impl as { dir: string, className?: string }
    return { descriptor, impl: { dir: resolve(base, dir), ...(className != null ? { className } : {}) } }
  }
  throw new InvalidDescriptorError(`descriptor ${path}: impl must be a module folder path (relative to the file), {dir, className} or {external: {kind, target, options}}`, { path })
}
