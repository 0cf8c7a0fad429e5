/**
 * ISO-8601 durations (`PT30S`, `PT1M30S`, `P1D`, `P1W`, `PT0.5S`) to
 * milliseconds. Years and months are refused: they have no fixed length.
 */
import { InvalidDurationError } from './errors.js'

const MS: Record<string, number> = { W: 604_800_000, D: 86_400_000, H: 3_600_000, M: 60_000, S: 1000 }
const PATTERN = /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/

/** Milliseconds of an ISO-8601 duration; throws InvalidDurationError. @example parseDuration('PT1M30S') // 90000 */
export function parseDuration (iso: string): number {
  if (typeof iso !== 'string') throw new InvalidDurationError(`duration must be an ISO-8601 string like PT30S, got ${typeof iso}`)
  const text = iso.trim().toUpperCase()
  if (text.length > 64) throw new InvalidDurationError(`duration is too long (${text.length} characters)`)
  if (/^P(?:\d+(?:\.\d+)?Y|\d+(?:\.\d+)?M)/.test(text)) {
    throw new InvalidDurationError(`duration ${JSON.stringify(iso)} uses years or months, which have no fixed length: use weeks, days, hours, minutes or seconds`)
  }
  const m = PATTERN.exec(text)
  if (m == null || text === 'P' || text.endsWith('T')) {
    throw new InvalidDurationError(`not an ISO-8601 duration: ${JSON.stringify(iso)} (examples: PT30S, PT1M30S, P1D)`)
  }
  const units = ['W', 'D', 'H', 'M', 'S']
  let ms = 0
  units.forEach((u, i) => {
    const v = m[i + 1]
    if (v != null) ms += Number(v) * MS[u]
  })
  ms = Math.round(ms)
  if (!Number.isSafeInteger(ms)) throw new InvalidDurationError(`duration ${JSON.stringify(iso)} is too large`)
  return ms
}
