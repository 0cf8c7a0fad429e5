import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Store } from '../../src/store/index.js'
import { ReceiptStore } from '../../src/receipts/store.js'
import { verifyChain } from '../../src/receipts/chain.js'
import { decodeJson, encodeJson } from '../../src/core/encoding.js'
import { runCli } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { parties, diamond } from './helpers.js'

let dir: string
let cleanup: () => Promise<void>
let root: string

before(async () => {
  ({ dir, cleanup } = await tempDir('pl-receipts-cli-'))
  const store = await Store.open(dir)
  const chain = diamond(await parties(), 'run-cli')
  const receipts = new ReceiptStore(store)
  for (const r of chain) await receipts.put(r)
  root = verifyChain(chain).root
  await store.close()
})

after(async () => { await cleanup() })

test('pl receipts show prints every step of the run and its root, read from the data dir', async () => {
  const res = await runCli(['receipts', 'show', 'run-cli', '--data-dir', dir])
  assert.equal(res.code, 0, res.stderr)
  assert.match(res.stdout, new RegExp(`root ${root}`))
  for (const s of ['a', 'b', 'c', 'd']) assert.match(res.stdout, new RegExp(`^${s}  Split  ok`, 'm'))
})

test('pl receipts export writes dag-json that pl receipts verify checks offline', async () => {
  const file = join(dir, 'run-cli.receipts.json')
  const exported = await runCli(['receipts', 'export', 'run-cli', '--data-dir', dir, '-o', file])
  assert.equal(exported.code, 0, exported.stderr)
  const doc = decodeJson<{ root: string, receipts: unknown[] }>(await readFile(file))
  assert.equal(doc.root, root)
  assert.equal(doc.receipts.length, 4)
  const verified = await runCli(['receipts', 'verify', file])
  assert.equal(verified.code, 0, verified.stderr)
  assert.match(verified.stdout, new RegExp(`ok: 4 receipts of run run-cli verify; root ${root}`))
})

test('pl receipts verify fails on a mutated export, naming the problem', async () => {
  const file = join(dir, 'mutated.json')
  const out = await runCli(['receipts', 'export', 'run-cli', '--data-dir', dir])
  assert.equal(out.code, 0, out.stderr)
  const doc = decodeJson<{ receipts: Array<{ receipt: { usage: { wall_ms: number } } }> }>(out.stdout)
  doc.receipts[2].receipt.usage.wall_ms = 1
  await writeFile(file, encodeJson(doc))
  const res = await runCli(['receipts', 'verify', file])
  assert.equal(res.code, 1)
  assert.match(res.stderr, /ReceiptSignatureError/)
})

test('pl receipts show names a run without receipts', async () => {
  const res = await runCli(['receipts', 'show', 'no-such-run', '--data-dir', dir])
  assert.equal(res.code, 1)
  assert.match(res.stderr, /ReceiptNotFoundError: no receipts for run no-such-run/)
})
