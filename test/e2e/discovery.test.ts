/**
 * Three real pl-node processes: `pl cap publish` on one, `pl cap find` on
 * another, `pl cap unpublish`, and the CLI's answers to bad input.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startNodeProcess, runCli, type NodeProcess } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'

async function eventually<T> (fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}

const DESCRIPTOR = `# a capability descriptor; impl is relative to this file and stripped before validation
name: Summarize
version: 1.0.0
impl: ./module_summarize
io:
  input: { type: object, properties: { text: { type: string } }, required: [text] }
  output: { type: object, properties: { summary: { type: string } }, required: [summary] }
limits: { wall_ms: 30000 }
price: 2
attrs: { readability: 0.9, coverage: 0.6 }
policies: [cid:pol-PII-no-exfil]
`

test('pl cap publish on one pl-node, pl cap find on another, pl cap unpublish', async () => {
  const root = await tempDir()
  const dirs = ['a', 'b', 'c'].map(n => join(root.dir, n))
  const procs: NodeProcess[] = []
  try {
    procs.push(await startNodeProcess(['--data-dir', dirs[0]]))
    procs.push(...await Promise.all(dirs.slice(1).map(async d => await startNodeProcess(['--data-dir', d, '--bootstrap', procs[0].info.addrs[0]]))))

    const work = join(root.dir, 'work')
    await mkdir(join(work, 'module_summarize'), { recursive: true })
    await writeFile(join(work, 'module_summarize', 'function.mjs'), 'export default class Summarize { eval (p, input) { return { summary: String(input.text).slice(0, 20) } } }\n')
    await writeFile(join(work, 'summarize.yaml'), DESCRIPTOR)

    const pub = await runCli(['cap', 'publish', join(work, 'summarize.yaml'), '--data-dir', dirs[1], '--json'])
    assert.equal(pub.code, 0, pub.stderr)
    const { cid, descriptor } = JSON.parse(pub.stdout)
    assert.match(cid, /^bafy/)
    assert.equal(descriptor.provider, procs[1].info.peerId)
    assert.match(descriptor.module.cid, /^bafy/)

    const list = await runCli(['cap', 'list', '--data-dir', dirs[1]])
    assert.equal(list.code, 0, list.stderr)
    assert.match(list.stdout, new RegExp(`Summarize@1\\.0\\.0  ${cid}  js .*module_summarize`))

    const found = await eventually(async () => {
      const r = await runCli(['cap', 'find', 'Summarize', '--data-dir', dirs[2], '--attr', 'readability>=0.8', '--policy', 'cid:pol-PII-no-exfil', '--timeout', '2000', '--json'])
      assert.equal(r.code, 0, r.stderr)
      const list = JSON.parse(r.stdout) as any[]
      return list.length > 0 ? list : undefined
    }, 30_000, 'node c to find the capability')
    assert.equal(found.length, 1)
    assert.equal(found[0].cid, cid)
    assert.equal(found[0].provider, procs[1].info.peerId)

    const human = await runCli(['cap', 'find', 'Summarize', '--data-dir', dirs[2], '--timeout', '1000'])
    assert.match(human.stdout, new RegExp(`^Summarize@1\\.0\\.0  provider ${procs[1].info.peerId}`))
    const filtered = await runCli(['cap', 'find', 'Summarize', '--data-dir', dirs[2], '--attr', 'coverage>=0.9', '--local'])
    assert.equal(filtered.stdout, 'no provider of Summarize found\n')

    const unpub = await runCli(['cap', 'unpublish', 'Summarize', '--data-dir', dirs[1]])
    assert.equal(unpub.code, 0, unpub.stderr)
    assert.equal(unpub.stdout, `unpublished ${cid}\n`)
    await eventually(async () => {
      const r = await runCli(['cap', 'find', 'Summarize', '--data-dir', dirs[2], '--local', '--json'])
      return JSON.parse(r.stdout).length === 0 ? true : undefined
    }, 20_000, 'the withdrawal to reach node c')
  } finally {
    const codes = await Promise.all(procs.map(async p => await p.stop()))
    await root.cleanup()
    assert.deepEqual(codes, procs.map(() => 0))
  }
})

test('pl cap says clearly when no pl-node runs on the data dir, and refuses bad descriptor files', async () => {
  const root = await tempDir()
  try {
    const none = await runCli(['cap', 'list', '--data-dir', root.dir])
    assert.equal(none.code, 1)
    assert.match(none.stderr, new RegExp(`^error: ControlApiUnavailableError: no pl-node is running on ${root.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `))
    const missing = await runCli(['cap', 'publish', join(root.dir, 'nope.yaml'), '--data-dir', root.dir])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /^error: InvalidDescriptorError: cannot read descriptor .*nope\.yaml: ENOENT/)
  } finally { await root.cleanup() }
})
