/**
 * Python bindings: a dataclass per struct (with `from_dict`/`to_dict`, and
 * `extra` keeping undeclared members of open objects) and a type alias plus
 * `from_X`/`to_X` converters per other named schema.
 *
 * @example
 * emitPyModels(ctx) // '@dataclass\nclass BidV1:\n    cfp: str\n ...'
 */
import type { CompileContext } from '../context.js'
import type { NamedType, TypeRef } from '../shapes.js'
import { commentText, pyDocText, pyIdent, pyLiteral, pyString, uniqueNames } from './literals.js'

/** The Python annotation of a type; named types quoted when `quote` (alias expressions run at import time). */
export function pyType (t: TypeRef, quote = false, prefix = ''): string {
  switch (t.kind) {
    case 'any':
    case 'never': return 'Any'
    case 'null': return 'None'
    case 'boolean': return 'bool'
    case 'integer': return 'int'
    case 'number': return 'float'
    case 'string': return 'str'
    case 'literal': return t.values.every(v => v === null || ['string', 'number', 'boolean'].includes(typeof v)) ? `Literal[${t.values.map(pyLiteral).join(', ')}]` : 'Any'
    case 'array': return `List[${pyType(t.items, quote, prefix)}]`
    case 'map': return `Dict[str, ${pyType(t.values, quote, prefix)}]`
    case 'named': return quote ? JSON.stringify(prefix + t.name) : prefix + t.name
    case 'union': return `Union[${t.options.map(o => pyType(o, quote, prefix)).join(', ')}]`
  }
}

class Converters {
  private depth = 0

  /** `prefix` qualifies generated names (e.g. 'models.' outside models.py) */
  constructor (private readonly byName: Map<string, NamedType>, private readonly prefix = '') {}

  needs (t: TypeRef): boolean {
    if (t.kind === 'named') return true
    if (t.kind === 'array') return this.needs(t.items)
    if (t.kind === 'map') return this.needs(t.values)
    return false
  }

  /** Expression turning JSON value `e` into the binding of `t`. */
  fromJson (t: TypeRef, e: string): string {
    if (t.kind === 'named') return (this.byName.get(t.name) as NamedType).kind === 'struct' ? `${this.prefix}${t.name}.from_dict(${e})` : `${this.prefix}from_${t.name}(${e})`
    if (!this.needs(t)) return e
    const v = `v${++this.depth}`
    try {
      if (t.kind === 'array') return `[${this.fromJson(t.items, v)} for ${v} in ${e}]`
      if (t.kind === 'map') return `{k${this.depth}: ${this.fromJson(t.values, v)} for k${this.depth}, ${v} in ${e}.items()}`
      return e
    } finally { this.depth-- }
  }

  /** Expression turning binding `e` of `t` back into a JSON value. */
  toJson (t: TypeRef, e: string): string {
    if (t.kind === 'named') return (this.byName.get(t.name) as NamedType).kind === 'struct' ? `${e}.to_dict()` : `${this.prefix}to_${t.name}(${e})`
    if (!this.needs(t)) return e
    const v = `v${++this.depth}`
    try {
      if (t.kind === 'array') return `[${this.toJson(t.items, v)} for ${v} in ${e}]`
      if (t.kind === 'map') return `{k${this.depth}: ${this.toJson(t.values, v)} for k${this.depth}, ${v} in ${e}.items()}`
      return e
    } finally { this.depth-- }
  }
}

/** Whether a JSON null is a valid value of the type. */
export function admitsNull (t: TypeRef, byName: Map<string, NamedType>, seen = new Set<string>()): boolean {
  switch (t.kind) {
    case 'any': case 'null': return true
    case 'literal': return t.values.includes(null)
    case 'union': return t.options.some(o => admitsNull(o, byName, seen))
    case 'named': {
      const n = byName.get(t.name)
      if (n == null || n.kind !== 'alias' || seen.has(t.name)) return false
      seen.add(t.name)
      return admitsNull(n.alias ?? { kind: 'any' }, byName, seen)
    }
    default: return false
  }
}

function docstring (text: string | undefined, indent: string): string {
  if (text == null || text === '') return ''
  return `${indent}"""${pyDocText(text)}"""\n`
}

