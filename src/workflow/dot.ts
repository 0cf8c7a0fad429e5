/**
 * Graphviz rendering of a Task DAG: one node per step (id, kind, capability),
 * solid edges for dependencies, labelled edges from a branch to its arms and
 * from a loop to its body, and a dotted back edge for the loop's repeat.
 */
import type { Step, TaskDag } from './ir.js'
import { dependencies } from './validate.js'
import { exprToText } from './expr.js'

function q (text: string): string {
  return '"' + text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"'
}

const SHAPES: Record<Step['kind'], string> = {
  call: 'box', map: 'box3d', reduce: 'invtrapezium', join: 'trapezium', branch: 'diamond', loop: 'doubleoctagon', human: 'house'
}

function label (s: Step): string {
  const lines = [s.id]
  const cap = s.capability != null ? s.capability.name + (s.capability.version != null ? `@${s.capability.version}` : '') : undefined
  lines.push(cap != null ? `${s.kind} ${cap}` : s.kind)
  if (s.as != null) lines.push(`as ${s.as}`)
  if (s.condition != null) lines.push(`when ${exprToText(s.condition)}`)
  if (s.kind === 'loop') lines.push(`max ${String(s.max)}${s.until != null ? ` until ${exprToText(s.until)}` : ''}`)
  return lines.join('\n')
}

/** Graphviz `dot` text of the DAG. @example toDot(dag) // 'digraph "summarize" { ... }' */
export function toDot (dag: TaskDag): string {
  const out = [`digraph ${q(dag.name)} {`, '  rankdir=TB;', '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];']
  for (const s of Object.values(dag.steps)) {
    const attrs = [`label=${q(label(s))}`, `shape=${SHAPES[s.kind] ?? 'box'}`]
    if (dag.outputs.includes(s.id)) attrs.push('peripheries=2')
    if (dag.router?.step === s.id) attrs.push('style=bold')
    out.push(`  ${q(s.id)} [${attrs.join(', ')}];`)
  }
  for (const s of Object.values(dag.steps)) {
    for (const d of dependencies(s)) {
      if (d === s.parent) continue // drawn below, labelled
      out.push(`  ${q(d)} -> ${q(s.id)};`)
    }
    for (const c of s.then ?? []) out.push(`  ${q(s.id)} -> ${q(c)} [label="then", style=dashed];`)
    for (const c of s.else ?? []) out.push(`  ${q(s.id)} -> ${q(c)} [label="else", style=dashed];`)
    for (const c of s.body ?? []) out.push(`  ${q(s.id)} -> ${q(c)} [label="body", style=dashed];`)
    const last = s.body?.at(-1)
    if (last != null) out.push(`  ${q(last)} -> ${q(s.id)} [label="repeat", style=dotted, constraint=false];`)
  }
  out.push('}')
  return out.join('\n') + '\n'
}
