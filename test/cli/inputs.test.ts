/**
 * A plan's declared inputs are checked when a run is submitted: missing ones
 * and unresolved `cid:` references fail the run before any step runs, and
 * undeclared keys are warned about.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runCli, startNodeProcess } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'

/** generous: the test machines are shared and loaded; nothing here measures time */
const START_MS = 120_000
const CLI_MS = 120_000

const PLAN = 'examples/plans/summarize.yaml'

test('the summarize plan without --input fails on its placeholder cid:doc-123 instead of returning an empty summary', async () => {
  const t = await tempDir()
  try {
    const res = await runCli(['run', PLAN, '--data-dir', t.dir], { timeoutMs: CLI_MS })
    assert.equal(res.code, 1)
    assert.equal(res.stdout, '')
    assert.match(res.stderr, /error: UnresolvedInputError: input 'doc' is cid:doc-123 \(the plan's default\), which is not a CID/)
  } finally {
    await t.cleanup()
  }
})

test('a misspelled input key is named, and a cid: input this node does not have names its CID', async () => {
  const t = await tempDir()
  const node = await startNodeProcess(['--data-dir', t.dir], {}, START_MS)
  try {
    const typo = await runCli(['run', PLAN, '--input', '{"dco": "some text"}', '--data-dir', t.dir], { timeoutMs: CLI_MS })
    assert.equal(typo.code, 1)
    assert.match(typo.stderr, /^warning: unknown input 'dco': the plan declares 'doc'\n/)
    assert.match(typo.stderr, /error: UnresolvedInputError: input 'doc' is cid:doc-123/)
    const cid = 'bafyreigxwa2uwfxaecn6c2f5syali254rrnx3hss6yherziqq6vuxh3cyq'
    const absent = await runCli(['run', PLAN, '--input', JSON.stringify({ doc: `cid:${cid}` }), '--data-dir', t.dir], { timeoutMs: CLI_MS })
    assert.equal(absent.code, 1)
    assert.match(absent.stderr, new RegExp(`error: UnresolvedInputError: input 'doc' is cid:${cid} \\(given\\), and this node has no block with CID ${cid}`))
  } finally {
    await node.stop()
    await t.cleanup()
  }
})

test('a declared input without a default must be given', async () => {
  const t = await tempDir()
  try {
    const plan = join(t.dir, 'plan.yaml')
    await writeFile(plan, (await readFile(PLAN, 'utf8')).replace('doc: cid:doc-123', 'doc: null'))
    const res = await runCli(['run', plan, '--data-dir', join(t.dir, 'd')], { timeoutMs: CLI_MS })
    assert.equal(res.code, 1)
    assert.match(res.stderr, /error: MissingRunInputError: the plan needs input 'doc' \(pass --input '\{"doc": \.\.\.\}'\)/)
  } finally {
    await t.cleanup()
  }
})
