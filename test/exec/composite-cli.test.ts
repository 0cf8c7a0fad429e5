/**
 * `pl spec from-plan` + `pl cap publish <spec> --plan <plan>` against a real
 * pl-node process: the derived spec publishes as a composite bound to the
 * plan; a plan that calls its own capability or is missing is refused by name.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { tempDir } from '../helpers/tmp.js'
import { runCli, startNodeProcess } from '../helpers/proc.js'

const BRIEF = resolve('examples/plans/brief.yaml')
const CAPS = ['fetch-sections', 'summarize', 'merge-summaries'].map(n => resolve('examples/capabilities', n, 'capability.yaml'))

test('pl cap publish <derived spec> --plan publishes a composite capability; a self-calling or missing plan is refused by name', async () => {
  const d = await tempDir('pl-composite-cli-')
  const dataDir = join(d.dir, 'node')
  const node = await startNodeProcess(['--data-dir', dataDir], {}, 120_000)
  try {
    const spec = join(d.dir, 'composite.v1.json')
    const derived = await runCli(['spec', 'from-plan', BRIEF, '--name', 'SummarizeDocumentComposite', '--version', '1.0.0', ...CAPS.flatMap(c => ['--cap', c]), '--out', spec])
    assert.equal(derived.code, 0, derived.stderr)
    const published = await runCli(['cap', 'publish', spec, '--plan', BRIEF, '--json', '--data-dir', dataDir])
    assert.equal(published.code, 0, published.stderr)
    const res = JSON.parse(published.stdout)
    assert.equal(res.descriptor.name, 'SummarizeDocumentComposite')
    assert.equal(res.descriptor.module.kind, 'external')
    assert.deepEqual(res.descriptor.io.input.$defs.SummarizeDocumentCompositeInput.required, ['doc'])
    const list = await runCli(['cap', 'list', '--data-dir', dataDir])
    assert.match(list.stdout, /SummarizeDocumentComposite@1\.0\.0 +\S+ +external plan b[a-z2-7]+/)

    await writeFile(join(d.dir, 'self.yaml'), 'goal: Self\ninputs:\n  doc: null\nplan:\n  - step: SummarizeDocumentComposite(doc)\n')
    const self = await runCli(['cap', 'publish', spec, '--plan', join(d.dir, 'self.yaml'), '--data-dir', dataDir])
    assert.equal(self.code, 1)
    assert.match(self.stderr, /CompositeSelfCallError: composite SummarizeDocumentComposite: its plan .* calls SummarizeDocumentComposite itself/)
    const missing = await runCli(['cap', 'publish', spec, '--plan', join(d.dir, 'nope.yaml'), '--data-dir', dataDir])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /CompositePlanNotFoundError/)
  } finally {
    await node.stop()
    await d.cleanup()
  }
})
