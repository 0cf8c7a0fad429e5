/**
 * The plan of a composite capability: read from a file or the block store,
 * compiled with the DSL compiler, refused when it names its own capability,
 * and kept in the block store as `{v: 1, kind: 'pl/composite-plan', yaml}`
 * whose CID is the external implementation's `target`.
 *
 * @example
 * const impl = await compositeImpl('examples/plans/brief.yaml', 'BriefDocument', store.blocks)
 * // { kind: 'plan', target: 'bafyrei…', options: { capability: 'BriefDocument', plan: <the plan's own CID> } }
 */
import { readFile } from 'node:fs/promises'
import { parseCid } from '../core/encoding.js'
import type { ExternalImpl } from '../core/index.js'
import type { BlockStore } from '../store/index.js'
import { compileDsl, type TaskDag } from '../workflow/index.js'
import { CompositePlanInvalidError, CompositePlanNotFoundError, CompositeSelfCallError } from './errors.js'
import { COMPOSITE_KIND, MAX_PLAN_BYTES, PLAN_DOC_KIND } from './constants.js'

export interface CompositePlanDoc {
  v: 1
  kind: typeof PLAN_DOC_KIND
  yaml: string
}

function isPlanDoc (v: unknown): v is CompositePlanDoc {
  const d = v as Partial<CompositePlanDoc>
  return d != null && typeof d === 'object' && d.v === 1 && d.kind === PLAN_DOC_KIND && typeof d.yaml === 'string'
}

function looksLikeCid (ref: string): boolean {
  try {
    parseCid(ref.startsWith('cid:') ? ref.slice(4) : ref)
    return true
  } catch {
    return false
  }
}

/** Compiles a composite's plan text; a DSL error becomes CompositePlanInvalidError. */
export function compilePlan (yaml: string, origin: string): TaskDag {
  try {
    return compileDsl(yaml, { file: origin })
  } catch (err) {
    const e = err as Error
    throw new CompositePlanInvalidError(`the plan of the composite (${origin}) does not compile: ${e.message}`, { plan: origin, cause: e.name })
  }
}

/** Capability names a plan calls. */
export function planCapabilities (dag: TaskDag): string[] {
  return [...new Set(Object.values(dag.steps).map(s => s.capability?.name).filter((n): n is string => n != null))]
}

/** Refuses a plan that names `capability` itself (the cycle through the mesh is caught at run time by the depth limit). */
export function checkNotSelfCalling (dag: TaskDag, capability: string, origin: string): void {
  const self = Object.values(dag.steps).find(s => s.capability?.name === capability)
  if (self != null) {
    throw new CompositeSelfCallError(`composite ${capability}: its plan (${origin}) calls ${capability} itself in step ${self.id}`, { capability, step: self.id })
  }
}

/** The stored plan document of a composite by CID; CompositePlanNotFoundError when this node does not hold it. */
export async function loadPlanDoc (blocks: BlockStore, cid: string): Promise<CompositePlanDoc> {
  const ref = cid.startsWith('cid:') ? cid.slice(4) : cid
  let doc: unknown
  try {
    doc = await blocks.has(ref) ? await blocks.get(ref) : undefined
  } catch {
    doc = undefined
  }
  if (!isPlanDoc(doc)) throw new CompositePlanNotFoundError(`no composite plan ${ref} in this node's block store (publish it with impl: {plan: <file>})`, { plan: ref })
  return doc
}

/**
 * The external implementation of a composite capability named `capability`
 * whose plan is `ref` (a YAML file, or the CID of a stored plan document):
 * the plan is compiled, refused if it calls `capability`, and stored.
 */
export async function compositeImpl (ref: string, capability: string, blocks: BlockStore): Promise<ExternalImpl> {
  if (typeof ref !== 'string' || ref === '') throw new CompositePlanNotFoundError('impl.plan must name a plan file or a stored plan CID')
  let yaml: string
  if (looksLikeCid(ref)) {
    yaml = (await loadPlanDoc(blocks, ref)).yaml
  } else {
    try {
      const bytes = await readFile(ref)
      if (bytes.byteLength > MAX_PLAN_BYTES) throw new CompositePlanInvalidError(`plan ${ref} is ${bytes.byteLength} bytes, over the ${MAX_PLAN_BYTES} bytes a composite plan may have`, { plan: ref })
      yaml = bytes.toString('utf8')
    } catch (err) {
      if ((err as Error).name === 'CompositePlanInvalidError') throw err
      throw new CompositePlanNotFoundError(`the composite's plan ${ref} cannot be read: ${(err as Error).message}`, { plan: ref })
    }
  }
  const dag = compilePlan(yaml, ref)
  checkNotSelfCalling(dag, capability, ref)
  const doc: CompositePlanDoc = { v: 1, kind: PLAN_DOC_KIND, yaml }
  const target = await blocks.put(doc)
  return { kind: COMPOSITE_KIND, target, options: { capability, ...(dag.source.cid != null ? { plan: dag.source.cid } : {}) } }
}
