/**
 * workflow.json `resource_requirements` → step limits. Accepts the IR names
 * (`wall_ms`, `cpu_ms`, `mem_mb`, numbers) and the common spellings seen in
 * bundles: `timeout`/`wall`/`wall_time` and `cpu`/`cpu_time` as durations
 * ("30s", "1500ms", "2m", "1h", "PT30S" or a number of milliseconds) and
 * `memory`/`mem` as sizes ("512MB", "1GiB", "256Mi", or a number of MiB).
 * Other keys (`cpu` and `gpu`, usually core counts) are ignored: they are not
 * limits this node enforces.
 */
import type { Json } from '../core/encoding.js'
import type { StepLimits } from './ir.js'
import { parseDuration } from './duration.js'
import { ResourceRequirementError } from './errors.js'
import { show } from './show.js'

const WALL_KEYS = ['wall_ms', 'timeout', 'timeout_ms', 'wall', 'wall_time', 'wallTime']
const CPU_KEYS = ['cpu_ms', 'cpu_time', 'cpuTime']
const MEM_KEYS = ['mem_mb', 'memory', 'mem', 'memory_mb', 'memoryMb']

const TIME_UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000 }
const SIZE_UNITS: Record<string, number> = {
  b: 1 / 2 ** 20, kb: 1000 / 2 ** 20, kib: 1 / 1024, k: 1 / 1024, ki: 1 / 1024,
  mb: 1e6 / 2 ** 20, mib: 1, m: 1, mi: 1,
  gb: 1e9 / 2 ** 20, gib: 1024, g: 1024, gi: 1024
}

function fail (module: string, key: string, value: unknown, expected: string): never {
  throw new ResourceRequirementError(`module '${module}': resource_requirements.${key} = ${show(value)} is not ${expected}`, { module, key, value: value as Json })
}

function positiveInt (module: string, key: string, raw: unknown, n: number, expected: string): number {
  const v = Math.ceil(n)
  if (!Number.isFinite(n) || n <= 0 || !Number.isSafeInteger(v)) fail(module, key, raw, expected)
  return v
}

/** Milliseconds of a duration given as a number (ms) or text ("30s", "PT30S"). */
export function parseTimeLimit (module: string, key: string, raw: unknown): number {
  const expected = 'a positive duration such as 30000, "30s", "1500ms" or "PT30S"'
  if (typeof raw === 'number') return positiveInt(module, key, raw, raw, expected)
  if (typeof raw !== 'string') fail(module, key, raw, expected)
  const text = raw.trim()
  if (/^P/i.test(text)) {
    try { return positiveInt(module, key, raw, parseDuration(text), expected) } catch { fail(module, key, raw, expected) }
  }
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text)
  if (m == null) fail(module, key, raw, expected)
  const unit = m[2].toLowerCase() === '' ? 'ms' : m[2].toLowerCase()
  if (TIME_UNITS[unit] == null) fail(module, key, raw, expected)
  return positiveInt(module, key, raw, Number(m[1]) * TIME_UNITS[unit], expected)
}

/** MiB of a size given as a number (MiB) or text ("512MB", "1GiB", "256Mi"). */
export function parseMemLimit (module: string, key: string, raw: unknown): number {
  const expected = 'a positive size such as 512, "512MB", "1GiB" or "256Mi"'
  if (typeof raw === 'number') return positiveInt(module, key, raw, raw, expected)
  if (typeof raw !== 'string') fail(module, key, raw, expected)
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim())
  if (m == null) fail(module, key, raw, expected)
  const unit = m[2].toLowerCase() === '' ? 'mib' : m[2].toLowerCase()
  if (SIZE_UNITS[unit] == null) fail(module, key, raw, expected)
  return positiveInt(module, key, raw, Number(m[1]) * SIZE_UNITS[unit], expected)
}

/** Step limits from a module's `resource_requirements` (throws ResourceRequirementError). */
export function limitsFromRequirements (module: string, req: unknown): StepLimits {
  if (req == null) return {}
  if (typeof req !== 'object' || Array.isArray(req)) fail(module, '', req, 'an object')
  const r = req as Record<string, unknown>
  const out: StepLimits = {}
  const pick = (keys: string[]): string | undefined => {
    const present = keys.filter(k => r[k] !== undefined && r[k] !== null)
    if (present.length > 1) throw new ResourceRequirementError(`module '${module}': resource_requirements sets the same limit twice (${present.join(', ')})`, { module, keys: present })
    return present[0]
  }
  const wall = pick(WALL_KEYS)
  if (wall != null) out.wall_ms = parseTimeLimit(module, wall, r[wall])
  const cpu = pick(CPU_KEYS)
  if (cpu != null) out.cpu_ms = parseTimeLimit(module, cpu, r[cpu])
  const mem = pick(MEM_KEYS)
  if (mem != null) out.mem_mb = parseMemLimit(module, mem, r[mem])
  return out
}
