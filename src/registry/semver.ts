/** Semantic versions (semver 2.0.0 precedence), enough to order a workflow's versions. */
import { InvalidWorkflowVersionError } from './errors.js'

const SEMVER = /^(0|[1-9]\d{0,15})\.(0|[1-9]\d{0,15})\.(0|[1-9]\d{0,15})(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/

export interface Semver { major: number, minor: number, patch: number, pre: string[] }

export function parseSemver (text: string): Semver {
  const m = typeof text === 'string' && text.length <= 128 ? SEMVER.exec(text) : null
  if (m == null) throw new InvalidWorkflowVersionError(`version ${JSON.stringify(text)} is not semver MAJOR.MINOR.PATCH[-pre][+build]`, { version: text })
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] == null ? [] : m[4].split('.') }
}

export function isSemver (text: string): boolean {
  try { parseSemver(text); return true } catch { return false }
}

function comparePre (a: string[], b: string[]): number {
  if (a.length === 0 || b.length === 0) return b.length - a.length // a release ranks above its pre-releases
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]
    const y = b[i]
    if (x === y) continue
    const nx = /^\d+$/.test(x)
    const ny = /^\d+$/.test(y)
    if (nx && ny) return Number(x) - Number(y)
    if (nx !== ny) return nx ? -1 : 1
    return x < y ? -1 : 1
  }
  return a.length - b.length
}

/** Negative when a < b, 0 when equal in precedence (build metadata ignored), positive when a > b. */
export function compareSemver (a: string, b: string): number {
  const x = parseSemver(a)
  const y = parseSemver(b)
  return Math.sign(x.major - y.major || x.minor - y.minor || x.patch - y.patch || comparePre(x.pre, y.pre))
}
