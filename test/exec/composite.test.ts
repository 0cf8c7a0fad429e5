/**
 * Composite capabilities (src/composite): a capability implemented by a plan.
 * Real 4-node mesh wired as pl-node daemons wire it (daemonServices):
 *   A (0) runs a one-step plan calling SummarizeDocumentComposite;
 *   B (1) publishes it (spec derived with from-plan from examples/plans/brief.yaml,
 *         impl: {plan}) and runs the inner plan when awarded;
 *   C (2) serves FetchSections and MergeSummaries (JS), D (3) Summarize (Python).
 * A gets the plan's output; A's receipts export carries the inner run's
 * receipts and verifies offline (and fails when one is tampered with). A
 * composite that calls itself through the mesh ends with the depth error; an
 * outer cancel cancels the inner run; bad impls and forged depths get typed errors.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { startMesh } from '../gateway/helpers.js'
import { waitFor, type TestMesh } from '../helpers/mesh.js'
import { tempDir } from '../helpers/tmp.js'
import { runCli } from '../helpers/proc.js'
import { compileDsl } from '../../src/workflow/index.js'
import { specFromPlan, ioOfDescriptor } from '../../src/spec/compiler/index.js'
import { descriptorFromSpec, COMPOSITE_KIND } from '../../src/composite/index.js'
import { encodeJson, decodeJson, toBase64url } from '../../src/core/encoding.js'
import { envelopeId, unsignedBytes, type Envelope, externalModuleSpec } from '../../src/core/index.js'
import { negotiateProtocol, type CallForProposal, type Decline, type Negotiation } from '../../src/negotiation/index.js'
import { verifyExport, type ReceiptsService, type SignedReceipt } from '../../src/receipts/index.js'
import type { ExecService } from '../../src/exec/index.js'
import type { Discovery } from '../../src/discovery/index.js'
import type { PlNode } from '../../src/node.js'
import type { CapabilityOffer } from '../../src/offers.js'

const CAPS = resolve('examples/capabilities')
const BRIEF = resolve('examples/plans/brief.yaml')
const MAX_DEPTH = 2
const DOC = '# Composites\n\n## What\nA capability can be implemented by a plan that runs over the mesh when it is awarded.\n\n## Why\nA recurring pattern becomes one capability with a spec, a price and one receipt tree.\n\n## How\nThe provider runs the plan on its own executor and links the inner receipts.\n'

let mesh: TestMesh
let cleanup: () => Promise<void>
let dir: string

function exec (node: PlNode): ExecService {
  return node.service<ExecService>('exec')
}

async function writeJson (path: string, doc: unknown): Promise<string> {
  await writeFile(path, JSON.stringify(doc, null, 2))
  return path
}

/** The SummarizeDocumentComposite descriptor file: the spec from-plan derives from brief.yaml, bound to the plan. */
async function compositeOffer (): Promise<CapabilityOffer> {
  const dag = compileDsl(await readFile(BRIEF, 'utf8'), { file: BRIEF })
  const ios = await Promise.all(['fetch-sections', 'summarize', 'merge-summaries'].map(async n => {
    const f = join(CAPS, n, 'capability.yaml')
    return ioOfDescriptor(parseYaml(await readFile(f, 'utf8')), f)
  }))
  const spec = specFromPlan(dag, ios, { name: 'SummarizeDocumentComposite', version: '1.0.0' })
  await writeJson(join(dir, 'SummarizeDocumentComposite.v1.json'), spec)
  const descriptor = { ...descriptorFromSpec(spec, { limits: { wall_ms: 120_000, mem_mb: 256 }, price: 3 }), impl: { plan: BRIEF } }
  return { file: await writeJson(join(dir, 'composite.json'), descriptor) }
}

/** A composite named `name` whose plan calls `calls` (an open io, for the cycle and cancel tests). */
async function loopOffer (name: string, calls: string): Promise<CapabilityOffer> {
  await writeFile(join(dir, `${name}.yaml`), `goal: ${name}Plan\ninputs:\n  x: null\nplan:\n  - step: ${calls}(x)\n`)
  return { file: await writeJson(join(dir, `${name}.json`), { name, version: '1.0.0', io: { input: { type: 'object' }, output: {} }, limits: { wall_ms: 120_000 }, impl: { plan: `./${name}.yaml` } }) }
}

