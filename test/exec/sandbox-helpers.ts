/** Helpers of the sandbox tests: one module call, its failure, processes found by a marker argument. */
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import type { ModuleCall, ModuleResult } from '../../src/exec/types.js'

export function call (limits: ModuleCall['limits'] = { wall_ms: 30_000, mem_mb: 128 }, extra: Partial<ModuleCall> = {}): ModuleCall {
  return { parameters: {}, settings: {}, globalSettings: {}, globalParameters: {}, inputData: {}, limits, ...extra }
}

export async function failure (p: Promise<ModuleResult>): Promise<Error & { details?: Record<string, unknown> }> {
  try {
    await p
  } catch (err) {
    return err as Error & { details?: Record<string, unknown> }
  }
  assert.fail('the call succeeded')
}

/** Pids of live processes whose command line contains `marker` (a unique argument). */
export async function pidsWith (marker: string): Promise<number[]> {
  const out: number[] = []
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      if ((await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0').includes(marker)) out.push(Number(name))
    } catch {} // gone meanwhile
  }
  return out
}

