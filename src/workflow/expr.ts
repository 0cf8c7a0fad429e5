/**
 * Safe expressions for `when:` and `until:`: dotted references, literals,
 * `!`, `&&`, `||`, `==`, `!=`, `<`, `<=`, `>`, `>=` and parentheses. A
 * hand-written parser over a tiny grammar; nothing is ever `eval`ed.
 *
 *   or   := and ('||' and)*
 *   and  := cmp ('&&' cmp)*
 *   cmp  := unary (('=='|'!='|'<'|'<='|'>'|'>=') unary)?
 *   unary:= '!' unary | atom
 *   atom := number | string | true | false | null | ref | '(' or ')'
 *   ref  := ident ('.' (ident | digits))*
 *
 * @example evalExpr(parseExpr('label.score > 0.8'), { label: { score: 0.9 } }) // true
 */
import type { Json } from '../core/encoding.js'
import type { Expr } from './ir.js'
import { ExprSyntaxError, ExprTypeError } from './errors.js'
import { show } from './show.js'

/** Longest expression text accepted. */
export const MAX_EXPR_LENGTH = 4096
/** Deepest nesting of `!` and parentheses accepted. */
export const MAX_EXPR_DEPTH = 64

type Tok =
  | { t: 'num', v: number, at: number }
  | { t: 'str', v: string, at: number }
  | { t: 'id', v: string, at: number }
  | { t: 'op', v: string, at: number }
  | { t: 'end', at: number }

const OPS = ['&&', '||', '==', '!=', '<=', '>=', '<', '>', '!', '(', ')', '.']

function tokenize (text: string): Tok[] {
  const out: Tok[] = []
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (/\s/.test(c)) { i++; continue }
    const num = /^-?(?:\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 64))
    // a digit run right after '.' is a path segment (items.0), not a number
    const prev = out.at(-1)
    if (num != null && !(prev?.t === 'op' && prev.v === '.')) {
      const v = Number(num[0])
      if (!Number.isFinite(v)) throw new ExprSyntaxError(`number out of range at column ${i + 1}: ${num[0]}`, { column: i + 1 })
      out.push({ t: 'num', v, at: i }); i += num[0].length; continue
    }
    if (/[A-Za-z_0-9]/.test(c)) {
      const m = /^[A-Za-z_0-9][A-Za-z0-9_]*/.exec(text.slice(i))!
      out.push({ t: 'id', v: m[0], at: i }); i += m[0].length; continue
    }
    if (c === '"' || c === "'") {
      let j = i + 1
      let s = ''
      for (;;) {
        if (j >= text.length) throw new ExprSyntaxError(`unterminated string starting at column ${i + 1}`, { column: i + 1 })
        const d = text[j]
        if (d === c) break
        if (d === '\\') {
          const e = text[j + 1]
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'" }
          if (e == null || map[e] == null) throw new ExprSyntaxError(`bad escape \\${e ?? ''} at column ${j + 1}`, { column: j + 1 })
          s += map[e]; j += 2; continue
        }
        s += d; j++
      }
      out.push({ t: 'str', v: s, at: i }); i = j + 1; continue
    }
    const op = OPS.find(o => text.startsWith(o, i))
    if (op == null) throw new ExprSyntaxError(`unexpected character ${JSON.stringify(c)} at column ${i + 1}`, { column: i + 1 })
    out.push({ t: 'op', v: op, at: i }); i += op.length
  }
  out.push({ t: 'end', at: text.length })
  return out
}

function describe (tok: Tok): string {
  return tok.t === 'end' ? 'end of expression' : `${JSON.stringify(String(tok.v))} at column ${tok.at + 1}`
}

/** Parses an expression; throws ExprSyntaxError (details.column is 1-based). */
export function parseExpr (text: string): Expr {
  if (typeof text !== 'string') throw new ExprSyntaxError(`expression must be a string, got ${typeof text}`)
  if (text.length > MAX_EXPR_LENGTH) throw new ExprSyntaxError(`expression is too long (${text.length} > ${MAX_EXPR_LENGTH} characters)`)
  const toks = tokenize(text)
  let p = 0
  const peek = (): Tok => toks[p]
  const isOp = (v: string): boolean => { const t = toks[p]; return t.t === 'op' && t.v === v }
  const fail = (what: string): never => {
    const t = peek()
    throw new ExprSyntaxError(`${what}, found ${describe(t)} in ${JSON.stringify(text)}`, { column: t.at + 1 })
  }

  function or (depth: number): Expr {
    const args = [and(depth)]
    while (isOp('||')) { p++; args.push(and(depth)) }
    return args.length === 1 ? args[0] : { op: 'or', args }
  }
  function and (depth: number): Expr {
    const args = [cmp(depth)]
    while (isOp('&&')) { p++; args.push(cmp(depth)) }
    return args.length === 1 ? args[0] : { op: 'and', args }
  }
  function cmp (depth: number): Expr {
    const left = unary(depth)
    const t = peek()
    if (t.t === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.v)) {
      p++
      const right = unary(depth)
      const n = peek()
      if (n.t === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(n.v)) fail('comparisons do not chain: add parentheses')
      return { op: t.v as '==', left, right }
    }
    return left
  }
  function unary (depth: number): Expr {
    if (depth > MAX_EXPR_DEPTH) fail(`expression nests deeper than ${MAX_EXPR_DEPTH}`)
    if (isOp('!')) { p++; return { op: 'not', arg: unary(depth + 1) } }
    return atom(depth)
  }
  function atom (depth: number): Expr {
    const t = peek()
    if (t.t === 'num') { p++; return { op: 'lit', value: t.v } }
    if (t.t === 'str') { p++; return { op: 'lit', value: t.v } }
    if (t.t === 'op' && t.v === '(') {
      p++
      const inner = or(depth + 1)
      if (!isOp(')')) fail('expected )')
      p++
      return inner
    }
    if (t.t === 'id') {
      if (/^\d/.test(t.v)) fail('expected a name (names start with a letter or _)')
      p++
      if (t.v === 'true' || t.v === 'false') return { op: 'lit', value: t.v === 'true' }
      if (t.v === 'null') return { op: 'lit', value: null }
      const path = [t.v]
      while (isOp('.')) {
        p++
        const s = peek()
        if (s.t !== 'id') fail('expected a name or index after .')
        path.push((s as { v: string }).v)
        p++
      }
      return { op: 'ref', path }
    }
    return fail('expected a value, a name, ! or (')
  }

  const expr = or(0)
  if (peek().t !== 'end') fail('expected an operator or the end')
  return expr
}

