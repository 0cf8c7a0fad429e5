import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { allTargets } from '../fuzz/targets.js'
import { fuzz, type FuzzTarget } from '../fuzz/harness.js'

// bounded by a count of inputs, not by time, so that every run tries the same inputs on a busy machine too
const EXECS = 300

test('every fuzz target survives a short smoke run without findings', async () => {
  const outDir = await mkdtemp(join(tmpdir(), 'pl-fuzz-smoke-'))
  try {
    for (const target of await allTargets()) {
      const res = await fuzz(target, { execs: EXECS, seed: 12345, outDir, slowFindings: false })
      assert.deepEqual(res.findings, [], `${target.name} findings`)
      assert.equal(res.execs, EXECS, `${target.name} ran ${res.execs} inputs`)
    }
  } finally {
    await rm(outDir, { recursive: true, force: true })
  }
})

test('the harness reports an unexpected error as a crash and stops after the given count of inputs', async () => {
  const outDir = await mkdtemp(join(tmpdir(), 'pl-fuzz-harness-'))
  try {
    const target: FuzzTarget = {
      name: 'picky',
      allowed: new Set(['RangeError']),
      seeds: () => [new Uint8Array([1, 2, 3])],
      run: (input) => {
        if (input.length === 0) throw new TypeError('empty input')
        if (input[0] > 0x80) throw new RangeError('refused')
      }
    }
    const res = await fuzz(target, { execs: 2000, seed: 7, outDir, slowFindings: false })
    assert.ok(res.findings.length > 0, 'an empty input is generated and reported')
    assert.ok(res.findings.every(f => f.kind === 'crash' && /^TypeError: empty input/.test(f.message)), JSON.stringify(res.findings))
    const again = await fuzz(target, { execs: 2000, seed: 7, outDir, slowFindings: false })
    assert.equal(again.execs, res.execs, 'the same seed and count replay the same run')
    const fine = await fuzz({ ...target, run: () => {} }, { execs: 50, seed: 7, outDir })
    assert.deepEqual([fine.execs, fine.findings], [50, []])
    await assert.rejects(fuzz(target, { seed: 1 }), TypeError)
  } finally {
    await rm(outDir, { recursive: true, force: true })
  }
})
