/**
 * The DSL document's header sections — inputs, constraints, policy, select —
 * read from YAML nodes with positions kept for errors.
 */
import { isMap, isScalar, type Node, type Pair } from 'yaml'
import type { Json } from '../core/encoding.js'
import type { SelectWeight, TaskDag } from './ir.js'
import type { DslSource } from './dsl-source.js'
import { parseDuration } from './duration.js'
import { DslSchemaError, InvalidDurationError, InvalidSelectWeightError } from './errors.js'

/** Names usable in references: inputs, `as` names, select attributes. */
export const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** `inputs:` → plan inputs (plain names, JSON values). */
export function readInputs (src: DslSource, pair: Pair): Record<string, Json> {
  const out: Record<string, Json> = {}
  for (const [name, p] of src.entries(src.map(pair.value, 'inputs', pair))) {
    if (!NAME.test(name)) src.fail(DslSchemaError, p.key as Node, `input name '${name}' must be a plain name (letters, digits, _)`)
    out[name] = src.json(p.value, `input '${name}'`)
  }
  return out
}

/** `constraints:` → run constraints; `deadline` (ISO-8601) becomes `deadline_ms`. */
export function readConstraints (src: DslSource, pair: Pair): TaskDag['constraints'] {
  const out: TaskDag['constraints'] = {}
  for (const [key, p] of src.entries(src.map(pair.value, 'constraints', pair))) {
    if (key === 'deadline') {
      const text = src.string(p.value, 'constraints.deadline (an ISO-8601 duration such as PT30S)', p)
      let ms: number
      try { ms = parseDuration(text) } catch (err) { src.fail(InvalidDurationError, p.value as Node, (err as Error).message) }
      if (ms <= 0) src.fail(InvalidDurationError, p.value as Node, `deadline ${text} must be longer than zero`)
      out.deadline_ms = ms
    } else if (key === 'deadline_ms') {
      src.fail(DslSchemaError, p.key as Node, 'write the deadline as `deadline: PT30S` (an ISO-8601 duration)')
    } else {
      out[key] = src.json(p.value, `constraint '${key}'`)
    }
  }
  return out
}

/** `policy.require` → policy CIDs or names. */
export function readPolicy (src: DslSource, pair: Pair): string[] {
  const out: string[] = []
  for (const [key, p] of src.entries(src.map(pair.value, 'policy', pair))) {
    if (key !== 'require') src.fail(DslSchemaError, p.key as Node, `unknown policy key '${key}' (expected require)`)
    const seq = src.seq(p.value, 'policy.require', p)
    for (const item of seq.items) {
      const v = src.string(item, 'a required policy (a CID or a name)', seq)
      if (v.trim() === '') src.fail(DslSchemaError, item as Node, 'a required policy must not be empty')
      if (!out.includes(v)) out.push(v)
    }
  }
  return out
}

/** `select.optimize` → weights (`name:weight`, a number from 0 up). */
export function readSelect (src: DslSource, pair: Pair): SelectWeight[] {
  const out: SelectWeight[] = []
  for (const [key, p] of src.entries(src.map(pair.value, 'select', pair))) {
    if (key !== 'optimize') src.fail(DslSchemaError, p.key as Node, `unknown select key '${key}' (expected optimize)`)
    const seq = src.seq(p.value, 'select.optimize', p)
    for (const raw of seq.items) {
      const item = src.deref(raw)
      let attr: string
      let weight: unknown
      if (isMap(item)) {
        // `[readability: 0.6]` in a flow list is a one-pair mapping
        const pairs = src.entries(item)
        if (pairs.length !== 1) src.fail(InvalidSelectWeightError, item, 'a select weight is "name:weight", e.g. readability:0.6')
        attr = pairs[0][0]
        const v = src.deref(pairs[0][1].value)
        weight = isScalar(v) ? v.value : undefined
      } else {
        const text = src.string(item, 'a select weight ("name:weight", e.g. readability:0.6)', seq)
        const m = /^\s*([^:\s]+)\s*:\s*(\S+)\s*$/.exec(text)
        if (m == null) src.fail(InvalidSelectWeightError, item, `select weight ${JSON.stringify(text)} is not "name:weight", e.g. readability:0.6`)
        attr = m[1]
        weight = /^[0-9]+(?:\.[0-9]+)?$/.test(m[2]) ? Number(m[2]) : m[2]
      }
      if (!NAME.test(attr)) src.fail(InvalidSelectWeightError, item, `select attribute '${attr}' must be a plain name`)
      if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
        src.fail(InvalidSelectWeightError, item, `select weight for '${attr}' must be a number from 0 up, got ${JSON.stringify(weight ?? null)}`)
      }
      if (out.some(w => w.attr === attr)) src.fail(InvalidSelectWeightError, item, `select names '${attr}' twice`)
      out.push({ attr, weight })
    }
  }
  return out
}

