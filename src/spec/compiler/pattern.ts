/**
 * `pattern` portability. ajv runs patterns as ECMAScript `RegExp(p, 'u')`
 * with search semantics; the generated Python uses `re.search` and the Go
 * code `regexp.MatchString`. The three dialects disagree on `.`, `$`, `\d`,
 * `\w`, `\s` and escapes, so each pattern is tokenized once and rewritten to
 * mean exactly what it means in JS. Constructs RE2 or `re` lack (lookaround,
 * backreferences, Unicode property escapes) are refused.
 *
 * @example
 * translatePattern('^\\d{2}$').py // '^[0-9]{2}\\Z'
 */
import { UnsupportedPatternError } from './errors.js'

export interface TranslatedPattern {
  /** the pattern as given (ECMAScript, run with the `u` flag) */
  js: string
  /** for Python `re.compile(p, re.ASCII)` + `search` */
  py: string
  /** for Go `regexp.MustCompile(p)` + `MatchString` */
  go: string
}

/** ECMAScript `\s`: WhiteSpace + LineTerminator code points. */
const WS: Array<[number, number]> = [[0x09, 0x0d], [0x20, 0x20], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a], [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000], [0xfeff, 0xfeff]]
const DIGIT: Array<[number, number]> = [[0x30, 0x39]]
const WORD: Array<[number, number]> = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]]
/** ECMAScript `.` without the `s` flag: anything but line terminators. */
const NOT_DOT: Array<[number, number]> = [[0x0a, 0x0a], [0x0d, 0x0d], [0x2028, 0x2029]]
/** RE2 refuses repeat counts above this. */
const MAX_REPEAT = 1000

type Lang = 'py' | 'go'

/** One code point as a regex escape both dialects read the same way. */
function cp (lang: Lang, code: number): string {
  if (code >= 0x21 && code <= 0x7e && /[A-Za-z0-9_]/.test(String.fromCharCode(code))) return String.fromCharCode(code)
  if (lang === 'go') return `\\x{${code.toString(16)}}`
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`
  if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, '0')}`
  return `\\U${code.toString(16).padStart(8, '0')}`
}

function ranges (lang: Lang, list: Array<[number, number]>): string {
  return list.map(([a, b]) => a === b ? cp(lang, a) : `${cp(lang, a)}-${cp(lang, b)}`).join('')
}

class Translator {
  private i = 0
  private readonly out: Record<Lang, string> = { py: '', go: '' }

  constructor (private readonly src: string, private readonly where: string) {}

  private fail (what: string): never {
    throw new UnsupportedPatternError(`pattern ${JSON.stringify(this.src)} at ${this.where}: ${what} (supported: the regex subset shared by ECMAScript, Python re and Go RE2, see docs/SPEC.md)`, { pattern: this.src, pointer: this.where })
  }

  private emit (py: string, go: string = py): void {
    this.out.py += py
    this.out.go += go
  }

  private emitCode (code: number): void {
    this.emit(cp('py', code), cp('go', code))
  }

  private emitSet (list: Array<[number, number]>, negate: boolean): void {
    this.emit(`[${negate ? '^' : ''}${ranges('py', list)}]`, `[${negate ? '^' : ''}${ranges('go', list)}]`)
  }

  run (): Record<Lang, string> {
    const s = this.src
    while (this.i < s.length) {
      const c = s[this.i]
      if (c === '\\') this.escapeOutside()
      else if (c === '[') this.charClass()
      else if (c === '.') { this.i++; this.emitSet(NOT_DOT, true) }
      else if (c === '$') { this.i++; this.emit('\\Z', '\\z') }
      else if (c === '(') this.group()
      else if (c === '{') this.repeat()
      else {
        const code = s.codePointAt(this.i) as number
        this.i += code > 0xffff ? 2 : 1
        if ('^|)*+?'.includes(c)) this.emit(c)
        else this.emitLiteral(code)
      }
    }
    return this.out
  }

  private emitLiteral (code: number): void {
    const ch = String.fromCodePoint(code)
    if (/[A-Za-z0-9_ ]/.test(ch) || code > 0x7e) this.emit(ch)
    else this.emitCode(code)
  }

