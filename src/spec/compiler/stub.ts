/**
 * DSL step stubs from a capability spec, so specs and plans share one
 * vocabulary: the typed call signature and a plan entry to paste.
 *
 * @example
 * dslStub(ctx, 'Summarize')
 * // # Summarize 1.0.0 (spec bafyrei...)
 * // #   Summarize(text: string, max_words?: integer, ...) -> {summary: string, words: integer}
 * // - step: Summarize(text)
 * //   as: summarize
 */
import { commentText } from './emit/literals.js'
import type { CompileContext, CapabilityEntry } from './context.js'
import type { SchemaNode } from './ir.js'
import type { NamedType, TypeRef } from './shapes.js'
import { NotACapabilitySpecError } from './errors.js'

/** A compact type notation for plans: integer stays integer, named structs are spelled out one level deep. */
function dslType (ctx: CompileContext, t: TypeRef, depth = 0): string {
  switch (t.kind) {
    case 'any': return 'any'
    case 'never': return 'never'
    case 'null': case 'boolean': case 'integer': case 'number': case 'string': return t.kind
    case 'literal': return t.values.map(v => JSON.stringify(v)).join(' | ')
    case 'array': {
      const inner = dslType(ctx, t.items, depth)
      return /[ |]/.test(inner) ? `(${inner})[]` : `${inner}[]`
    }
    case 'map': return `{[key]: ${dslType(ctx, t.values, depth)}}`
    case 'union': return t.options.map(o => dslType(ctx, o, depth)).join(' | ')
    case 'named': {
      const named = ctx.model.types.find(x => x.name === t.name) as NamedType
      if (named.kind === 'alias') return depth > 2 ? t.name : dslType(ctx, named.alias ?? { kind: 'any' }, depth + 1)
      if (depth > 0) return t.name
      return `{${(named.fields ?? []).map(f => `${f.json}${f.required ? '' : '?'}: ${dslType(ctx, f.type, depth + 1)}`).join(', ')}}`
    }
  }
}

/** Follows `$ref`s to the node that declares the properties. */
function structOf (node: SchemaNode): SchemaNode {
  let n = node
  for (let i = 0; i < 32 && n.properties == null && n.ref != null; i++) n = n.ref
  return n
}

function stubFor (ctx: CompileContext, cap: CapabilityEntry): string {
  const input = structOf(cap.input.node)
  const required = new Set(input.required ?? [])
  const params = (input.properties ?? []).map(p => `${p.name}${required.has(p.name) ? '' : '?'}: ${dslType(ctx, ctx.model.refOf(p.node), 1)}`)
  const signature = input.properties != null
    ? `${cap.info.name}(${params.join(', ')})`
    : `${cap.info.name}(input: ${dslType(ctx, cap.input.type)})`
  const args = input.properties != null ? input.properties.filter(p => required.has(p.name)).map(p => p.name) : ['input']
  const as = cap.info.name.replace(/[^A-Za-z0-9_]/g, '_').replace(/^[A-Z]/, c => c.toLowerCase())
  return [
    // schema text stays on its line (no newline can start a YAML entry of its own)
    `# ${cap.info.name} ${commentText(cap.info.version)} (spec ${cap.specCid})${cap.info.description != null ? `: ${commentText(cap.info.description.split('\n')[0])}` : ''}`,
    `#   ${commentText(`${signature} -> ${dslType(ctx, cap.output.type)}`)}`,
    `- step: ${cap.info.name}(${commentText(args.join(', '))})`,
    `  as: ${as}`,
    ''
  ].join('\n')
}

/** The DSL stub of every capability spec in the compilation (or of the one named). */
export function dslStub (ctx: CompileContext, name?: string): string {
  const caps = ctx.capabilities.filter(c => c.input.doc.input && (name == null || c.info.name === name))
  if (caps.length === 0) {
    throw new NotACapabilitySpecError(name != null ? `no capability spec named ${name} among the inputs` : 'no capability spec among the inputs: a capability spec has "x-pl-capability": {name, version} (see docs/SPEC.md)')
  }
  return caps.map(c => stubFor(ctx, c)).join('\n')
}
