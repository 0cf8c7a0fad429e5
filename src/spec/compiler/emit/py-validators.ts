/**
 * Python validators: one function per schema node, generated from the IR for
 * the supported keyword subset, with ajv's semantics (type applicability,
 * JavaScript numbers, code-point string lengths, search-semantics patterns).
 * Each function returns None when the value is valid, else a message naming
 * the failing path.
 *
 * @example
 * emitPyValidators(ctx) // 'def _n0(x: Any, p: str) -> Optional[str]: ...'
 */
import type { CompileContext } from '../context.js'
import type { SchemaNode } from '../ir.js'
import type { JsonType } from '../subset.js'
import { commentText, pyDocText, pyLiteral, pyString, snake } from './literals.js'

const PRED: Record<JsonType, string> = {
  null: 'rt.is_null', boolean: 'rt.is_bool', object: 'rt.is_object', array: 'rt.is_array', number: 'rt.is_number', integer: 'rt.is_integer', string: 'rt.is_string'
}

class PyValidatorEmitter {
  private readonly consts: string[] = []
  private readonly constNames = new Map<string, string>()

  constructor (private readonly ctx: CompileContext) {}

  /** A module-level constant (one per distinct expression). */
  private constant (expr: string): string {
    let name = this.constNames.get(expr)
    if (name == null) {
      name = `_K${this.consts.length}`
      this.constNames.set(expr, name)
      this.consts.push(`${name} = ${expr}`)
    }
    return name
  }

  private fn (n: SchemaNode): string {
    return `_n${n.index}`
  }

  private node (n: SchemaNode): string {
    const body: string[] = []
    const fail = (msg: string, indent: string): void => { body.push(`${indent}return p + ${pyString(' ' + msg)}`) }
    const sub = (target: SchemaNode, value: string, path: string, indent: string): void => {
      body.push(`${indent}e = ${this.fn(target)}(${value}, ${path})`, `${indent}if e is not None:`, `${indent}    return e`)
    }
    if (n.bool === false) return this.wrap(n, [`    return p + ${pyString(' is not allowed (false schema)')}`], false)
    if (n.bool === true) return this.wrap(n, body)
    if (n.types != null) {
      body.push(`    if not (${n.types.map(t => `${PRED[t]}(x)`).join(' or ')}):`)
      fail(`must be ${n.types.join(' or ')}`, '        ')
    }
    if (n.const != null) {
      body.push(`    if not rt.json_equal(x, ${this.constant(pyLiteral(n.const.value))}):`)
      fail('must be equal to the constant', '        ')
    }
    if (n.enum != null) {
      body.push(`    if not any(rt.json_equal(x, v) for v in ${this.constant(pyLiteral(n.enum))}):`)
      fail('must be one of the allowed values', '        ')
    }
    const numeric: string[] = []
    if (n.minimum != null) numeric.push(`v < ${pyLiteral(n.minimum)}|must be >= ${n.minimum}`)
    if (n.maximum != null) numeric.push(`v > ${pyLiteral(n.maximum)}|must be <= ${n.maximum}`)
    if (n.exclusiveMinimum != null) numeric.push(`v <= ${pyLiteral(n.exclusiveMinimum)}|must be > ${n.exclusiveMinimum}`)
    if (n.exclusiveMaximum != null) numeric.push(`v >= ${pyLiteral(n.exclusiveMaximum)}|must be < ${n.exclusiveMaximum}`)
    if (n.multipleOf != null) numeric.push(`not rt.multiple_of(x, ${pyLiteral(n.multipleOf)})|must be a multiple of ${n.multipleOf}`)
    if (numeric.length > 0) {
      body.push('    if rt.is_number(x):', '        v = rt.num(x)')
      for (const c of numeric) {
        const [cond, msg] = c.split('|')
        body.push(`        if ${cond}:`)
        fail(msg, '            ')
      }
    }
    if (n.minLength != null || n.maxLength != null || n.pattern != null) {
      body.push('    if rt.is_string(x):')
      if (n.minLength != null) { body.push(`        if len(x) < ${n.minLength}:`); fail(`must have at least ${n.minLength} characters`, '            ') }
      if (n.maxLength != null) { body.push(`        if len(x) > ${n.maxLength}:`); fail(`must have at most ${n.maxLength} characters`, '            ') }
      if (n.pattern != null) {
        body.push(`        if ${this.constant(`re.compile(${pyString(n.pattern.py)}, re.ASCII)`)}.search(x) is None:`)
        fail(`must match pattern ${JSON.stringify(n.pattern.js)}`, '            ')
      }
    }
    // a block whose checks all turned out to be no-ops (`items: true`, `required: []`) is left out: Python refuses an empty `if`
    const section = (header: string, emit: () => void): void => {
      const at = body.length
      body.push(header)
      emit()
      if (body.length === at + 1) body.pop()
    }
    section('    if rt.is_object(x):', () => {
      for (const r of n.required ?? []) { body.push(`        if ${pyString(r)} not in x:`); fail(`must have required property ${JSON.stringify(r)}`, '            ') }
      if (n.minProperties != null) { body.push(`        if len(x) < ${n.minProperties}:`); fail(`must have at least ${n.minProperties} properties`, '            ') }
      if (n.maxProperties != null) { body.push(`        if len(x) > ${n.maxProperties}:`); fail(`must have at most ${n.maxProperties} properties`, '            ') }
      for (const prop of n.properties ?? []) {
        const k = pyString(prop.name)
        body.push(`        if ${k} in x:`)
        sub(prop.node, `x[${k}]`, `rt.child(p, ${k})`, '            ')
      }
      const ap = n.additionalProperties
      if (ap != null && ap.bool !== true) {
        const declared = this.constant(`frozenset(${pyLiteral((n.properties ?? []).map(q => q.name))})`)
        body.push('        for k, v in x.items():', `            if k not in ${declared}:`)
        if (ap.bool === false) body.push('                return rt.child(p, k) + " is not allowed (additionalProperties)"')
        else sub(ap, 'v', 'rt.child(p, k)', '                ')
      }
    })
    section('    if rt.is_array(x):', () => {
      if (n.minItems != null) { body.push(`        if len(x) < ${n.minItems}:`); fail(`must have at least ${n.minItems} items`, '            ') }
      if (n.maxItems != null) { body.push(`        if len(x) > ${n.maxItems}:`); fail(`must have at most ${n.maxItems} items`, '            ') }
      const prefix = n.prefixItems ?? []
      prefix.forEach((it, i) => {
        body.push(`        if len(x) > ${i}:`)
        sub(it, `x[${i}]`, `rt.child(p, ${i})`, '            ')
      })
      if (n.items != null && n.items.bool !== true) {
        body.push(`        for i in range(${prefix.length}, len(x)):`)
        sub(n.items, 'x[i]', 'rt.child(p, i)', '            ')
      }
      if (n.uniqueItems === true) { body.push('        if not rt.all_unique(x):'); fail('must not have duplicate items', '            ') }
    })
    for (const part of n.allOf ?? []) sub(part, 'x', 'p', '    ')
    if (n.anyOf != null) {
      body.push(`    if all(f(x, p) is not None for f in (${n.anyOf.map(a => this.fn(a)).join(', ')},)):`)
      fail('must match a schema in anyOf', '        ')
    }
    if (n.oneOf != null) {
      body.push(`    if sum(1 for f in (${n.oneOf.map(a => this.fn(a)).join(', ')},) if f(x, p) is None) != 1:`)
      fail('must match exactly one schema in oneOf', '        ')
    }
    if (n.not != null) {
      body.push(`    if ${this.fn(n.not)}(x, p) is None:`)
      fail('must not match the schema in "not"', '        ')
    }
    if (n.ref != null) sub(n.ref, 'x', 'p', '    ')
    return this.wrap(n, body)
  }

