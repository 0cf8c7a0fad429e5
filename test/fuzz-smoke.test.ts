import { test } from 'node:test'
import assert from 'node:assert/strict'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { allTargets } from '../fuzz/targets.js'
import { fuzz } from '../fuzz/harness.js'

test('every fuzz target survives a short smoke run without findings', async () => {
  for (const target of await allTargets()) {
    const res = await fuzz(target, { seconds: 1.5, seed: 12345, outDir: join(tmpdir(), 'pl-fuzz-smoke') })
    assert.ok(res.execs > 10, `${target.name} ran only ${res.execs} inputs`)
    assert.deepEqual(res.findings, [], `${target.name} findings`)
  }
})
