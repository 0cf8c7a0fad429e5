import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { Swarm } from '../../src/swarm/index.js'
import { FaultInjector } from '../../bench/soak/faults.js'
import { stickySpec } from '../../bench/soak/driver.js'
import type { RestartSnapshot } from '../../bench/soak/records.js'
import { tempDir } from '../helpers/tmp.js'

async function procState (pid: number): Promise<string> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return /^State:\s+(\S)/m.exec(status)?.[1] ?? '?'
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

// waits end on the injector's log lines (events), not on elapsed time; the node:test timeout is only a hang guard
test('the fault injector pauses, kills and restarts real pl-node processes, and finish() brings every node back on its old ports', { timeout: 600_000 }, async () => {
  const { dir, cleanup } = await tempDir('pl-soak-faults-')
  let swarm: Swarm | undefined
  const lines: string[] = []
  const allApplied = (): boolean => lines.some(l => l.includes('node 0 is up again')) && lines.some(l => l.includes('FAULT SIGKILL node 1')) && lines.some(l => l.includes('FAULT SIGSTOP node 2'))
  const applied = Promise.withResolvers<void>()
  try {
    swarm = await Swarm.start({ nodes: 3, root: dir, logLevel: 'warn', spec: stickySpec(() => ({ config: {} }), () => swarm) })
    const sw = swarm
    const pids = sw.members.map(m => m.proc!.pid!)
    const addrs = sw.members.map(m => [...m.addrs])
    const t0 = Date.now()
    const snapshots: number[] = []
    const injector = new FaultInjector({
      swarm: sw,
      clock: () => Date.now() - t0,
      log: (l) => { lines.push(l); if (allApplied()) applied.resolve() },
      snapshot: async (node): Promise<RestartSnapshot> => { snapshots.push(node); return { node, at: 0, runs: [] } },
      // long downtimes: finish() has to end them
      faults: [
        { at: 0, kind: 'pause', node: 2, durationMs: 600_000 },
        { at: 0, kind: 'kill', node: 1, durationMs: 600_000 },
        { at: 0, kind: 'restart-requester', node: 0, durationMs: 0 }
      ]
    })
    injector.start()
    await applied.promise
    assert.equal(await procState(pids[2]), 'T', 'node 2 is stopped')
    assert.equal(sw.isRunning(1), false, 'node 1 is killed')
    assert.equal(injector.available(1), false)
    assert.equal(injector.available(2), false)
    assert.deepEqual(snapshots, [0], 'the requester was snapshotted once, before its restart')

    await injector.finish()
    assert.notEqual(await procState(pids[2]), 'T', 'node 2 was resumed')
    assert.ok(sw.isRunning(0) && sw.isRunning(1) && sw.isRunning(2))
    assert.notEqual(sw.members[0].proc!.pid, pids[0])
    assert.notEqual(sw.members[1].proc!.pid, pids[1])
    assert.equal(sw.members[2].proc!.pid, pids[2])
    assert.equal(alive(pids[0]) || alive(pids[1]), false, 'the killed processes are gone')
    assert.deepEqual(sw.members[0].addrs, addrs[0], 'node 0 listens where it did before')
    assert.deepEqual(sw.members[1].addrs, addrs[1], 'node 1 listens where it did before')
    for (const f of injector.applied) {
      assert.equal(f.error, undefined, `${f.kind} node ${f.node}: ${String(f.error)}`)
      assert.ok(f.appliedAt != null && f.recoveredAt != null, `${f.kind} node ${f.node} applied and recovered`)
    }
    assert.ok(lines.some(l => /SIGCONT node 2 \(end of the load\)/.test(l)), lines.join('\n'))
    assert.ok([0, 1, 2].every(i => injector.available(i)))
  } finally {
    await swarm?.stop()
    if (swarm != null) for (const m of swarm.members) assert.equal(alive(m.proc!.pid!), false, `node ${m.index} stopped`)
    await cleanup()
  }
})

test('a kill or pause is skipped, and reported, when maxDown providers are already down', { timeout: 60_000 }, async () => {
  const calls: string[] = []
  const running = new Set([0, 1, 2, 3])
  const fake = {
    isRunning: (i: number) => running.has(i),
    pause: (i: number) => { calls.push(`pause ${i}`) },
    resume: (i: number) => { calls.push(`resume ${i}`) },
    kill: async (i: number) => { calls.push(`kill ${i}`); running.delete(i) },
    launch: async (i: number) => { calls.push(`launch ${i}`); running.add(i) }
  } as unknown as Swarm
  const lines: string[] = []
  // every fault logs once it is applied or skipped, after recording that: the log is the event to wait on
  const handled = Promise.withResolvers<void>()
  const injector: FaultInjector = new FaultInjector({
    swarm: fake,
    clock: () => 0,
    log: (l) => { lines.push(l); if (injector.applied.every(f => f.appliedAt != null || f.error != null)) handled.resolve() },
    snapshot: async (node) => ({ node, at: 0, runs: [] }),
    maxDown: 1,
    faults: [
      { at: 0, kind: 'kill', node: 1, durationMs: 600_000 },
      { at: 0, kind: 'pause', node: 2, durationMs: 600_000 },
      { at: 0, kind: 'kill', node: 3, durationMs: 600_000 }
    ]
  })
  injector.start()
  await handled.promise
  await injector.finish()
  assert.deepEqual(calls, ['kill 1', 'launch 1'])
  assert.equal(injector.applied[0].error, undefined)
  assert.match(injector.applied[1].error ?? '', /^skipped: 1 provider\(s\) already down \(node 1\), at most 1 at once$/)
  assert.match(injector.applied[2].error ?? '', /^skipped: /)
  assert.equal(lines.filter(l => l.includes('skipped')).length, 2)
})
