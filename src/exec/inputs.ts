/**
 * What a module sees: `input_data = { ...runInput, ...args, previous_outputs }`.
 * Run input values `cid:<CID>` naming a document in the local block store
 * are replaced by that document before the run starts; any other string
 * (`cid:doc-123`, a CID this node does not have) is left as is.
 */
import { CID } from 'multiformats/cid'
import { decodeCanonical } from '../core/encoding.js'
import type { BlockStore } from '../store/index.js'
import type { Binding } from '../workflow/index.js'
import { BindingError } from './errors.js'

/** Decoded dag-cbor as plain JSON: links become `cid:<CID>` strings, bytes base64. */
export function toPlain (value: unknown): unknown {
  if (value == null || typeof value !== 'object') return value
  const cid = CID.asCID(value)
  if (cid != null) return `cid:${cid.toString()}`
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64')
  if (Array.isArray(value)) return value.map(toPlain)
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = toPlain(v)
  return out
}

export async function resolveCidInputs (input: Record<string, unknown>, blocks: BlockStore): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(input)) {
    out[k] = v
    if (typeof v !== 'string' || !v.startsWith('cid:')) continue
    let cid: CID
    try {
      cid = CID.parse(v.slice(4))
    } catch {
      continue
    }
    const bytes = await blocks.getBytes(cid.toString())
    if (bytes == null) continue
    out[k] = toPlain(decodeCanonical(bytes))
  }
  return out
}

/** Follows a path of keys / list indexes into a value; missing parts give undefined. */
export function pick (value: unknown, path: string[] | undefined): unknown {
  let cur = value
  for (const seg of path ?? []) {
    if (cur == null || typeof cur !== 'object') return undefined
    cur = Array.isArray(cur) ? (/^\d+$/.test(seg) ? cur[Number(seg)] : undefined) : (cur as Record<string, unknown>)[seg]
  }
  return cur
}

export interface BindingScope {
  input: Record<string, unknown>
  /** latest output of a step id; `skipped` steps resolve to null */
  output: (stepId: string) => { value: unknown } | undefined
  /** the current element of a map step */
  item?: { step: string, value: unknown }
}

export function resolveBinding (b: Binding, scope: BindingScope, where: string): unknown {
  switch (b.from) {
    case 'const': return b.value
    case 'input': {
      if (!(b.name in scope.input)) throw new BindingError(`${where}: the run has no input named '${b.name}'`, { binding: b })
      return pick(scope.input[b.name], b.path) ?? null
    }
    case 'step': {
      const out = scope.output(b.step)
      if (out == null) throw new BindingError(`${where}: step '${b.step}' has no output`, { binding: b })
      return pick(out.value, b.path) ?? null
    }
    case 'item': {
      if (scope.item == null || scope.item.step !== b.step) throw new BindingError(`${where}: an item binding outside its map step '${b.step}'`, { binding: b })
      return scope.item.value
    }
    default:
      throw new BindingError(`${where}: unknown binding ${JSON.stringify(b)}`, { binding: b })
  }
}

/** A map's `over` value as a list: a non-list is a one-element list. */
export function asList (value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value]
}

/** Map output: the element outputs, flattened one level when every one is a list. */
export function mapOutput (outputs: unknown[]): unknown[] {
  return outputs.length > 0 && outputs.every(Array.isArray) ? (outputs as unknown[][]).flat() : outputs
}