function emitStruct (t: NamedType, conv: Converters, byName: Map<string, NamedType>): string {
  const fields = t.fields ?? []
  const idents = uniqueNames(fields.map(f => pyIdent(f.json)), ['from_dict', 'to_dict', 'extra', 'field', 'dataclass', 'JSON_NULL'])
  // optional members that may be null: None means absent, JSON_NULL a present null
  const members = fields.map((f, i) => ({ ...f, id: idents[i], nullable: !f.required && admitsNull(f.type, byName) }))
  const ordered = [...members.filter(f => f.required), ...members.filter(f => !f.required)]
  const lines: string[] = ['@dataclass', `class ${t.name}:`]
  if (t.description != null && t.description !== '') lines.push(docstring(t.description, '    ').trimEnd())
  for (const f of ordered) {
    const ann = f.required ? pyType(f.type) : f.nullable ? `Union[${pyType(f.type)}, JsonNull, None]` : `Optional[${pyType(f.type)}]`
    lines.push(`    ${f.id}: ${ann}${f.required ? '' : ' = None'}${f.description != null ? `  # ${commentText(f.description.split('\n')[0])}` : ''}`)
  }
  if (t.open === true) lines.push('    extra: Dict[str, Any] = field(default_factory=dict)  # members the schema does not declare')
  const declared = `(${fields.map(f => pyString(f.json)).join(', ')}${fields.length === 1 ? ',' : ''})`
  lines.push('', '    @classmethod', `    def from_dict(cls, d: Dict[str, Any]) -> "${t.name}":`, '        return cls(')
  const args = ordered.map(f => {
    const k = pyString(f.json)
    if (f.required) return `            ${f.id}=${conv.fromJson(f.type, `d[${k}]`)},`
    if (f.nullable) return `            ${f.id}=(JSON_NULL if d[${k}] is None else ${conv.fromJson(f.type, `d[${k}]`)}) if ${k} in d else None,`
    return `            ${f.id}=${conv.fromJson(f.type, `d[${k}]`)} if ${k} in d else None,`
  })
  if (t.open === true) args.push(`            extra={k: v for k, v in d.items() if k not in ${declared}},`)
  lines.push(...args, '        )', '')
  lines.push('    def to_dict(self) -> Dict[str, Any]:', '        out: Dict[str, Any] = {}')
  if (t.open === true) lines.push('        out.update(self.extra)')
  for (const f of members) {
    const set = `out[${pyString(f.json)}] = ${f.nullable ? `None if self.${f.id} is JSON_NULL else ` : ''}${conv.toJson(f.type, `self.${f.id}`)}`
    if (f.required) lines.push(`        ${set}`)
    else lines.push(`        if self.${f.id} is not None:`, `            ${set}`)
  }
  lines.push('        return out')
  return lines.join('\n') + '\n'
}

function emitAlias (t: NamedType, conv: Converters): string {
  const alias = t.alias ?? { kind: 'any' }
  return [
    `${t.name} = ${alias.kind === 'named' ? alias.name : pyType(alias, true)}`,
    ...(t.description != null ? [`"""${t.name}: ${pyDocText(t.description.split('\n')[0])}"""`] : []),
    '',
    '',
    `def from_${t.name}(v: Any) -> Any:`,
    `    return ${conv.fromJson(alias, 'v')}`,
    '',
    '',
    `def to_${t.name}(v: Any) -> Any:`,
    `    return ${conv.toJson(alias, 'v')}`,
    ''
  ].join('\n')
}

/** Aliases in an order where a bare alias of another alias comes after it. */
function orderAliases (aliases: NamedType[]): NamedType[] {
  const byName = new Map(aliases.map(a => [a.name, a]))
  const out: NamedType[] = []
  const seen = new Set<string>()
  const visit = (a: NamedType): void => {
    if (seen.has(a.name)) return
    seen.add(a.name)
    if (a.alias?.kind === 'named') {
      const dep = byName.get(a.alias.name)
      if (dep != null) visit(dep)
    }
    out.push(a)
  }
  aliases.forEach(visit)
  return out
}

export function emitPyModels (ctx: CompileContext): string {
  const types = ctx.model.types
  const byName = new Map(types.map(t => [t.name, t]))
  const conv = new Converters(byName)
  const structs = types.filter(t => t.kind === 'struct').map(t => emitStruct(t, conv, byName))
  const aliases = orderAliases(types.filter(t => t.kind === 'alias')).map(t => emitAlias(t, conv))
  return `# Generated by pl spec compile — do not edit.
"""Dataclasses and aliases for the compiled schemas."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, Optional, Union

from .runtime import JSON_NULL, JsonNull


${[...structs, ...aliases].join('\n\n')}`
}

export { Converters }
