/**
 * The operator's first questions, asked of real `pl` / `pl-node` processes:
 * versions, help layout, status, peers, why a step went where it went, and
 * read-only commands that must not create anything.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startNodeProcess, runCli, PL_NODE } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/mesh.js'
import { ControlClient } from '../../src/api/client.js'

/** generous: the test machines are shared and loaded; nothing here measures time */
const START_MS = 120_000
const CLI_MS = 120_000

const VERSION = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')).version as string

test('pl --version and pl-node --version print the package version', async () => {
  const pl = await runCli(['--version'], { timeoutMs: CLI_MS })
  const node = await runCli(['--version'], { entry: PL_NODE, timeoutMs: CLI_MS })
  assert.equal(pl.code, 0, pl.stderr)
  assert.equal(pl.stdout, `${VERSION}\n`)
  assert.equal(node.stdout, `${VERSION}\n`)
})

test('pl --help keeps every command description in its column', async () => {
  const res = await runCli(['--help'], { env: { COLUMNS: '200' }, timeoutMs: CLI_MS })
  const lines = res.stdout.split('\n')
  const commands = lines.slice(lines.indexOf('Commands:') + 1).filter(l => l.trim() !== '')
  assert.ok(commands.some(l => /^ {2}run \[options\] \[path\] +Run a workflow/.test(l)), res.stdout)
  const column = (l: string): number => l.search(/\S {2,}\S/) + /\S( {2,})\S/.exec(l)![1].length + 1
  const col = column(commands[0])
  for (const l of commands) {
    assert.match(l, /^ {2}[a-z]/, `a line of its own, not a wrapped description: "${l}"`)
    assert.equal(column(l), col, `description column of "${l}"`)
  }
})

test('read-only commands on a mistyped data dir say so and create nothing', async () => {
  const t = await tempDir()
  const dir = join(t.dir, 'typo')
  try {
    const list = await runCli(['runs', 'list', '--data-dir', dir], { timeoutMs: CLI_MS })
    assert.equal(list.code, 0, list.stderr)
    assert.equal(list.stdout, `no runs: ${dir} holds no pl-node data (no database; is --data-dir / PL_DATA_DIR right?)\n`)
    const show = await runCli(['runs', 'show', 'r1', '--data-dir', dir], { timeoutMs: CLI_MS })
    assert.match(show.stderr, /^error: RunNotFoundError: no run r1: .* holds no pl-node data/)
    const receipts = await runCli(['receipts', 'show', 'r1', '--data-dir', dir], { timeoutMs: CLI_MS })
    assert.match(receipts.stderr, /^error: ReceiptNotFoundError: no receipts for run r1: .* holds no pl-node data/)
    const run = await runCli(['run', join(t.dir, 'no-such-workflow'), '--data-dir', dir], { timeoutMs: CLI_MS })
    assert.equal(run.code, 1)
    assert.match(run.stderr, /^error: WorkflowNotFoundError/)
    assert.equal(existsSync(dir), false, 'the data dir was not created')
  } finally {
    await t.cleanup()
  }
})

test('pl receipts verify of a file that does not exist says so', async () => {
  const t = await tempDir()
  try {
    const res = await runCli(['receipts', 'verify', join(t.dir, 'nope.json'), '--data-dir', join(t.dir, 'd')], { timeoutMs: CLI_MS })
    assert.equal(res.code, 1)
    assert.equal(res.stderr, `error: InputFileNotFoundError: ${join(t.dir, 'nope.json')}: no such file (pl receipts verify takes an export file or a run id)\n`)
  } finally {
    await t.cleanup()
  }
})

