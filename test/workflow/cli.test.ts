import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cidOfBytes, RAW } from '../../src/core/encoding.js'
import { dagFromJson, dagCid, loadWorkflow } from '../../src/workflow/index.js'
import { runCli } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { fixture } from './util.js'

function hasGraphviz (): boolean {
  try { execFileSync('dot', ['-V'], { stdio: 'ignore' }); return true } catch { return false }
}

test('pl workflow validate prints the DAG CID and step count', async () => {
  const res = await runCli(['workflow', 'validate', fixture('workflows', 'diamond-py')])
  assert.equal(res.code, 0, res.stderr)
  const wf = await loadWorkflow(fixture('workflows', 'diamond-py'))
  assert.equal(res.stdout, `ok ${dagCid(wf.dag)} 4 steps\n`)
})

test('pl workflow validate on a bad fixture prints the typed error and exits 1', async () => {
  const [res, slip] = await Promise.all([
    runCli(['workflow', 'validate', fixture('bad', 'unknown-step.yaml')]),
    runCli(['workflow', 'validate', fixture('bad', 'zip-slip.zip')])
  ])
  assert.equal(res.code, 1)
  assert.equal(res.stdout, '')
  assert.match(res.stderr, /^error: UnknownStepKindError: .*unknown-step\.yaml:3:5: unknown plan entry kind 'teleport'/)
  assert.equal(slip.code, 1)
  assert.match(slip.stderr, /^error: UnsafeZipPathError: bundle entry "\.\.\/\.\.\/evil\.txt" is refused/)
})

test('pl workflow compile prints dag-json that parses back to the same DAG', async () => {
  const res = await runCli(['workflow', 'compile', fixture('dsl', 'summarize.yaml')])
  assert.equal(res.code, 0, res.stderr)
  const dag = dagFromJson(res.stdout)
  assert.deepEqual(Object.values(dag.steps).map(s => s.kind), ['map', 'map', 'reduce', 'join'])
  assert.equal(dag.constraints.deadline_ms, 30_000)
  assert.deepEqual(dag.policies, ['cid:pol-PII-no-exfil'])
  assert.equal(dag.select.length, 3)
})

test('pl workflow compile --format dot prints Graphviz that renders', async () => {
  const res = await runCli(['workflow', 'compile', fixture('dsl', 'route.yaml'), '--format', 'dot'])
  assert.equal(res.code, 0, res.stderr)
  assert.match(res.stdout, /^digraph "TriageTicket" \{/)
  if (hasGraphviz()) {
    const svg = execFileSync('dot', ['-Tsvg'], { input: res.stdout }).toString()
    assert.match(svg, /<svg/)
    assert.match(svg, /AutoReply/)
  }
  const bad = await runCli(['workflow', 'compile', fixture('dsl', 'route.yaml'), '--format', 'svg'])
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /expected json or dot/)
})

test('pl workflow pack writes a deterministic ZIP and prints its CID; unpack restores the files', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    const a = join(dir, 'a.zip')
    const b = join(dir, 'b.zip')
    const [r1, r2] = await Promise.all([
      runCli(['workflow', 'pack', fixture('workflows', 'diamond-js'), '-o', a]),
      runCli(['workflow', 'pack', fixture('workflows', 'diamond-js'), '-o', b])
    ])
    assert.equal(r1.code, 0, r1.stderr)
    const bytes = new Uint8Array(await readFile(a))
    assert.equal(r1.stdout, `${cidOfBytes(bytes, RAW).toString()}\n`)
    assert.equal(r2.stdout, r1.stdout)
    const out = join(dir, 'out')
    const u = await runCli(['workflow', 'unpack', a, out])
    assert.equal(u.code, 0, u.stderr)
    assert.deepEqual((await readdir(out)).sort(), ['module_dbl', 'module_inc', 'module_start', 'module_sum', 'pl-manifest.json', 'workflow.json'])
    assert.equal(await readFile(join(out, 'module_sum', 'function.mjs'), 'utf8'), await readFile(fixture('workflows', 'diamond-js', 'module_sum', 'function.mjs'), 'utf8'))
    const again = await runCli(['workflow', 'unpack', a, out])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /^error: UnpackTargetError: cannot unpack into .*: the folder is not empty/)
    const v = await runCli(['workflow', 'validate', a])
    assert.equal(v.code, 0, v.stderr)
  } finally { await cleanup() }
})