  private group (): void {
    const s = this.src
    this.i++
    if (s[this.i] !== '?') { this.emit('('); return }
    const rest = s.slice(this.i)
    if (rest.startsWith('?:')) { this.i += 2; this.emit('(?:'); return }
    if (rest.startsWith('?=') || rest.startsWith('?!') || rest.startsWith('?<=') || rest.startsWith('?<!')) this.fail('lookaround is not supported by Go RE2')
    const named = /^\?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest)
    if (named != null) { this.i += named[0].length; this.emit(`(?P<${named[1]}>`); return }
    this.fail(`unsupported group syntax "(${rest.slice(0, 3)}"`)
  }

  private repeat (): void {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i))
    if (m == null) this.fail('a lone "{" (escape it as \\{)')
    for (const n of [m[1], m[3]]) {
      if (n != null && n !== '' && Number(n) > MAX_REPEAT) this.fail(`repeat count ${n} is over ${MAX_REPEAT} (Go RE2 limit)`)
    }
    this.i += m[0].length
    this.emit(m[0])
  }

  /** Reads an escape that stands for one code point; returns undefined for class escapes. */
  private codeEscape (inClass: boolean): number | undefined {
    const s = this.src
    const c = s[this.i + 1]
    const hex = (n: number): number => {
      const h = s.slice(this.i + 2, this.i + 2 + n)
      if (!new RegExp(`^[0-9A-Fa-f]{${n}}$`).test(h)) this.fail(`bad \\${c} escape`)
      this.i += 2 + n
      return parseInt(h, 16)
    }
    switch (c) {
      case 't': this.i += 2; return 0x09
      case 'n': this.i += 2; return 0x0a
      case 'v': this.i += 2; return 0x0b
      case 'f': this.i += 2; return 0x0c
      case 'r': this.i += 2; return 0x0d
      case '0':
        if (/[0-9]/.test(s[this.i + 2] ?? '')) this.fail('octal escapes are not supported')
        this.i += 2
        return 0
      case 'x': return hex(2)
      case 'c': {
        const l = s[this.i + 2] ?? ''
        if (!/[A-Za-z]/.test(l)) this.fail('bad \\c escape')
        this.i += 3
        return l.charCodeAt(0) % 32
      }
      case 'u': {
        if (s[this.i + 2] === '{') {
          const m = /^\\u\{([0-9A-Fa-f]{1,6})\}/.exec(s.slice(this.i))
          if (m == null || parseInt(m[1], 16) > 0x10ffff) this.fail('bad \\u{...} escape')
          this.i += m[0].length
          return parseInt(m[1], 16)
        }
        const hi = hex(4)
        // a surrogate pair written as two escapes is one code point under the u flag
        if (hi >= 0xd800 && hi <= 0xdbff && /^\\u[dD][c-fC-F][0-9A-Fa-f]{2}/.test(s.slice(this.i))) {
          const lo = parseInt(s.slice(this.i + 2, this.i + 6), 16)
          this.i += 6
          return 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
        }
        if (hi >= 0xd800 && hi <= 0xdfff) this.fail('a lone surrogate escape')
        return hi
      }
      case 'b':
        if (inClass) { this.i += 2; return 0x08 }
        return undefined
      default:
        if (c != null && /[\^$\\.*+?()[\]{}|/-]/.test(c)) {
          if (c === '-' && !inClass) this.fail('"\\-" outside a character class')
          this.i += 2
          return c.charCodeAt(0)
        }
        return undefined
    }
  }

  private escapeOutside (): void {
    const c = this.src[this.i + 1]
    if (c === undefined) this.fail('a trailing backslash')
    const sets: Record<string, [Array<[number, number]>, boolean]> = { d: [DIGIT, false], D: [DIGIT, true], w: [WORD, false], W: [WORD, true], s: [WS, false], S: [WS, true] }
    if (c in sets) { this.i += 2; this.emitSet(...sets[c]); return }
    if (c === 'b' || c === 'B') { this.i += 2; this.emit(`\\${c}`); return }
    if (/[1-9]/.test(c) || c === 'k') this.fail('backreferences are not supported by Go RE2')
    if (c === 'p' || c === 'P') this.fail('Unicode property escapes are not supported by Python re')
    const code = this.codeEscape(false)
    if (code === undefined) this.fail(`unknown escape "\\${c}"`)
    this.emitCode(code)
  }

  private charClass (): void {
    const s = this.src
    this.i++
    let negate = false
    if (s[this.i] === '^') { negate = true; this.i++ }
    const parts: Array<[number, number]> = []
    const items: Array<number | 'dash' | Array<[number, number]>> = []
    while (this.i < s.length && s[this.i] !== ']') {
      let atom: number | 'dash' | Array<[number, number]>
      if (s[this.i] === '-') {
        this.i++
        atom = 'dash'
      } else if (s[this.i] === '\\') {
        const c = s[this.i + 1]
        if (c === 'd' || c === 'w' || c === 's') { this.i += 2; atom = c === 'd' ? DIGIT : c === 'w' ? WORD : WS } else if (c === 'D' || c === 'W' || c === 'S') {
          this.fail(`"\\${c}" inside a character class`)
        } else {
          if (c === 'p' || c === 'P') this.fail('Unicode property escapes are not supported by Python re')
          const code = this.codeEscape(true)
          if (code === undefined) this.fail(`unknown escape "\\${c ?? ''}" in a character class`)
          atom = code
        }
      } else {
        const code = s.codePointAt(this.i) as number
        this.i += code > 0xffff ? 2 : 1
        atom = code
      }
      items.push(atom)
    }
    if (this.i >= s.length) this.fail('an unterminated character class')
    this.i++ // ]
    // fold `a-b` ranges; a '-' first, last or next to a class escape is literal (as in JS)
    for (let k = 0; k < items.length; k++) {
      const a = items[k]
      const b = items[k + 2]
      if (typeof a === 'number' && items[k + 1] === 'dash' && typeof b === 'number') {
        if (b < a) this.fail('a character range out of order')
        parts.push([a, b])
        k += 2
      } else if (a === 'dash') {
        parts.push([0x2d, 0x2d])
      } else if (typeof a === 'number') {
        parts.push([a, a])
      } else {
        parts.push(...a)
      }
    }
    if (parts.length === 0) {
      // JS: [] matches nothing, [^] matches any code point
      const all: Array<[number, number]> = [[0, 0x10ffff]]
      this.emitSet(all, !negate)
      return
    }
    this.emitSet(parts, negate)
  }
}

/** Rewrites an ECMAScript pattern for Python and Go; throws UnsupportedPatternError when it cannot be portable. */
export function translatePattern (pattern: string, where = '#'): TranslatedPattern {
  try {
    new RegExp(pattern, 'u')
  } catch (err) {
    throw new UnsupportedPatternError(`pattern ${JSON.stringify(pattern)} at ${where} is not a valid ECMAScript regex: ${(err as Error).message}`, { pattern, pointer: where })
  }
  const out = new Translator(pattern, where).run()
  return { js: pattern, py: out.py, go: out.go }
}
