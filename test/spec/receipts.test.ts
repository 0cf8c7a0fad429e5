import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { createIdentity, type Identity } from '../../src/core/index.js'
import { cidStringOf, toBase64url } from '../../src/core/encoding.js'
import { countersignReceipt, receiptSigningBytes, signReceipt, verifySignedReceipt, type Receipt, ReceiptStore, ReceiptingRunner, stepCallDocument } from '../../src/receipts/index.js'
import { schemaCid, readSchemaFile } from '../../src/spec/compiler/index.js'
import { Store } from '../../src/store/index.js'
import { silentLogger } from '../../src/core/logger.js'
import type { Step, TaskDag } from '../../src/workflow/index.js'
import type { StepRunner } from '../../src/exec/types.js'
import { tempDir } from '../helpers/tmp.js'
import { compileTo, goAvailable, goReceiptChecker, GO_SKIP, importGeneratedTs, pyReceiptChecker, runGo, runPython, SAMPLE_SPEC, SCHEMAS } from './helpers.js'

interface Case { name: string, signed: unknown, opts: Record<string, unknown>, expect: string }

let dir: string
let cleanup: () => Promise<void>
let cases: Case[]
let ts: any

function clone<T> (v: T): T {
  return JSON.parse(JSON.stringify(v))
}

/** A step call document as the node's ReceiptingRunner hashes it (receipt.input). */
function stepCall (text: string): Record<string, unknown> {
  return { input_data: { text, previous_outputs: {} }, parameters: { max_words: 5, style: 'paragraph' }, settings: {}, global_settings: {}, global_parameters: {} }
}

function summarize (call: Record<string, any>): { summary: string, words: number } {
  const words = String(call.input_data.text).split(/\s+/).filter(w => w !== '').slice(0, Number(call.parameters.max_words))
  return { summary: words.join(' '), words: words.length }
}

function receiptOf (provider: Identity, requester: Identity, call: unknown, output: unknown, over: Partial<Receipt> = {}): Receipt {
  return {
    run: 'run-ü-1',
    step: '1-summarize',
    capability: 'Summarize',
    provider: provider.id,
    requester: requester.id,
    award: cidStringOf({ award: 1 }),
    input: cidStringOf(call),
    output: cidStringOf(output),
    status: 'ok',
    started: 1_760_000_000_000,
    ended: 1_760_000_001_234,
    // floats, an integer-valued number and a tiny one: float64 and minimal-int CBOR in every language
    usage: { cpu_ms: 12.5, wall_ms: 1234, mem_peak_mb: 1e-7 },
    limits: { cpu_ms: 1000, mem_mb: 256, wall_ms: 5000 },
    // > 255 UTF-8 bytes: a two-byte CBOR length head; non-ASCII text
    policies: ['résumé-😀-' + 'p'.repeat(180), 'eu-only'],
    prev: [cidStringOf({ a: 1 }), cidStringOf({ b: 2 })],
    ...over
  }
}

/** Runs one Summarize step through the node's ReceiptingRunner (the receipt path of a real run). */
async function realRun (storeDir: string): Promise<{ signed: unknown, call: unknown, output: unknown }> {
  const store = await Store.open(storeDir)
  try {
    const me = await createIdentity()
    const inner: StepRunner = {
      name: 'local',
      canRun: () => true,
      run: async (_step, inputData) => ({ output: summarize({ input_data: inputData, parameters: { max_words: 3 } }), usage: { cpu_ms: 0.75, wall_ms: 3, mem_peak_mb: 12.5 } })
    }
    const runner = new ReceiptingRunner(inner, { identity: me, receipts: new ReceiptStore(store) })
    const step: Step = { id: '0-summarize', kind: 'call', capability: { name: 'Summarize' }, parameters: { style: 'bullets' }, settings: {}, after: [], args: {}, limits: {} }
    const dag: TaskDag = { v: 1, name: 'spec-test', source: { format: 'dsl' }, mode: 'dag', inputs: {}, constraints: {}, policies: [], select: [], globalSettings: {}, globalParameters: {}, steps: { [step.id]: step }, outputs: [step.id] }
    const inputData = { text: 'one two three four five', previous_outputs: {} }
    const ctx = { runId: 'run-real', key: step.id, attempt: 1, limits: { wall_ms: 5000, mem_mb: 128 }, dag, modules: {}, signal: new AbortController().signal, progress: () => {}, log: silentLogger(), addon: async () => undefined, ask: async () => 'yes' }
    const res = await runner.run(step, inputData, ctx)
    return { signed: clone(res.receipt), call: clone(stepCallDocument(step, inputData, dag)), output: clone(res.output) }
  } finally {
    await store.close()
  }
}

