/**
 * Checks a run's input against the inputs its plan declares, before the run
 * starts: a declared input with no value (and no default) and a declared
 * input `cid:...` that names no block of this node are errors; keys the plan does not
 * declare are returned as warnings (a typo would otherwise run on defaults).
 *
 * @example
 * const { warnings } = await checkRunInputs(dag.inputs, input, store.blocks)
 */
import { CID } from 'multiformats/cid'
import type { BlockStore } from '../store/index.js'
import { PlError } from '../core/errors.js'

/** A run lacks an input its plan declares without a default. */
export class MissingRunInputError extends PlError {
  override name = 'MissingRunInputError'
}

/** A run input `cid:<CID>` names a document this node does not have (or is not a CID). */
export class UnresolvedInputError extends PlError {
  override name = 'UnresolvedInputError'
}

export async function checkRunInputs (declared: Record<string, unknown>, input: Record<string, unknown>, blocks: BlockStore): Promise<{ warnings: string[] }> {
  const names = Object.keys(declared)
  const warnings: string[] = []
  if (names.length > 0) {
    const unknown = Object.keys(input).filter(k => !names.includes(k))
    if (unknown.length > 0) warnings.push(`unknown input${unknown.length > 1 ? 's' : ''} ${unknown.map(k => `'${k}'`).join(', ')}: the plan declares ${names.map(k => `'${k}'`).join(', ')}`)
  }
  const merged = { ...declared, ...input }
  const missing = names.filter(k => merged[k] == null)
  if (missing.length > 0) {
    throw new MissingRunInputError(`the plan needs input${missing.length > 1 ? 's' : ''} ${missing.map(k => `'${k}'`).join(', ')} (pass --input '{"${missing[0]}": ...}')${warnings.length > 0 ? `; ${warnings[0]}` : ''}`, { missing })
  }
  // only the plan's declared inputs: an undeclared value is passed through as the module gave it
  for (const k of names) {
    const v = merged[k]
    if (typeof v !== 'string' || !v.startsWith('cid:')) continue
    const given = k in input ? 'given' : 'the plan\'s default'
    let cid: CID
    try {
      cid = CID.parse(v.slice(4))
    } catch {
      throw new UnresolvedInputError(`input '${k}' is ${v} (${given}), which is not a CID; store the document first (POST /blocks, or pass it inline)${warnings.length > 0 ? `; ${warnings[0]}` : ''}`, { input: k, cid: v })
    }
    if (await blocks.getBytes(cid.toString()) == null) {
      throw new UnresolvedInputError(`input '${k}' is ${v} (${given}), and this node has no block with CID ${cid.toString()}`, { input: k, cid: cid.toString() })
    }
  }
  return { warnings }
}
