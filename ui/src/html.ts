import { h } from 'preact'
import htm from 'htm'

export const html = htm.bind(h)

export function short (s: string | undefined, n = 10): string {
  if (s == null) return ''
  return s.length > n + 4 ? `${s.slice(0, 4)}…${s.slice(-n)}` : s
}

export function ms (v: number | undefined): string {
  if (v == null) return ''
  if (v < 1000) return `${Math.round(v)} ms`
  if (v < 120_000) return `${(v / 1000).toFixed(1)} s`
  return `${Math.round(v / 60_000)} min`
}

export function when (t: number | undefined): string {
  return t == null ? '' : new Date(t).toLocaleTimeString()
}

/** JSON, cut to `max` characters (with a note) so one huge document cannot freeze the page. */
export function preview (value: unknown, max = 2000): { text: string, truncated: boolean } {
  const text = JSON.stringify(value, null, 2) ?? 'null'
  return text.length > max ? { text: text.slice(0, max) + '\n…', truncated: true } : { text, truncated: false }
}

export function ErrorNote ({ error }: { error?: unknown }): any {
  if (error == null) return null
  const e = error as { errName?: string, message?: string }
  return html`<p class="error" role="alert">${e.errName != null ? `${e.errName}: ` : ''}${e.message ?? String(error)}</p>`
}
