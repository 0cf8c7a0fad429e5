/**
 * A Python provider generated from examples/specs/Summarize.v1.json
 * (`pl spec scaffold --provider --lang py`, standard library only) attached
 * as real processes to two nodes of a 3-node mesh; a plan run from the third
 * node is served by it; its receipts verify with the generated TypeScript,
 * Python and Go checkers; a handler output violating the schema is refused
 * by the router inside the process; killing the process mid-step fails over
 * to the other provider.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { waitFor } from '../helpers/mesh.js'
import { attachedMesh, type AttachedMesh, type ProviderProc } from '../helpers/attached.js'
import { tempDir } from '../helpers/tmp.js'
import type { Discovery } from '../../src/discovery/index.js'
import { scaffold } from '../../src/spec/compiler/index.js'
import { http } from '../gateway/helpers.js'
import { checkSummarizeReceiptEverywhere, GO_SKIP, SAMPLE_SPEC } from './helpers.js'

const HANDLER = `
import json, os, sys, time
from summarize_spec import models
from summarize_spec.provider import default_bid_summarize

def summarize(input, ctx):
    print(json.dumps({"started": input.text}), flush=True)
    if input.text == "violate":
        return {"summary": 5}
    if input.text.startswith("hang") and os.environ.get("PL_PRICE") == "1":
        ctx.cancelled.wait(120)
    words = input.text.split()
    return models.SummarizeOutput(summary=" ".join(words[:3]), words=len(words), model="py")

def bid(cfp, ctx):
    return default_bid_summarize(cfp, ctx)
`

let am: AttachedMesh
let tmp: { dir: string, cleanup: () => Promise<void> }
let project: string

async function startProvider (node: number, price: number): Promise<ProviderProc> {
  return await am.startProvider(node, 'python3', ['main.py'], { cwd: project, env: { PL_PRICE: String(price), PYTHONDONTWRITEBYTECODE: '1' } })
}

before(async () => {
  tmp = await tempDir('pl-provider-py-')
  project = join(tmp.dir, 'summarize')
  await scaffold(SAMPLE_SPEC, { lang: 'py', provider: true, out: project })
  await writeFile(join(project, 'handler.py'), HANDLER)
  am = await attachedMesh()
})

after(async () => {
  await am?.stop()
  await tmp?.cleanup()
})

test('a generated Python provider attaches, its node wins a step of a plan run from another node; the receipt verifies with the generated TS, Python and Go checkers', async (t) => {
  const py = await startProvider(1, 1)
  await startProvider(2, 5)
  await waitFor(async () => new Set((await am.mesh.nodes[0].service<Discovery>('discovery').find({ name: 'Summarize' }, { localOnly: true })).map((r: any) => r.descriptor.provider)).size === 2, 60_000, 'node 0 to see both providers')
  const { run, id } = await am.runSummarize('attached providers close the loop')
  assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
  assert.ok(py.lines.some(l => l.started === 'attached providers close the loop'), 'the cheaper Python provider served it')
  const doc = await http(am.base(0), 'GET', `/runs/${id}/receipts`, { key: am.keys[0] })
  const signed = doc.body.receipts[0]
  assert.equal(signed.receipt.provider, am.mesh.nodes[1].peerId)
  assert.equal(signed.receipt.via.kind, 'attached')
  const registered = py.lines.find(l => l.registered != null).registered
  assert.equal(signed.receipt.via.target, registered.attachment)
  const descriptor = am.mesh.nodes[1].service<Discovery>('discovery').localCapabilities().find(c => c.cid === registered.capability)?.descriptor
  const output = { summary: 'attached providers close', words: 5, model: 'py' }
  const verdicts = await checkSummarizeReceiptEverywhere(tmp.dir, signed, descriptor, output)
  assert.deepEqual(verdicts.ts, ['ok', 'ReceiptMismatchError'], 'TypeScript checker')
  assert.deepEqual(verdicts.py, ['ok', 'ReceiptMismatchError'], 'Python checker')
  if (verdicts.go == null) { t.diagnostic(GO_SKIP); return }
  assert.deepEqual(verdicts.go, ['ok', 'ReceiptMismatchError'], 'Go checker')
})

test('a handler output violating the schema is refused by the router in the process; the step fails with its typed error', async () => {
  const { run } = await am.runSummarize('violate')
  assert.equal(run.state, 'failed')
  assert.match(JSON.stringify(run.error), /OutputRejectedError/)
})

test('killing the Python provider mid-step fails over to the other provider', async () => {
  const [first, second] = am.procs
  const running = am.runSummarize('hang then fail over')
  await waitFor(() => first.lines.some(l => l.started === 'hang then fail over'), 60_000, 'the step to start on the cheaper provider')
  first.child.kill('SIGKILL')
  const { run } = await running
  assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
  assert.ok(second.lines.some(l => l.started === 'hang then fail over'), 'the step was handed to the other provider')
})
