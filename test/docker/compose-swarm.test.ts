/**
 * The compose swarm for real: builds the image (the base image made locally
 * when it cannot be pulled), brings docker/compose.yaml up under a unique
 * project name, runs the SummarizeDocument plan on the bootstrap container,
 * `docker kill`s the provider that wins Summarize when all are alive while
 * the run is under way, and checks that the run still succeeds on the other
 * providers with receipts that verify. `down -v` always runs.
 *
 * Skipped, with the reason printed, only when no Docker engine can be
 * started (scripts/docker-engine.sh is tried first).
 */
import test from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { ComposeSwarm, COMPOSE_SERVICES, composeCommand, dockerUnavailable, runCommand } from '../../src/swarm/index.js'
import { packageRoot } from '../../src/core/paths.js'
import { verifyExport } from '../../src/receipts/index.js'
import type { DemoRun } from '../../src/swarm/report.js'
import { chmod, writeFile } from 'node:fs/promises'
import { tempDir } from '../helpers/tmp.js'

/** Starts dockerd when it is installed but not running; the reason when still no engine answers. */
async function engineProblem (): Promise<string | undefined> {
  if (dockerUnavailable() == null) return undefined
  const res = await runCommand(['bash', join(packageRoot(), 'scripts', 'docker-engine.sh')], { timeoutMs: 180_000 })
  const still = dockerUnavailable()
  return still != null ? `${still}${res.code !== 0 ? ` (scripts/docker-engine.sh: ${res.stderr.trim().split('\n').slice(-3).join(' ')})` : ''}` : undefined
}

test('a negotiated plan across compose containers survives docker kill of the winning provider; receipts verify', { timeout: 60 * 60_000 }, async (t) => {
  const problem = await engineProblem()
  if (problem != null) {
    t.skip(`no Docker engine: ${problem}`)
    return
  }
  const started = Date.now()
  const log = (line: string): void => { process.stderr.write(`# [${((Date.now() - started) / 1000).toFixed(0)} s] ${line}\n`) }
  // `docker compose` (v2) when installed (scripts/docker-engine.sh installs it), else docker-compose v1
  t.diagnostic(`compose tool: ${composeCommand()?.join(' ') ?? 'none'}`)
  const swarm = new ComposeSwarm({ project: `pltest${process.pid}`, log })
  t.after(async () => {
    log('down -v')
    await swarm.down()
  })

  await swarm.build()
  log('image built')
  await swarm.up()
  await swarm.waitHealthy(COMPOSE_SERVICES, 600_000)
  log('all services healthy')
  const peers = await swarm.peerIds()
  assert.equal(new Set(peers).size, COMPOSE_SERVICES.length, 'every container has its own identity')

  // a two-section document: six parallel Python steps on the one remaining provider timed out at load average 30
  const { dir, cleanup } = await tempDir('pl-docker-doc-')
  t.after(cleanup)
  await writeFile(join(dir, 'doc.md'), '# Two sections\n\n## Discovery\nPeers find capabilities through gossip ads and DHT provider records. Ads expire unless re-signed.\n\n## Receipts\nEvery step ends with a receipt signed by its provider and countersigned by the requester.\n')
  await chmod(join(dir, 'doc.md'), 0o644)
  const bootstrapId = await swarm.containerId('bootstrap')
  const cp = await runCommand(['docker', 'cp', join(dir, 'doc.md'), `${bootstrapId}:/tmp/doc.md`])
  assert.equal(cp.code, 0, cp.stderr)

  // provider-2 offers the policy-compliant Summarize with the best score: it wins every item while alive
  const victim = 'provider-2'
  const victimPeer = peers[COMPOSE_SERVICES.indexOf(victim)]
  let killed: Promise<void> | undefined
  const run = runCommand(['docker', 'exec', bootstrapId,
    'node', 'dist/src/swarm/demo.js', '--attach', '/data', '--document', '/tmp/doc.md', '--json', '--deadline', 'PT600S', '--peers', peers.join(',')], {
    timeoutMs: 900_000,
    onLine: (line) => {
      log(`bootstrap: ${line}`)
      // mid-run: the first step has started, Summarize is not awarded yet
      if (killed == null && line.includes('step:started 0-fetchsections')) {
        log(`docker kill ${victim}`)
        killed = swarm.kill(victim)
      }
    }
  })
  const res = await run
  await killed
  assert.ok(killed != null, 'the run reached its first step (and the provider was killed)')
  assert.equal(await swarm.health(victim), 'exited')
  let demo: DemoRun | undefined
  try { demo = JSON.parse(res.stdout) as DemoRun } catch {}
  assert.equal(res.code, 0, `the run succeeded:\n${res.stderr.slice(-3000)}\nrun: ${JSON.stringify(demo?.view?.run ?? res.stdout.slice(-2000))}\n${await swarm.logs(['provider-1', 'provider-3', 'provider-4'], 15)}`)
  assert.ok(demo != null)
  assert.equal(demo.view.run.state, 'succeeded')

  // receipts: verified again here, on the host, offline
  assert.ok(demo.receipts != null, 'the requester exported the run\'s receipts')
  const chain = verifyExport(demo.receipts)
  const receipts = demo.receipts.receipts.map(r => r.receipt)
  assert.equal(chain.receipts, receipts.length)
  assert.ok(receipts.length >= 4, `a receipt per remote step (${receipts.length})`)
  for (const r of receipts) assert.ok(peers.slice(1).includes(r.provider), `receipt of ${r.step} is signed by one of the providers`)
  const summarizers = receipts.filter(r => r.step.startsWith('1-summarize[')).map(r => r.provider)
  log(`Summarize ran on ${summarizers.join(', ')}`)
  assert.ok(summarizers.length > 0)
  assert.ok(!summarizers.includes(victimPeer), 'no Summarize item ran on the killed provider')
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`)
})
