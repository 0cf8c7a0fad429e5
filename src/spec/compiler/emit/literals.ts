/**
 * Source literals for JSON values and names in the generated languages.
 *
 * @example
 * pyLiteral({ a: [1, null, true] }) // '{"a": [1, None, True]}'
 * goString('a"b')                    // '"a\\"b"'
 */

/**
 * Code points never written raw into generated source: controls (a `\n`,
 * `\r`, `\f` or NUL ends a comment or breaks a literal), format characters
 * (BOM, bidi overrides), line/paragraph separators (line terminators in
 * JavaScript), surrogates, private-use and unassigned code points.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}]/gu

function hex4 (c: number): string {
  return c.toString(16).padStart(4, '0')
}

/**
 * Schema-derived text made safe for a comment in any of the three languages:
 * one line, unsafe code points shown as `\uXXXX` / `\u{XXXXX}`, and `*` `/`
 * broken apart so it cannot close a block comment. For humans; never parsed.
 */
export function commentText (text: string): string {
  return text.replace(UNSAFE, ch => {
    const c = ch.codePointAt(0) as number
    return c > 0xffff ? `\\u{${c.toString(16)}}` : `\\u${hex4(c)}`
  }).replace(/\*\//g, '*\\/')
}

/** The body of a Python triple-quoted docstring: comment-safe lines (newlines kept), backslashes and quotes escaped. */
export function pyDocText (text: string): string {
  return text.split('\n').map(l => commentText(l).replace(/\\/g, '\\\\').replace(/"/g, '\\"')).join('\n')
}

/** A string as a TypeScript/JavaScript literal: no raw controls, separators or format characters. */
export function tsString (s: string): string {
  return JSON.stringify(s).replace(UNSAFE, ch => {
    const c = ch.codePointAt(0) as number
    if (c <= 0xffff) return `\\u${hex4(c)}`
    return `\\u${hex4(Math.floor((c - 0x10000) / 0x400) + 0xd800)}\\u${hex4(((c - 0x10000) % 0x400) + 0xdc00)}`
  })
}

/** A string as a Python `str` literal (same value; unsafe code points escaped). */
export function pyString (s: string): string {
  return JSON.stringify(s).replace(UNSAFE, ch => {
    const c = ch.codePointAt(0) as number
    return c > 0xffff ? `\\U${c.toString(16).padStart(8, '0')}` : `\\u${hex4(c)}`
  })
}

/** A Python expression for a JSON value. */
export function pyLiteral (v: unknown): string {
  if (v === null) return 'None'
  if (v === true) return 'True'
  if (v === false) return 'False'
  if (typeof v === 'number') return Number.isInteger(v) && Number.isSafeInteger(v) ? String(v === 0 ? 0 : v) : String(v).replace(/^(-?\d+)$/, '$1.0')
  if (typeof v === 'string') return pyString(v)
  if (Array.isArray(v)) return `[${v.map(pyLiteral).join(', ')}]`
  if (typeof v === 'object') return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${pyString(k)}: ${pyLiteral(x)}`).join(', ')}}`
  throw new TypeError(`not a JSON value: ${String(v)}`)
}

/** A Go interpreted string literal (valid UTF-8; lone surrogates become U+FFFD). */
export function goString (s: string): string {
  let out = '"'
  for (const ch of s) {
    const c = ch.codePointAt(0) as number
    if (ch === '"') out += '\\"'
    else if (ch === '\\') out += '\\\\'
    else if (ch === '\n') out += '\\n'
    else if (ch === '\t') out += '\\t'
    else if (ch === '\r') out += '\\r'
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`
    else if (c >= 0xd800 && c <= 0xdfff) out += '\\uFFFD'
    else if (ch.replace(UNSAFE, '') === '') out += c > 0xffff ? `\\U${c.toString(16).padStart(8, '0')}` : `\\u${hex4(c)}`
    else out += ch
  }
  return out + '"'
}

/** A Go float64 constant expression. */
export function goNumber (n: number): string {
  const s = String(n)
  return /[.eE]/.test(s) ? s : `${s}.0`
}

const PY_KEYWORDS = new Set(['False', 'None', 'True', 'and', 'as', 'assert', 'async', 'await', 'break', 'class', 'continue', 'def', 'del', 'elif', 'else', 'except', 'finally', 'for', 'from', 'global', 'if', 'import', 'in', 'is', 'lambda', 'nonlocal', 'not', 'or', 'pass', 'raise', 'return', 'try', 'while', 'with', 'yield', 'match', 'case', 'type'])

/** A Python identifier for a JSON member name: `from` → `from_`, `x-y` → `x_y`, `1a` → `_1a`. */
export function pyIdent (name: string): string {
  let s = name.replace(/[^A-Za-z0-9_]/g, '_')
  if (s === '' || /^[0-9]/.test(s)) s = `_${s}`
  if (PY_KEYWORDS.has(s)) s = `${s}_`
  return s
}

/** `BidV1Limits` → `bid_v1_limits` */
export function snake (pascalName: string): string {
  return pascalName.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2').toLowerCase()
}

/** An exported Go identifier for a JSON member name: `cpu_ms` → `CpuMs`. */
export function goIdent (name: string): string {
  const parts = name.split(/[^A-Za-z0-9]+/).filter(p => p !== '')
  let s = parts.map(p => p[0].toUpperCase() + p.slice(1)).join('')
  if (s === '' || /^[0-9]/.test(s)) s = `X${s}`
  return s
}

/** Makes names unique within one scope by suffixing 2, 3, ... */
export function uniqueNames (names: string[], reserved: string[] = []): string[] {
  const taken = new Set(reserved)
  return names.map(n => {
    let out = n
    for (let i = 2; taken.has(out); i++) out = `${n}${i}`
    taken.add(out)
    return out
  })
}
