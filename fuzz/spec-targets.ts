/**
 * The `spec` fuzz target: each input is a seed for a batch of random schemas
 * and documents (test/spec/crosscheck.ts), compiled to TS, Python and Go and
 * checked against ajv. A disagreement, a checker complaint (tsc, py_compile,
 * go vet) or a compiler crash is a finding; its input file replays it.
 * Batches are bigger than in `npm test`: `npm run fuzz -- --only spec --seconds 600`.
 * Registered in run.ts, not in allTargets(): one input takes minutes, so the
 * fuzz smoke test (many inputs in 1.5 s per target) cannot include it; the
 * same check runs in `npm test` as test/spec/crosscheck.test.ts.
 */
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { tempDir } from '../test/helpers/tmp.js'
import { batchArbitrary, crossCheck } from '../test/spec/crosscheck.js'
import type { FuzzTarget } from './harness.js'

/** A batch's problems, carried to the fuzz harness as a finding. */
export class SpecCrossCheckError extends Error {
  override name = 'SpecCrossCheckError'
}

function seedOf (input: Uint8Array): number {
  return createHash('sha256').update(input).digest().readInt32LE(0)
}

export function specTarget (options: { schemas?: number, docs?: number } = {}): FuzzTarget {
  return {
    name: 'spec',
    // refusals are not expected: the generator stays inside the supported subset
    allowed: new Set(),
    // one batch runs tsc, python3 and go: minutes on a loaded machine, not a hang
    budgetMs: 15 * 60_000,
    seeds: () => [new Uint8Array([1]), new Uint8Array([2, 3])],
    run: async (input) => {
      const seed = seedOf(input)
      const [batch] = fc.sample(batchArbitrary({ schemas: options.schemas ?? 16, docs: options.docs ?? 24 }), { numRuns: 1, seed })
      const t = await tempDir('pl-fuzz-spec-')
      try {
        const problems = await crossCheck(batch, t.dir)
        if (problems.length > 0) throw new SpecCrossCheckError(`seed ${seed}: ${problems.length} problem(s):\n${problems.slice(0, 20).join('\n')}\nschemas: ${JSON.stringify(batch.schemas)}`)
      } finally {
        await t.cleanup()
      }
    }
  }
}
