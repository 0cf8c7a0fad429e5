/** A short, never-throwing rendering of any value for error messages (bigints, cycles and huge values included). */
export function show (value: unknown, max = 80): string {
  let text: string | undefined
  try {
    text = JSON.stringify(value, (_k, v: unknown) => typeof v === 'bigint' ? `${v}n` : v)
  } catch {
    text = undefined
  }
  text ??= String(value)
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}
