/**
 * Issue 6's end-to-end proof with real processes: five `pl-node` processes on
 * 127.0.0.1 with the demo's provider profiles. A 4-step plan whose
 * capabilities live on different nodes completes and its receipt chain
 * verifies offline; a provider SIGKILLed mid-step is replaced by a backup; a
 * requester SIGKILLed mid-run resumes without re-awarding finished steps.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { Swarm, swarmNodeSpec, waitForCapabilities } from '../../src/swarm/index.js'
import { ControlClient } from '../../src/api/client.js'
import { packageRoot } from '../../src/core/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/mesh.js'
import { runCli } from '../helpers/proc.js'
import { finished } from '../helpers/runs.js'

const SLOW_ECHO = join(packageRoot(), 'test', 'fixtures-e2e', 'slow-echo', 'capability.yaml')
const SUMMARIZE = join(packageRoot(), 'examples', 'plans', 'summarize.yaml')
const DOC = join(packageRoot(), 'examples', 'documents', 'mesh-notes.md')

/** The demo profiles, plus SlowEcho on node 1 (cheap: wins) and node 3 (the backup). */
function spec (i: number): ReturnType<typeof swarmNodeSpec> {
  const base = swarmNodeSpec(i)
  const caps = [...((base.config?.services as any)?.capabilities ?? [])]
  if (i === 1) caps.push({ file: SLOW_ECHO, price: 1 })
  if (i === 3) caps.push({ file: SLOW_ECHO, price: 5 })
  // SlowEcho appends to a marker file in the test's temp folder: the operator lets sandboxed modules write there
  return { config: { services: { ...(base.config?.services as Record<string, unknown>), capabilities: caps, discovery: { ttlMs: 20_000 }, exec: { poolInit: { sandbox: { fs: { write: [tmpdir()] } } } } } } }
}

function lines (file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []
}

test('one plan across a swarm of 5 pl-node processes: negotiated steps, failover, requester restart, receipts verified offline', { timeout: 400_000 }, async () => {
  const t = await tempDir('pl-e2e-swarm-')
  const swarm = await Swarm.start({ nodes: 5, root: t.dir, spec, logLevel: 'info' })
  const peerIndex = (peer: string): number => swarm.members.findIndex(m => m.peerId === peer)
  try {
    const c0 = await ControlClient.fromDataDir(swarm.members[0].dataDir)
    await waitForCapabilities(c0, ['FetchSections', 'Summarize', 'MergeSummaries', 'AttachReferences', 'SlowEcho'], 60_000)

    // 1. the summarize plan: 4 capabilities, none on the requester
    const { cid } = await c0.request('POST', '/blocks', { doc: await readFile(DOC, 'utf8') })
    const { runId } = await c0.request('POST', '/runs', { plan: await readFile(SUMMARIZE, 'utf8'), input: { doc: `cid:${cid as string}` } })
    const view = await finished(c0, runId)
    assert.equal(view.run.state, 'succeeded', JSON.stringify(view.run.error))
    assert.match(view.output.document, /## References/)
    const executors = new Set<number>(view.steps.filter((s: any) => s.state === 'succeeded').map((s: any) => peerIndex(s.executor)))
    assert.equal(executors.has(0), false, 'node 0 has no capabilities: every step ran elsewhere')
    assert.ok(executors.size >= 3, `steps ran on ${[...executors].join(', ')}: at least 3 different nodes`)
    // the cheapest, best-rated Summarize (node 4) lacks the PII attestation the plan requires
    assert.equal(view.steps.some((s: any) => s.key.includes('summarize') && peerIndex(s.executor) === 4), false)

    // receipts: exported through the CLI, verified offline (no data dir, no daemon), mutation detected
    const exportFile = join(t.dir, 'receipts.json')
    const exp = await runCli(['receipts', 'export', runId, '-o', exportFile, '--data-dir', swarm.members[0].dataDir])
    assert.equal(exp.code, 0, exp.stderr)
    const ok = await runCli(['receipts', 'verify', exportFile])
    assert.equal(ok.code, 0, ok.stderr + ok.stdout)
    const tampered = (await readFile(exportFile, 'utf8')).replace(/"wall_ms":(\d+)/, (_m, n) => `"wall_ms":${Number(n) + 1}`)
    await writeFile(join(t.dir, 'tampered.json'), tampered)
    const bad = await runCli(['receipts', 'verify', join(t.dir, 'tampered.json')])
    assert.notEqual(bad.code, 0, 'a mutated receipt must not verify')

    // 2. the winning provider of a step is SIGKILLed mid-step: a backup finishes it
    const marker = join(t.dir, 'slow-echo.log')
    const { runId: failRun } = await c0.request('POST', '/runs', {
      plan: 'goal: Failover\ninputs:\n  x: 0\nselect:\n  optimize: [price:1]\nplan:\n  - step: SlowEcho(x)\n',
      input: { x: 42, ms: 4000, marker, tag: 'failover' }
    })
    await waitFor(() => lines(marker).length >= 1, 60_000, 'SlowEcho started on the winner')
    await swarm.kill(1, 'SIGKILL')
    const failView = await finished(c0, failRun)
    assert.equal(failView.run.state, 'succeeded', JSON.stringify(failView.run.error))
    assert.deepEqual(failView.output, { x: 42, tag: 'failover' })
    assert.equal(peerIndex(failView.steps[0].executor), 3, 'the backup (node 3) ran it')
    const explanations = await c0.request('GET', `/runs/${failRun}/explanations`)
    const ex = explanations.steps[0]
    assert.equal(lines(marker).length, 2, 'the step started on the winner, then on the backup')
    assert.ok(ex.reawards >= 1, 'the explanation records the re-award')
    const failed = ex.attempts.find((a: any) => a.provider === swarm.members[1].peerId)
    assert.ok(failed != null && failed.outcome !== 'ok', `the explanation records the winner's failure: ${JSON.stringify(ex.attempts)}`)
    assert.equal(ex.attempts.at(-1).provider, swarm.members[3].peerId)

    // 3. the requester (node 4) is SIGKILLed while its second step runs; after restart the run resumes
    //    and the finished first step is not awarded again
    const marker2 = join(t.dir, 'restart.log')
    const c4 = await ControlClient.fromDataDir(swarm.members[4].dataDir)
    const { runId: restartRun } = await c4.request('POST', '/runs', {
      plan: 'goal: Restart\ninputs:\n  x: 0\nplan:\n  - step: SlowEcho(x, tag="first", ms=0)\n    as: first\n  - step: SlowEcho(first, tag="second", ms=3000)\n',
      input: { x: 7, marker: marker2 }
    })
    await waitFor(() => lines(marker2).some(l => l.startsWith('second')), 60_000, 'second step started')
    await swarm.restart(4)
    const c4b = await ControlClient.fromDataDir(swarm.members[4].dataDir)
    const restartView = await finished(c4b, restartRun)
    assert.equal(restartView.run.state, 'succeeded', JSON.stringify(restartView.run.error))
    assert.equal(lines(marker2).filter(l => l.startsWith('first')).length, 1, 'the finished step ran once')
  } finally {
    await swarm.stop()
    await t.cleanup()
  }
})