/** Slow: a JS module that runs until it is killed. */
async function slowOffer (): Promise<CapabilityOffer> {
  const m = join(dir, 'slow', 'module')
  await mkdir(m, { recursive: true })
  await writeFile(join(m, 'function.mjs'), 'export default class Slow {\n  async eval () {\n    await new Promise(resolve => setTimeout(resolve, 300000))\n    return { done: true }\n  }\n}\n')
  return { file: await writeJson(join(dir, 'slow', 'capability.json'), { name: 'Slow', version: '1.0.0', io: { input: { type: 'object' }, output: { type: 'object' } }, limits: { wall_ms: 120_000, mem_mb: 128 }, impl: './module' }) }
}

before(async () => {
  const tmp = await tempDir('pl-composite-')
  cleanup = tmp.cleanup
  dir = tmp.dir
  const offers: CapabilityOffer[][] = [
    [],
    [await compositeOffer(), await loopOffer('LoopA', 'LoopB'), await loopOffer('SlowComposite', 'Slow')],
    [{ file: join(CAPS, 'fetch-sections', 'capability.yaml') }, { file: join(CAPS, 'merge-summaries', 'capability.yaml') }, await loopOffer('LoopB', 'LoopA'), await slowOffer()],
    [{ file: join(CAPS, 'summarize', 'capability.yaml') }]
  ]
  mesh = await startMesh(4, () => undefined, (i) => offers[i], () => ({}), () => ({ negotiation: { replyWindowMs: 2_000, maxDepth: MAX_DEPTH } }))
  await mesh.connected(1)
  // every node knows every provider before the first run
  const d = mesh.nodes[0].service<Discovery>('discovery')
  for (const name of ['SummarizeDocumentComposite', 'LoopA', 'SlowComposite']) {
    await waitFor(async () => (await d.find({ name }, { timeoutMs: 2_000 })).length > 0, 30_000, `node A finds ${name}`)
  }
})

after(async () => {
  await mesh?.stop()
  await cleanup?.()
})

async function runOn (node: PlNode, plan: string, input: Record<string, unknown>): Promise<{ id: string, run: any }> {
  const e = exec(node).executor
  const id = await e.submit(compileDsl(plan, { file: 'outer.yaml' }), input)
  return { id, run: await e.wait(id) }
}

test('A runs a plan calling the composite: B runs its plan over the mesh (C, D serve the steps) and A gets the output; the receipt tree verifies offline', async () => {
  const { id, run } = await runOn(mesh.nodes[0], 'goal: UseComposite\ninputs:\n  doc: null\nplan:\n  - step: SummarizeDocumentComposite(doc)\n', { doc: DOC })
  assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
  const output = await exec(mesh.nodes[0]).executor.output(run) as { summary: string, words: number, sections: number }
  assert.equal(typeof output.summary, 'string')
  assert.equal(output.sections, 3, 'three sections summarized and merged')

  const doc = await mesh.nodes[0].service<ReceiptsService>('receipts').export(id)
  const outer = doc.receipts.find(r => r.receipt.run === id) as SignedReceipt
  assert.equal(outer.receipt.provider, mesh.nodes[1].peerId, 'B is the provider of record')
  assert.equal(outer.receipt.via?.kind, COMPOSITE_KIND)
  const inner = outer.receipt.inner
  assert.ok(inner != null, 'the outer receipt names the inner run')
  assert.equal(outer.receipt.via?.ref, inner.run)
  const innerReceipts = doc.receipts.filter(r => r.receipt.run === inner.run)
  assert.equal(innerReceipts.length, 5, 'FetchSections, 3 × Summarize, MergeSummaries')
  assert.deepEqual(innerReceipts.map(r => r.receipt.requester), innerReceipts.map(() => mesh.nodes[1].peerId), 'B requested the inner steps')
  const providers = new Set(innerReceipts.map(r => r.receipt.provider))
  assert.deepEqual([...providers].sort(), [mesh.nodes[2].peerId, mesh.nodes[3].peerId].sort(), 'C and D served them')
  const checked = verifyExport(doc)
  assert.equal(checked.receipts, 6)
  assert.equal(checked.inner, 5)

  // the CLI's offline check
  const file = join(dir, 'outer-run.json')
  await writeFile(file, encodeJson(doc))
  const ok = await runCli(['receipts', 'verify', file])
  assert.equal(ok.code, 0, ok.stderr)
  assert.match(ok.stdout, new RegExp(`ok: 6 receipts of run ${id} \\(5 of them from composite steps' inner runs\\) verify`))

  // one inner receipt tampered with: its provider's signature no longer holds
  const bad = decodeJson<typeof doc>(await readFile(file))
  const i = bad.receipts.findIndex(r => r.receipt.run === inner.run)
  bad.receipts[i].receipt.usage.wall_ms += 1
  await writeFile(join(dir, 'tampered.json'), encodeJson(bad))
  const tampered = await runCli(['receipts', 'verify', join(dir, 'tampered.json')])
  assert.equal(tampered.code, 1)
  assert.match(tampered.stderr, /ReceiptSignatureError/)

  // one inner receipt left out: the outer receipt names it
  const missing = decodeJson<typeof doc>(await readFile(file))
  missing.receipts.splice(i, 1)
  await writeFile(join(dir, 'missing.json'), encodeJson(missing))
  const res = await runCli(['receipts', 'verify', join(dir, 'missing.json')])
  assert.equal(res.code, 1)
  assert.match(res.stderr, /ReceiptInnerMissingError/)
})