before(async () => {
  ({ dir, cleanup } = await tempDir('pl-spec-receipts-'))
  const real = await realRun(join(dir, 'node'))
  await compileTo(join(dir, 'out'), [SAMPLE_SPEC])
  ts = await importGeneratedTs(join(dir, 'out', 'ts'), join(dir, 'ts-run'))
  const specCid = schemaCid((await readSchemaFile(SAMPLE_SPEC)).doc)
  const provider = await createIdentity()
  const requester = await createIdentity()
  const stranger = await createIdentity()
  const call = stepCall('Receipts make every step of a run accountable to both parties.')
  const output = summarize(call)
  const descriptor = {
    name: 'Summarize',
    version: '1.0.0',
    provider: provider.id,
    io: { input: { $ref: `cid:${specCid}#/properties/input` }, output: specCid },
    limits: { wall_ms: 5000 }
  }
  const base = receiptOf(provider, requester, call, output)
  const providerOnly = signReceipt(provider, base)
  const accepted = countersignReceipt(requester, providerOnly)
  const full = { requireRequester: true, capability: 'Summarize', input: call, output, descriptor }
  const mutate = (f: (s: any) => void): any => { const s = clone(accepted); f(s); return s }
  const lastChar = accepted.provider_sig.slice(-1)
  const badOutput = { summary: 42 }
  cases = [
    { name: 'a receipt from a real step run (ReceiptingRunner)', signed: real.signed, opts: { requireRequester: true, capability: 'Summarize', input: real.call, output: real.output }, expect: 'ok' },
    { name: 'accepted receipt with its call, output and descriptor', signed: accepted, opts: full, expect: 'ok' },
    { name: 'accepted receipt, no options', signed: accepted, opts: {}, expect: 'ok' },
    { name: 'accepted receipt named by its descriptor CID', signed: countersignReceipt(requester, signReceipt(provider, { ...base, capability: cidStringOf(descriptor) })), opts: { descriptor }, expect: 'ok' },
    { name: 'provider-signed only', signed: providerOnly, opts: {}, expect: 'ok' },
    { name: 'provider-signed only, countersignature required', signed: providerOnly, opts: { requireRequester: true }, expect: 'ReceiptSignatureInvalidError' },
    { name: 'a field changed after signing', signed: mutate(s => { s.receipt.step = '2-summarize' }), opts: {}, expect: 'ReceiptSignatureInvalidError' },
    { name: 'a float usage figure changed after signing', signed: mutate(s => { s.receipt.usage.cpu_ms = 12.25 }), opts: {}, expect: 'ReceiptSignatureInvalidError' },
    { name: 'signatures swapped', signed: mutate(s => { [s.provider_sig, s.requester_sig] = [s.requester_sig, s.provider_sig] }), opts: {}, expect: 'ReceiptSignatureInvalidError' },
    { name: 'signed by a key that is not the provider', signed: { ...clone(accepted), provider_sig: toBase64url(stranger.sign(receiptSigningBytes(base))) }, opts: {}, expect: 'ReceiptSignatureInvalidError' },
    { name: 'requester replaced by another peer', signed: mutate(s => { s.receipt.requester = stranger.id }), opts: {}, expect: 'ReceiptSignatureInvalidError' },
    { name: 'a non-canonical signature encoding', signed: mutate(s => { s.provider_sig = s.provider_sig.slice(0, -1) + (lastChar === 'B' ? 'C' : 'B') }), opts: {}, expect: 'ReceiptFormatError' },
    { name: 'a prev entry that is not a CIDv1', signed: mutate(s => { s.receipt.prev = ['b' + 'a'.repeat(58)] }), opts: {}, expect: 'ReceiptFormatError' },
    { name: 'a provider that is not an ed25519 PeerId', signed: mutate(s => { s.receipt.provider = 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N' }), opts: {}, expect: 'ReceiptFormatError' },
    { name: 'not a SignedReceipt at all', signed: { receipt: {} }, opts: {}, expect: 'ReceiptFormatError' },
    { name: 'a receipt for another capability', signed: countersignReceipt(requester, signReceipt(provider, { ...base, capability: 'Translate' })), opts: {}, expect: 'ReceiptMismatchError' },
    { name: 'the wrong expected capability', signed: accepted, opts: { capability: 'Summarise' }, expect: 'ReceiptMismatchError' },
    { name: 'an input call that does not hash to receipt.input', signed: accepted, opts: { input: stepCall('another text') }, expect: 'ReceiptMismatchError' },
    { name: 'an output that does not match the spec', signed: countersignReceipt(requester, signReceipt(provider, receiptOf(provider, requester, call, badOutput))), opts: { output: badOutput }, expect: 'ReceiptMismatchError' },
    { name: 'a descriptor whose io does not point at the spec', signed: accepted, opts: { descriptor: { ...descriptor, io: { input: cidStringOf({ x: 1 }), output: specCid } } }, expect: 'ReceiptMismatchError' }
  ]
})

after(async () => { await cleanup() })

function tsVerdict (c: Case): string {
  try {
    ts.checkReceipt(c.signed, c.opts)
    return 'ok'
  } catch (err) {
    return (err as Error).name
  }
}

test('the node and the generated TypeScript checker agree on every signature and format case', () => {
  for (const c of cases) {
    if (c.expect === 'ReceiptMismatchError') continue // the node does not know the spec
    let node = 'ok'
    try { verifySignedReceipt(c.signed, { requireRequester: c.opts.requireRequester === true }) } catch { node = 'rejected' }
    assert.equal(node === 'ok', tsVerdict(c) === 'ok', c.name)
  }
})

test('the generated TypeScript receipt checker accepts node receipts and rejects mutated ones', () => {
  assert.deepEqual(cases.map(c => [c.name, tsVerdict(c)]), cases.map(c => [c.name, c.expect]))
})

const PY_HARNESS = pyReceiptChecker({
  prepare: [
    'o = c["opts"]',
    'kw = {}',
    'if "requireRequester" in o: kw["require_requester"] = o["requireRequester"]',
    'for k in ("capability", "descriptor", "input", "output"):',
    '    if k in o: kw[k] = o[k]'
  ],
  check: 'plspec.check_receipt(c["signed"], **kw)'
})

test('the generated Python receipt checker (pure-Python ed25519) gives the same verdicts', async () => {
  const got = await runPython(join(dir, 'out', 'py'), PY_HARNESS, { cases })
  assert.deepEqual(cases.map((c, i) => [c.name, got[i]]), cases.map(c => [c.name, c.expect]))
})

const GO_HARNESS = goReceiptChecker({
  prepare: [
    'o := c["opts"].(map[string]any)',
    'opts := plspec.CheckReceiptOptions{Descriptor: o["descriptor"], Input: o["input"], Output: o["output"]}',
    'opts.RequireRequester, _ = o["requireRequester"].(bool)',
    'opts.Capability, _ = o["capability"].(string)'
  ],
  check: 'plspec.CheckReceipt(c["signed"], opts)'
})

test('the generated Go receipt checker (crypto/ed25519) gives the same verdicts', async (t) => {
  if (!goAvailable()) { t.skip(GO_SKIP); return }
  const got = await runGo(join(dir, 'go-run'), join(dir, 'out', 'go'), 'plspec', GO_HARNESS, { cases })
  assert.deepEqual(cases.map((c, i) => [c.name, got[i]]), cases.map(c => [c.name, c.expect]))
})

test('a checker compiled from the protocol schemas alone checks signatures but binds no capability', async () => {
  await compileTo(join(dir, 'generic'), [SCHEMAS], ['ts'])
  const generic = await importGeneratedTs(join(dir, 'generic', 'ts'), join(dir, 'generic-run'))
  assert.deepEqual(generic.CAPABILITIES, [])
  const other = cases.find(c => c.name === 'a receipt for another capability') as Case
  assert.equal(generic.checkReceipt(other.signed).receipt.capability, 'Translate')
  const changed = cases.find(c => c.name === 'a field changed after signing') as Case
  assert.throws(() => generic.checkReceipt(changed.signed), { name: 'ReceiptSignatureInvalidError' })
})
