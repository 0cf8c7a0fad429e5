/**
 * The plan's constraint vocabulary (docs/TRUST.md#constraints). Every step's
 * module sees the plan's constraints as `context.constraints`; the requester
 * checks the ones that can be measured on an output before it countersigns:
 *
 *   length: "<30w" | "<=400c" | ">10w"   words (w) or characters (c) of the output's text;
 *                                       `<N` and `<=N` both mean at most N, `>N` / `>=N` at least N
 *   max_output_bytes: 4096              dag-cbor bytes of the output
 *   deadline: "PT30S"                   checked by negotiation (bids must fit it)
 *   max_price: 5                        checked by negotiation (bids above it are filtered)
 *   x-<anything>                        an extension: passed to modules, not checked (a warning says so)
 *
 * The output's text: the output itself when it is a string, else its first
 * string field among summary, text, output, result, content. Other outputs
 * (lists, records without such a field: a FetchSections step) are not text
 * outputs, and `length` does not apply to them.
 *
 * @example
 * checkOutputConstraints({ length: '<30w' }, { summary: 'one two three' }, 40) // ok
 * constraintWarnings({ 'x-tone': 'formal', colour: 'red' }) // two warnings
 */
import { ConstraintSyntaxError, ConstraintViolationError } from './errors.js'

/** Keys this node knows; anything else (besides `x-*`) gets a warning. */
export const CONSTRAINT_KEYS = ['length', 'max_output_bytes', 'deadline', 'max_price'] as const
const TEXT_FIELDS = ['summary', 'text', 'output', 'result', 'content']
const LENGTH = /^\s*(<=|>=|<|>|=)?\s*(\d+)\s*(w|words?|c|chars?|characters?)\s*$/i

export interface LengthRule { atMost?: number, atLeast?: number, unit: 'words' | 'characters' }

export function parseLength (text: unknown): LengthRule {
  const m = typeof text === 'string' ? LENGTH.exec(text) : null
  if (m == null) throw new ConstraintSyntaxError(`length ${JSON.stringify(text)} is not like "<30w", "<=400c" or ">10w"`, { constraint: 'length', value: text })
  const n = Number(m[2])
  const unit = m[3].toLowerCase().startsWith('w') ? 'words' : 'characters'
  switch (m[1]) {
    case '>': case '>=': return { atLeast: n, unit }
    case '=': return { atLeast: n, atMost: n, unit }
    default: return { atMost: n, unit }
  }
}

/** The text a `length` constraint measures (see the module doc), or undefined when the output holds none. */
export function outputText (output: unknown): string | undefined {
  if (typeof output === 'string') return output
  if (output == null || typeof output !== 'object' || Array.isArray(output)) return undefined
  const o = output as Record<string, unknown>
  for (const f of TEXT_FIELDS) if (typeof o[f] === 'string') return o[f]
  return undefined
}

export function measure (text: string, unit: LengthRule['unit']): number {
  return unit === 'words' ? text.split(/\s+/).filter(w => w !== '').length : [...text].length
}

/** Warnings for constraints this node passes on but does not check (x- extensions, unknown keys). */
export function constraintWarnings (constraints: Record<string, unknown> | undefined): string[] {
  const out: string[] = []
  for (const k of Object.keys(constraints ?? {})) {
    if (k.startsWith('x-')) out.push(`constraint ${k} is an extension: passed to modules, not checked`)
    else if (!(CONSTRAINT_KEYS as readonly string[]).includes(k)) out.push(`constraint ${k} is not in the vocabulary (${CONSTRAINT_KEYS.join(', ')}, x-*): passed to modules, not checked`)
  }
  return out
}

/** Throws ConstraintViolationError (constraint, limit, measured) for the first checkable constraint the output breaks. */
export function checkOutputConstraints (constraints: Record<string, unknown> | undefined, output: unknown, outputBytes: number): void {
  const c = constraints ?? {}
  if (c.length != null) {
    const rule = parseLength(c.length)
    const text = outputText(output)
    const n = text == null ? undefined : measure(text, rule.unit)
    if (n != null && rule.atMost != null && n > rule.atMost) throw new ConstraintViolationError(`length ${String(c.length)}: the output has ${n} ${rule.unit}, at most ${rule.atMost} allowed`, { constraint: 'length', limit: c.length, measured: n, unit: rule.unit })
    if (n != null && rule.atLeast != null && n < rule.atLeast) throw new ConstraintViolationError(`length ${String(c.length)}: the output has ${n} ${rule.unit}, at least ${rule.atLeast} required`, { constraint: 'length', limit: c.length, measured: n, unit: rule.unit })
  }
  if (c.max_output_bytes != null) {
    const max = Number(c.max_output_bytes)
    if (!Number.isFinite(max) || max < 0) throw new ConstraintSyntaxError(`max_output_bytes ${JSON.stringify(c.max_output_bytes)} is not a byte count`, { constraint: 'max_output_bytes', value: c.max_output_bytes })
    if (outputBytes > max) throw new ConstraintViolationError(`max_output_bytes ${max}: the output is ${outputBytes} bytes`, { constraint: 'max_output_bytes', limit: max, measured: outputBytes })
  }
}