test('B runs a plan naming its own composite: the local runner runs the inner plan, the self-signed receipt links it, the tree verifies', async () => {
  const b = mesh.nodes[1]
  const { id, run } = await runOn(b, 'goal: UseCompositeHere\ninputs:\n  doc: null\nplan:\n  - step: SummarizeDocumentComposite(doc)\n', { doc: DOC })
  assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
  const doc = await b.service<ReceiptsService>('receipts').export(id)
  const outer = doc.receipts.find(r => r.receipt.run === id) as SignedReceipt
  assert.equal(outer.receipt.provider, b.peerId)
  assert.equal(outer.receipt.requester, b.peerId, 'a local step: provider = requester')
  assert.ok(outer.receipt.inner != null)
  const checked = verifyExport(decodeJson(encodeJson(doc)))
  assert.equal(checked.inner, 5)
  assert.equal((await exec(b).executor.get(outer.receipt.inner.run)).run.depth, 1)
})

test('a composite whose plan calls itself through the mesh (LoopA on B → LoopB on C → LoopA …) fails with the depth error, not a loop', async () => {
  const { run } = await runOn(mesh.nodes[0], 'goal: Cycle\ninputs:\n  x: null\nplan:\n  - step: LoopA(x)\n', { x: 1 })
  assert.equal(run.state, 'failed')
  assert.equal(run.error.name, 'RemoteStepFailedError', run.error.message)
  assert.equal(run.error.details.remote.name, 'CallDepthExceededError', run.error.message)
  // the deepest inner run (depth MAX_DEPTH + 1, on B) heard C decline 'too-deep', and says so in its explanation
  const deepest = (await exec(mesh.nodes[1]).executor.list()).find(r => r.depth === MAX_DEPTH + 1)
  assert.ok(deepest != null, 'B ran an inner run at depth 3')
  assert.equal(deepest.state, 'failed')
  assert.equal(deepest.error?.name, 'NoBidsError')
  const { steps } = await exec(mesh.nodes[1]).executor.get(deepest.id)
  const exp = await mesh.nodes[1].service<Negotiation>('negotiation').explanation(deepest.id, steps[0].key)
  assert.ok(exp.answers.some(a => a.kind === 'decline' && a.reason === 'too-deep' && a.provider === mesh.nodes[2].peerId), JSON.stringify(exp.answers))
  assert.equal((await exec(mesh.nodes[1]).executor.list()).some(r => (r.depth ?? 0) > MAX_DEPTH + 1), false, 'nothing ran deeper')
})

test('cancelling the outer run cancels the composite\'s inner run on the provider', async () => {
  const e = exec(mesh.nodes[0]).executor
  const id = await e.submit(compileDsl('goal: SlowOuter\ninputs:\n  x: null\nplan:\n  - step: SlowComposite(x)\n', { file: 'slow.yaml' }), { x: 1 })
  const b = exec(mesh.nodes[1]).executor
  let innerId: string | undefined
  await waitFor(async () => {
    const inner = (await b.list()).find(r => r.name === 'SlowCompositePlan' && r.state === 'running')
    if (inner == null) return false
    const { steps } = await b.get(inner.id)
    innerId = inner.id
    return steps.some(s => s.state === 'running')
  }, 60_000, 'the inner run of SlowComposite runs its Slow step')
  const cancelled = await e.cancel(id)
  assert.equal(cancelled.state, 'cancelled')
  await waitFor(async () => (await b.get(innerId as string)).run.state === 'cancelled', 30_000, 'the inner run is cancelled')
})

