/**
 * The DSL's call syntax, `Capability(arg, other.path, 'text', 3, key=value)`,
 * parsed by hand: a capability name (dotted, optional `@version`), then
 * positional arguments (references or literals) and `key=value` named ones.
 *
 * @example parseCall('Summarize(section, style="short")')
 * // { name: 'Summarize', args: [{ kind: 'ref', path: ['section'], at: 10 }, { kind: 'lit', value: 'short', name: 'style', at: 19 }] }
 */
import type { Json } from '../core/encoding.js'
import { CallSyntaxError } from './errors.js'

export type CallArg =
  | { kind: 'ref', path: string[], name?: string, at: number }
  | { kind: 'lit', value: Json, name?: string, at: number }

export interface ParsedCall {
  name: string
  version?: string
  args: CallArg[]
}

/** Longest call text accepted. */
export const MAX_CALL_LENGTH = 2048

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*/

/** Parses one call; CallSyntaxError.details.column is the 0-based offset of the problem. */
export function parseCall (text: string): ParsedCall {
  if (text.length > MAX_CALL_LENGTH) throw new CallSyntaxError(`call is too long (${text.length} > ${MAX_CALL_LENGTH} characters)`, { column: 0 })
  let i = 0
  const fail = (what: string, at = i): never => {
    const found = at >= text.length ? 'the end' : JSON.stringify(text[at])
    throw new CallSyntaxError(`${what} in call ${JSON.stringify(text)}, found ${found} at column ${at + 1}`, { column: at })
  }
  const ws = (): void => { while (i < text.length && /\s/.test(text[i])) i++ }
  const ident = (what: string): string => {
    const m = IDENT.exec(text.slice(i, i + 256))
    if (m == null) fail(`expected ${what}`)
    i += m![0].length
    return m![0]
  }
  const dotted = (first: string): string[] => {
    const path = [first]
    while (text[i] === '.') {
      i++
      const m = /^(?:[A-Za-z_][A-Za-z0-9_]*|\d+)/.exec(text.slice(i, i + 256))
      if (m == null) fail('expected a name or index after .')
      path.push(m![0])
      i += m![0].length
    }
    return path
  }
  const value = (): CallArg => {
    const at = i
    const c = text[i]
    if (c === '"' || c === "'") {
      let s = ''
      i++
      for (;;) {
        if (i >= text.length) fail('unterminated string', at)
        const d = text[i]
        if (d === c) { i++; break }
        if (d === '\\') {
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'" }
          const e = text[i + 1]
          if (e == null || map[e] == null) fail('bad escape', i)
          s += map[e]
          i += 2
          continue
        }
        s += d
        i++
      }
      return { kind: 'lit', value: s, at }
    }
    const num = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 64))
    if (num != null) {
      const v = Number(num[0])
      if (!Number.isFinite(v)) fail('number out of range')
      i += num[0].length
      return { kind: 'lit', value: v, at }
    }
    const id = ident('an argument (a name, a string or a number)')
    if (id === 'true' || id === 'false') return { kind: 'lit', value: id === 'true', at }
    if (id === 'null') return { kind: 'lit', value: null, at }
    return { kind: 'ref', path: dotted(id), at }
  }

  ws()
  const nameParts = dotted(ident('a capability name'))
  let version: string | undefined
  if (text[i] === '@') {
    i++
    const m = /^[A-Za-z0-9_.+-]+/.exec(text.slice(i, i + 128))
    if (m == null) fail('expected a version after @')
    version = m![0]
    i += m![0].length
  }
  ws()
  if (text[i] !== '(') fail('expected ( after the capability name')
  i++
  const args: CallArg[] = []
  ws()
  if (text[i] === ')') {
    i++
  } else {
    for (;;) {
      ws()
      const at = i
      const named = IDENT.exec(text.slice(i, i + 256))
      let name: string | undefined
      if (named != null) {
        let j = i + named[0].length
        while (j < text.length && /\s/.test(text[j])) j++
        if (text[j] === '=' && text[j + 1] !== '=') { name = named[0]; i = j + 1; ws() }
      }
      const arg = value()
      args.push(name != null ? { ...arg, name, at } : arg)
      ws()
      if (text[i] === ',') { i++; continue }
      if (text[i] === ')') { i++; break }
      fail('expected , or )')
    }
  }
  ws()
  if (i < text.length) fail('unexpected text after the call')
  return version != null ? { name: nameParts.join('.'), version, args } : { name: nameParts.join('.'), args }
}
