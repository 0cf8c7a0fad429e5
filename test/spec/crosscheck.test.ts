/**
 * Property-based cross-check (issue 17 item 5): random schemas in the
 * supported subset, with names from all of Unicode, compiled to TS, Python
 * and Go; the generated code must pass tsc / py_compile / go vet and agree
 * with ajv on random documents. One batch per run keeps it to one tsc, two
 * python3 and one go vet + build; `npm run fuzz -- --only spec` runs more.
 * A failure prints fast-check's seed: replay with PL_SPEC_SEED=<seed>.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import fc from 'fast-check'
import { tempDir } from '../helpers/tmp.js'
import { batchArbitrary, crossCheck } from './crosscheck.js'

let dir: string
let cleanup: () => Promise<void>
before(async () => { ({ dir, cleanup } = await tempDir('pl-spec-cross-')) })
after(async () => { await cleanup() })

test('random schemas with names from all of Unicode compile in TS, Python and Go and agree with ajv on random documents', async () => {
  let run = 0
  let problems: string[] = []
  const seed = process.env.PL_SPEC_SEED != null ? Number(process.env.PL_SPEC_SEED) : undefined
  try {
    await fc.assert(fc.asyncProperty(batchArbitrary({ schemas: 6, docs: 8 }), async (batch) => {
      problems = await crossCheck(batch, join(dir, `run${run++}`))
      return problems.length === 0
    }), { numRuns: 1, endOnFailure: true, ...(seed != null ? { seed } : {}) })
  } catch (err) {
    // fast-check's report (seed, counterexample) first, then what went wrong in which language
    assert.fail(`${(err as Error).message}\n\nproblems:\n${problems.slice(0, 30).join('\n')}`)
  }
})
