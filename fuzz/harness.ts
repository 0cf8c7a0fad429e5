/**
 * A small bounded fuzzer: each target gets seeds, a mutator and a check. A run
 * stops after `execs` inputs or `seconds` of wall time, whichever comes first
 * (tests bound by `execs` only, so the inputs tried do not depend on the
 * machine's load). A finding is a thrown error that is not one of the
 * target's typed refusals, a call that exceeds its time budget (hang; off
 * with `slowFindings: false`), or heap growth past a bound. Findings are
 * written to fuzz/findings/<target>-<n>.bin.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface FuzzTarget {
  name: string
  seeds: () => Promise<Uint8Array[]> | Uint8Array[]
  /** runs one input; returning or throwing an allowed error is fine */
  run: (input: Uint8Array) => Promise<void> | void
  /** error names that are expected refusals */
  allowed: Set<string>
  /** per-input time budget @default 2000 ms */
  budgetMs?: number
}

export interface FuzzResult { target: string, execs: number, findings: Array<{ kind: string, message: string, file: string }>, heapGrowthMiB: number }

/** Deterministic PRNG (mulberry32) so a run can be replayed from its seed. */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x9f, 0xbf, 0xd8, 0x2a, 0x3f, 0x5f]

export function mutate (input: Uint8Array, rand: () => number, pool: Uint8Array[]): Uint8Array {
  const bytes = Array.from(input)
  const n = 1 + Math.floor(rand() * 4)
  for (let i = 0; i < n; i++) {
    const op = Math.floor(rand() * 7)
    const pos = Math.floor(rand() * (bytes.length + 1))
    switch (op) {
      case 0: if (bytes.length > 0) bytes[pos % bytes.length] ^= 1 << Math.floor(rand() * 8); break
      case 1: if (bytes.length > 0) bytes[pos % bytes.length] = INTERESTING[Math.floor(rand() * INTERESTING.length)]; break
      case 2: bytes.splice(pos, 0, Math.floor(rand() * 256)); break
      case 3: bytes.splice(pos, 1 + Math.floor(rand() * 8)); break
      case 4: bytes.length = Math.floor(rand() * bytes.length); break
      case 5: { const other = pool[Math.floor(rand() * pool.length)]; const at = Math.floor(rand() * other.length); bytes.splice(pos, 0, ...other.subarray(at, at + 1 + Math.floor(rand() * 32))); break }
      case 6: { const len = Math.floor(rand() * 16); const start = Math.floor(rand() * bytes.length); bytes.splice(pos, 0, ...bytes.slice(start, start + len)); break }
    }
  }
  return Uint8Array.from(bytes)
}

export interface FuzzOptions {
  seed: number
  /** stop after this many inputs */
  execs?: number
  /** stop after this much wall time */
  seconds?: number
  /** report inputs slower than the target's budget (a wall-clock check: a loaded machine can trip it) @default true */
  slowFindings?: boolean
  outDir?: string
}

export async function fuzz (target: FuzzTarget, options: FuzzOptions): Promise<FuzzResult> {
  if (options.execs == null && options.seconds == null) throw new TypeError('fuzz needs execs or seconds (or both)')
  const rand = prng(options.seed)
  const seeds = await target.seeds()
  const pool = [...seeds]
  const findings: FuzzResult['findings'] = []
  const maxExecs = options.execs ?? Infinity
  const deadline = options.seconds != null ? Date.now() + options.seconds * 1000 : Infinity
  const budget = target.budgetMs ?? 2000
  global.gc?.()
  const heapStart = process.memoryUsage().heapUsed
  let execs = 0
  const record = async (kind: string, message: string, input: Uint8Array): Promise<void> => {
    const dir = options.outDir ?? join(process.cwd(), 'fuzz', 'findings')
    await mkdir(dir, { recursive: true })
    const file = join(dir, `${target.name}-${findings.length}.bin`)
    await writeFile(file, input)
    findings.push({ kind, message, file })
  }
  while (execs < maxExecs && (deadline === Infinity || Date.now() < deadline) && findings.length < 10) {
    const base = pool[Math.floor(rand() * pool.length)]
    const input = rand() < 0.05 ? Uint8Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)) : mutate(base, rand, pool)
    const t0 = performance.now()
    try {
      await target.run(input)
    } catch (err) {
      const name = (err as Error)?.name ?? 'non-error'
      if (!target.allowed.has(name)) await record('crash', `${name}: ${(err as Error)?.message ?? String(err)}`, input)
    }
    const took = performance.now() - t0
    if (options.slowFindings !== false && took > budget) await record('slow', `took ${took.toFixed(0)} ms (budget ${budget} ms)`, input)
    execs++
    if (pool.length < 512 && rand() < 0.01) pool.push(input)
  }
  global.gc?.()
  const heapGrowthMiB = (process.memoryUsage().heapUsed - heapStart) / 2 ** 20
  if (heapGrowthMiB > 256) await record('memory', `heap grew by ${heapGrowthMiB.toFixed(0)} MiB`, new Uint8Array())
  return { target: target.name, execs, findings, heapGrowthMiB }
}