test('pl status, pl peers, pl runs list and pl cap find on a lone node', async () => {
  const a = await tempDir()
  const na = await startNodeProcess(['--data-dir', a.dir], {}, START_MS)
  try {
    const pub = await runCli(['cap', 'publish', 'examples/capabilities/summarize/capability.yaml', '--data-dir', a.dir], { timeoutMs: CLI_MS })
    assert.equal(pub.code, 0, pub.stderr)
    const status = await runCli(['status', '--data-dir', a.dir], { timeoutMs: CLI_MS })
    assert.equal(status.code, 0, status.stderr)
    assert.match(status.stdout, new RegExp(`^peer id {7}${na.info.peerId}\n`))
    assert.ok(status.stdout.includes(`  ${na.info.addrs[0]}\n`), status.stdout)
    assert.match(status.stdout, /\npeers {9}0 \(alone/)
    assert.match(status.stdout, /\ncapabilities {2}1\n {2}Summarize@1\.0\.0 {2}bafy\w+\n/)
    assert.match(status.stdout, /\ncatalog {7}\d+ entr/)
    assert.match(status.stdout, /\nruns {10}none active \(0 journaled\)\n/)
    assert.match(status.stdout, /\nwarnings {6}/)
    const peers = await runCli(['peers', '--data-dir', a.dir], { timeoutMs: CLI_MS })
    assert.equal(peers.stdout, 'no peers\n')
    const runs = await runCli(['runs', 'list', '--data-dir', a.dir], { timeoutMs: CLI_MS })
    assert.equal(runs.stdout, `no runs in ${a.dir}\n`)
    const found = await runCli(['cap', 'find', 'Summarize', '--data-dir', a.dir], { timeoutMs: CLI_MS })
    assert.equal(found.code, 0, found.stderr)
    assert.match(found.stderr, /^this node has no peers: searched this node only \(no DHT walk\)\n/)
    assert.match(found.stdout, /^Summarize@1\.0\.0 {2}provider /)
  } finally {
    await na.stop()
    await a.cleanup()
  }
})

test('a negotiated run shows its remote provider in pl run progress, pl runs explain and pl status', async () => {
  const a = await tempDir(); const b = await tempDir()
  const provider = await startNodeProcess(['--data-dir', a.dir], {}, START_MS)
  let requester
  try {
    for (const c of ['summarize', 'fetch-sections', 'merge-summaries', 'attach-references']) {
      const res = await runCli(['cap', 'publish', `examples/capabilities/${c}/capability.yaml`, '--data-dir', a.dir], { timeoutMs: CLI_MS })
      assert.equal(res.code, 0, res.stderr)
    }
    requester = await startNodeProcess(['--data-dir', b.dir, '--bootstrap', provider.info.addrs[0]])
    // the plan names its policy by CID (examples/policies/pii-no-exfil.yaml): the requester stores it
    const policy = await runCli(['policy', 'create', 'examples/policies/pii-no-exfil.yaml', '--data-dir', b.dir], { timeoutMs: CLI_MS })
    assert.equal(policy.code, 0, policy.stderr)
    const client = await ControlClient.fromDataDir(b.dir)
    await waitFor(async () => (await client.request<any[]>('POST', '/caps/find', { query: { name: 'AttachReferences' }, options: { timeoutMs: 2000 } })).length > 0, 90_000, 'the requester finds the provider')
    const run = await runCli(['run', 'examples/plans/summarize.yaml', '--input', JSON.stringify({ doc: '# A\n\nFirst part. It has words.\n\n# B\n\nSecond part, more words.\n' }), '--data-dir', b.dir], { timeoutMs: 4 * CLI_MS })
    assert.equal(run.code, 0, run.stderr)
    const short = `${provider.info.peerId.slice(0, 8)}…${provider.info.peerId.slice(-6)}`
    assert.ok(run.stderr.includes(`: done in `) && run.stderr.includes(` on ${short}`), run.stderr)
    const runId = /^run (\S+) \(on the pl-node/m.exec(run.stderr)![1]
    const explain = await runCli(['runs', 'explain', runId, '--data-dir', b.dir], { timeoutMs: CLI_MS })
    assert.equal(explain.code, 0, explain.stderr)
    assert.match(explain.stdout, new RegExp(`^run ${runId}: succeeded\n`))
    assert.ok(explain.stdout.includes(`ran on ${short}`), explain.stdout)
    assert.match(explain.stdout, /\n {4}bid \S+: won rank 1 score [\d.]+ price [\d.]+ eta \d+ ms/)
    const status = await runCli(['status', '--data-dir', b.dir], { timeoutMs: CLI_MS })
    assert.match(status.stdout, /\npeers {9}[1-9]/)
    assert.ok(status.stdout.includes(`  ${provider.info.peerId}  /ip4/127.0.0.1/tcp/`), status.stdout)
    const peers = await runCli(['peers', '--data-dir', b.dir, '--json'], { timeoutMs: CLI_MS })
    assert.ok(JSON.parse(peers.stdout).some((p: any) => p.peerId === provider.info.peerId))
  } finally {
    await requester?.stop(); await provider.stop()
    await a.cleanup(); await b.cleanup()
  }
})
