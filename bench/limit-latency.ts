/**
 * How late a Python wall-limit error arrives: the time from the call to the
 * WallTimeExceededError, minus the limit. Cold: a new pool per call (the
 * interpreter is resolved through `python3` — a pyenv shim on the dev
 * machines — and a runner started). Warm: a started pool with a spare
 * runner (what the daemon runs), breaking the limit again and again (each
 * breach kills its runner; the next step takes the spare started meanwhile).
 *
 *   npm run build && bash scripts/node.sh dist/bench/limit-latency.js [rounds]
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { moduleSpecOf, type ModuleSpec } from '../src/core/index.js'
import { ModulePool } from '../src/exec/index.js'
import { percentile } from './harness.js'

const WALL_MS = 300
const SPIN = 'class Spin:\n    def __init__(self, *a):\n        pass\n\n    def eval(self, p, d, c):\n        while True:\n            pass\n'

async function lateness (pool: ModulePool, mod: ModuleSpec): Promise<number> {
  const t0 = performance.now()
  try {
    await pool.runModule(mod, { parameters: {}, settings: {}, globalSettings: {}, globalParameters: {}, inputData: {}, limits: { wall_ms: WALL_MS, mem_mb: 256 } })
  } catch (err) {
    if ((err as Error).name !== 'WallTimeExceededError') throw err
    return performance.now() - t0 - WALL_MS
  }
  throw new Error('the step did not break its wall limit')
}

function line (name: string, xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b)
  return `${name.padEnd(44)} n=${xs.length}  p50 ${percentile(s, 50).toFixed(0)} ms  p90 ${percentile(s, 90).toFixed(0)} ms  max ${s[s.length - 1].toFixed(0)} ms`
}

async function main (): Promise<void> {
  const rounds = Number(process.argv[2] ?? 10)
  const dir = await mkdtemp(join(tmpdir(), 'pl-bench-limit-'))
  try {
    await mkdir(join(dir, 'spin'))
    await writeFile(join(dir, 'spin', 'function.py'), SPIN)
    const mod = await moduleSpecOf('spin', join(dir, 'spin'))
    const cold: number[] = []
    for (let i = 0; i < rounds; i++) {
      const pool = new ModulePool()
      try { cold.push(await lateness(pool, mod)) } finally { await pool.close() }
    }
    // one pool, no spare: each breach kills its runner and the next step starts a new one (the pool before spare runners)
    const noSpare: number[] = []
    const plain = new ModulePool()
    try {
      await plain.start()
      for (let i = 0; i < rounds; i++) noSpare.push(await lateness(plain, mod))
    } finally {
      await plain.close()
    }
    const warm: number[] = []
    const pool = new ModulePool({ python: { warm: true, spareMemMb: 256 } })
    try {
      const c = await pool.start()
      await pool.py.warmed()
      for (let i = 0; i < rounds; i++) {
        warm.push(await lateness(pool, mod))
        await pool.py.warmed() // the next breach starts once the replacement spare is up, as steps arriving over time would
      }
      console.log(`python containment: ${c.python.mode}${c.python.reason != null ? ` (${c.python.reason})` : ''}`)
    } finally {
      await pool.close()
    }
    console.log(`wall limit ${WALL_MS} ms; lateness = time from call to WallTimeExceededError - limit`)
    console.log(line('cold pool (resolve python3, start a runner)', cold))
    console.log(line('started pool, no spare (new runner per breach)', noSpare))
    console.log(line('started pool with a spare runner', warm))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