test('publishing a composite refuses a missing plan, a plan that does not compile and a plan that calls its own capability', async () => {
  const d = mesh.nodes[1].service<Discovery>('discovery')
  const cap = { name: 'BadComposite', version: '1.0.0', io: { input: { type: 'object' }, output: {} } }
  await assert.rejects(d.publish(cap, { plan: join(dir, 'no-such-plan.yaml') }), { name: 'CompositePlanNotFoundError' })
  await assert.rejects(d.publish(cap, { plan: 'cid:bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku' }), { name: 'CompositePlanNotFoundError' })
  await writeFile(join(dir, 'broken.yaml'), 'goal: Broken\nplan:\n  - stepp: Nope()\n')
  await assert.rejects(d.publish(cap, { plan: join(dir, 'broken.yaml') }), (err: any) => {
    assert.equal(err.name, 'CompositePlanInvalidError')
    assert.match(err.message, /does not compile/)
    return true
  })
  await writeFile(join(dir, 'self.yaml'), 'goal: Self\ninputs:\n  x: null\nplan:\n  - step: BadComposite(x)\n')
  await assert.rejects(d.publish(cap, { plan: join(dir, 'self.yaml') }), (err: any) => {
    assert.equal(err.name, 'CompositeSelfCallError')
    assert.match(err.message, /calls BadComposite itself/)
    return true
  })
  assert.equal(d.localCapabilities().some(l => l.descriptor.name === 'BadComposite'), false)
  // a stored plan that went missing after publish: the step fails with a typed error, no crash
  const ghost = externalModuleSpec('Ghost', { kind: COMPOSITE_KIND, target: 'bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku' })
  const call = { parameters: {}, settings: {}, globalSettings: {}, globalParameters: {}, inputData: {}, limits: { wall_ms: 5_000, mem_mb: 64 } }
  await assert.rejects(exec(mesh.nodes[1]).executor.pool.runModule(ghost, call), { name: 'CompositePlanNotFoundError' })
  // a local call deeper than the maximum is refused before anything runs
  const loop = d.localCapabilities().find(l => l.descriptor.name === 'LoopA')?.module
  assert.ok(loop != null)
  await assert.rejects(exec(mesh.nodes[1]).executor.pool.runModule(loop, { ...call, step: { runId: 'r', key: 'k', attempt: 1, depth: MAX_DEPTH + 1 } }), { name: 'CallDepthExceededError' })
})

test('a call whose depth is forged negative or huge is rejected by the schema; one deeper than the maximum is declined too-deep', async () => {
  const a = mesh.nodes[0]
  const b = mesh.nodes[1]
  const negotiate = negotiateProtocol()
  const inputCid = 'bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
  const body = (): CallForProposal => ({ run: 'r-depth', step: 's', capability: { name: 'LoopA' }, input: inputCid, input_size: 10, deadline: Date.now() + 60_000, reply_by: Date.now() + 5_000 })
  // signed by A over a body the schema refuses (signEnvelope itself validates, so sign the bytes by hand)
  const forged = (depth: number): Envelope<CallForProposal> => {
    const env = a.components.sign('CallForProposal.v1', body(), { to: b.peerId })
    const unsigned = { ...env, body: { ...env.body, depth } } as Omit<Envelope<CallForProposal>, 'sig'> & { sig?: string }
    delete unsigned.sig
    return { ...unsigned, sig: toBase64url(a.components.identity.sign(unsignedBytes(unsigned))) }
  }
  for (const depth of [-1, 1_000_000]) {
    const res = await a.components.rpc.request(b.peerId, negotiate, { envelope: forged(depth) })
    assert.equal(res.status, 'REJECTED', JSON.stringify(res))
    assert.equal(res.error?.name, 'InvalidBodyError', JSON.stringify(res.error))
    assert.match(res.error?.message ?? '', /\/depth must be/)
  }
  const env = a.components.sign('CallForProposal.v1', { ...body(), depth: MAX_DEPTH + 1 }, { to: b.peerId })
  const res = await a.components.rpc.request(b.peerId, negotiate, { envelope: env })
  assert.equal(res.status, 'OK', JSON.stringify(res.error))
  const { envelope } = await a.components.verifier.verify<Decline>((res.body as { envelope: unknown }).envelope, { expectedFrom: b.peerId, expectedTypes: ['Decline.v1'] })
  assert.equal(envelope.body.cfp, envelopeId(env))
  assert.equal(envelope.body.reason, 'too-deep')
  assert.match(envelope.body.message ?? '', /depth 3 is above this node's maximum of 2/)
})