/** The first segment of every reference in `expr` (the names it depends on). */
export function exprRoots (expr: Expr): string[] {
  const out = new Set<string>()
  const walk = (e: Expr): void => {
    switch (e.op) {
      case 'lit': return
      case 'ref': out.add(e.path[0]); return
      case 'not': walk(e.arg); return
      case 'and': case 'or': e.args.forEach(walk); return
      default: walk(e.left); walk(e.right)
    }
  }
  walk(expr)
  return [...out]
}

/** Renders an expression back to text (for messages and Graphviz labels), with only the parentheses it needs. */
export function exprToText (expr: Expr): string {
  switch (expr.op) {
    case 'lit': return show(expr.value, Infinity)
    case 'ref': return expr.path.join('.')
    case 'not': return `!${wrap(expr.arg, 4)}`
    case 'and': return expr.args.map(a => wrap(a, 3)).join(' && ')
    case 'or': return expr.args.map(a => wrap(a, 2)).join(' || ')
    default: return `${wrap(expr.left, 4)} ${expr.op} ${wrap(expr.right, 4)}`
  }
}

/** Binding strength: or 1, and 2, comparisons 3, not 4, values 5. */
function precedence (e: Expr): number {
  switch (e.op) {
    case 'or': return 1
    case 'and': return 2
    case 'not': return 4
    case 'lit': case 'ref': return 5
    default: return 3
  }
}

function wrap (e: Expr, min: number): string {
  return precedence(e) >= min ? exprToText(e) : `(${exprToText(e)})`
}

function lookup (scope: Record<string, Json>, path: string[]): Json {
  let cur: Json | undefined = Object.prototype.hasOwnProperty.call(scope, path[0]) ? scope[path[0]] : undefined
  for (const seg of path.slice(1)) {
    if (cur == null || typeof cur !== 'object') return null
    if (Array.isArray(cur)) {
      cur = /^\d+$/.test(seg) ? cur[Number(seg)] : undefined
    } else {
      cur = Object.prototype.hasOwnProperty.call(cur, seg) ? cur[seg] : undefined
    }
  }
  return cur ?? null
}

/** JS-like truthiness over JSON: null, false, 0 and "" are false. */
export function truthy (v: Json): boolean {
  return !(v === null || v === false || v === 0 || v === '')
}

function jsonEqual (a: Json, b: Json): boolean {
  if (a === b) return true
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a)) return a.length === (b as Json[]).length && a.every((v, i) => jsonEqual(v, (b as Json[])[i]))
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  return ka.length === kb.length && ka.every(k => Object.prototype.hasOwnProperty.call(b, k) && jsonEqual((a as Record<string, Json>)[k], (b as Record<string, Json>)[k]))
}

/**
 * Evaluates an expression over a scope of JSON values. A reference to a
 * missing name or path is `null`; ordering compares two numbers or two
 * strings and throws ExprTypeError for anything else.
 */
export function evalExpr (expr: Expr, scope: Record<string, Json>): Json {
  switch (expr.op) {
    case 'lit': return expr.value
    case 'ref': return lookup(scope, expr.path)
    case 'not': return !truthy(evalExpr(expr.arg, scope))
    case 'and': return expr.args.every(a => truthy(evalExpr(a, scope)))
    case 'or': return expr.args.some(a => truthy(evalExpr(a, scope)))
    case '==': return jsonEqual(evalExpr(expr.left, scope), evalExpr(expr.right, scope))
    case '!=': return !jsonEqual(evalExpr(expr.left, scope), evalExpr(expr.right, scope))
    case '<': case '<=': case '>': case '>=': {
      const l = evalExpr(expr.left, scope)
      const r = evalExpr(expr.right, scope)
      if (!((typeof l === 'number' && typeof r === 'number') || (typeof l === 'string' && typeof r === 'string'))) {
        throw new ExprTypeError(`cannot compare ${typeName(l)} ${expr.op} ${typeName(r)} in ${exprToText(expr)}`, { expr: exprToText(expr) })
      }
      switch (expr.op) {
        case '<': return l < r
        case '<=': return l <= r
        case '>': return l > r
        default: return l >= r
      }
    }
    default:
      throw new ExprSyntaxError(`unknown expression operator ${show((expr as { op: unknown }).op)}`)
  }
}

function typeName (v: Json): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `${typeof v} ${show(v)}`
}