  private wrap (n: SchemaNode, body: string[], fallthrough = true): string {
    return `def ${this.fn(n)}(x: Any, p: str) -> Optional[str]:\n    # ${commentText(`${n.doc.key}#${n.pointer}`)}\n${body.join('\n')}${body.length > 0 ? '\n' : ''}${fallthrough ? '    return None\n' : ''}`
  }

  emit (): string {
    const fns = this.ctx.ir.nodes.map(n => this.node(n))
    const entries = this.ctx.entries
    const table = entries.map(e => `    ${pyString(e.label)}: ${this.fn(e.node)},`)
    const named = entries.map(e => `def validate_${snake(e.stem)}(doc: Any) -> None:\n    """Raises SpecValidationError unless doc is a valid ${pyDocText(e.label)}."""\n    validate(${pyString(e.label)}, doc)\n`)
    return `# Generated by pl spec compile — do not edit.
"""Validators for the compiled schemas (JSON Schema 2020-12 subset, ajv semantics)."""
from __future__ import annotations

import re
from typing import Any, Callable, Dict, Optional

from . import runtime as rt
from .runtime import SpecValidationError

${this.consts.join('\n')}


${fns.join('\n\n')}

VALIDATORS: Dict[str, Callable[[Any, str], Optional[str]]] = {
${table.join('\n')}
}


def error_of(name: str, doc: Any) -> Optional[str]:
    """None when doc is a valid \`name\` document, else why not."""
    check = VALIDATORS.get(name)
    if check is None:
        raise KeyError("unknown schema " + repr(name))
    e = check(doc, "")
    if e is None:
        return None
    return e if not e.startswith(" ") else "(root)" + e


def is_valid(name: str, doc: Any) -> bool:
    return error_of(name, doc) is None


def validate(name: str, doc: Any) -> None:
    """Raises SpecValidationError (naming the failing path) unless doc matches the schema."""
    e = error_of(name, doc)
    if e is not None:
        raise SpecValidationError(name + ": " + e, name, e.split(" ", 1)[0])


${named.join('\n\n')}`
  }
}

export function emitPyValidators (ctx: CompileContext): string {
  return new PyValidatorEmitter(ctx).emit()
}
