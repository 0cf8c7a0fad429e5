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
import { SANDBOX_PERMISSIONS, type ExternalImpl, type SandboxPermission } from '../core/module.js'
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
  const i = impl as { dir?: unknown, className?: unknown, permissions?: unknown, external?: unknown }
  // impl: {external: {kind, target, options}}: checked when published
  if (typeof impl === 'object' && i.external != null) return { descriptor, impl: { external: i.external as ExternalImpl } }
  // impl: {plan: ./plan.yaml | cid:<stored plan>}: a composite capability implemented by the plan (a path is relative to the file)
  const plan = (impl as { plan?: unknown }).plan
  if (typeof impl === 'object' && typeof plan === 'string' && plan !== '') return { descriptor, impl: { plan: plan.startsWith('cid:') ? plan : resolve(base, plan) } }
  const permissions = i.permissions
  // the sandbox permissions a JS module asks for (granted only where the operator allows: docs/EXECUTOR.md, Sandbox)
  const permissionsOk = permissions == null || (Array.isArray(permissions) && permissions.every(p => SANDBOX_PERMISSIONS.includes(p)))
  if (typeof impl === 'object' && typeof i.dir === 'string' && (i.className == null || typeof i.className === 'string') && permissionsOk) {
    return { descriptor, impl: { dir: resolve(base, i.dir), ...(typeof i.className === 'string' ? { className: i.className } : {}), ...(permissions != null ? { permissions: permissions as SandboxPermission[] } : {}) } }
  }
  throw new InvalidDescriptorError(`descriptor ${path}: impl must be a module folder path (relative to the file), {dir, className?, permissions?: [${SANDBOX_PERMISSIONS.join(', ')}]} or {external: {kind, target, options?}}`, { path })
}
