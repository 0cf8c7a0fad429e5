/**
 * Applies a chaos schedule to a running swarm: SIGKILL + relaunch of
 * providers, SIGSTOP/SIGCONT pauses, and the requester restart (snapshot of
 * its runs' steps first, then SIGKILL + relaunch). Every action is logged
 * with its time; `restoreAll()` resumes and relaunches whatever is still
 * down, so the end of a run always sees the whole swarm up.
 *
 * @example
 * const inj = new FaultInjector({ swarm, faults, clock, log, snapshot })
 * inj.start(); ...; await inj.finish()
 */
import { errorToData } from '../../src/core/errors.js'
import type { Swarm } from '../../src/swarm/index.js'
import type { RestartSnapshot } from './records.js'
import { formatFault, type Fault } from './schedule.js'

export interface AppliedFault extends Fault {
  /** when the fault really hit (ms since the start of the load) */
  appliedAt?: number
  /** when the node was up again */
  recoveredAt?: number
  error?: string
}

export interface FaultInjectorInit {
  swarm: Swarm
  faults: Fault[]
  clock: () => number
  log: (line: string) => void
  /** called right before a requester is killed: the steps of its runs */
  snapshot: (node: number) => Promise<RestartSnapshot>
  /**
   * a kill or pause is skipped (and reported) when this many providers are
   * already down — the schedule spaces faults, this guards against relaunches
   * slower than it assumed @default Infinity
   */
  maxDown?: number
}

export class FaultInjector {
  readonly applied: AppliedFault[]
  readonly snapshots: RestartSnapshot[] = []
  /** nodes being killed/relaunched right now (not to be used by the load) */
  readonly restarting = new Set<number>()
  private readonly paused = new Set<number>()
  private readonly killed = new Set<number>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly work = new Set<Promise<void>>()
  /** one chain of actions per node, so a relaunch never races a kill of the same node */
  private readonly chains = new Map<number, Promise<void>>()
  /** set by finish()/cancel(): no new timers (finish() restores what is down itself) */
  private finishing = false

  constructor (private readonly init: FaultInjectorInit) {
    this.applied = init.faults.map(f => ({ ...f }))
  }

  /** Whether node `i` can serve requests now. */
  available (i: number): boolean {
    return !this.restarting.has(i) && !this.paused.has(i) && !this.killed.has(i)
  }

  private at (): string {
    return `[+${(this.init.clock() / 1000).toFixed(1).padStart(6)}s]`
  }

  private later (ms: number, fn: () => Promise<void>, node: number): void {
    if (this.finishing) return
    const t = setTimeout(() => {
      this.timers.delete(t)
      this.enqueue(node, fn)
    }, Math.max(0, ms))
    this.timers.add(t)
  }

  private enqueue (node: number, fn: () => Promise<void>): void {
    const prev = this.chains.get(node) ?? Promise.resolve()
    const p = prev.then(fn, fn)
    this.chains.set(node, p)
    this.work.add(p)
    void p.finally(() => this.work.delete(p))
  }

  private async relaunch (f: AppliedFault): Promise<void> {
    try {
      await this.init.swarm.launch(f.node)
      f.recoveredAt = this.init.clock()
      this.init.log(`${this.at()} node ${f.node} is up again (${f.kind === 'restart-requester' ? 'requester restarted' : `after ${((f.recoveredAt - f.appliedAt!) / 1000).toFixed(1)}s down`})`)
    } catch (err) {
      f.error = `relaunch failed: ${errorToData(err).message}`
      this.init.log(`${this.at()} node ${f.node}: ${f.error}`)
    }
  }

  private async apply (f: AppliedFault): Promise<void> {
    const { swarm } = this.init
    if (!swarm.isRunning(f.node)) {
      f.error = 'node was not running'
      this.init.log(`${this.at()} skipped (${f.error}): ${formatFault(f)}`)
      return
    }
    const down = new Set([...this.killed, ...this.paused])
    if (f.kind !== 'restart-requester' && down.size >= (this.init.maxDown ?? Infinity)) {
      f.error = `skipped: ${down.size} provider(s) already down (node ${[...down].join(', ')}), at most ${String(this.init.maxDown)} at once`
      this.init.log(`${this.at()} ${f.error}: ${formatFault(f)}`)
      return
    }
    if (f.kind === 'pause') {
      f.appliedAt = this.init.clock()
      this.paused.add(f.node)
      swarm.pause(f.node)
      this.init.log(`${this.at()} FAULT SIGSTOP node ${f.node} for ${(f.durationMs / 1000).toFixed(1)}s`)
      this.later(f.durationMs, async () => {
        swarm.resume(f.node)
        this.paused.delete(f.node)
        f.recoveredAt = this.init.clock()
        this.init.log(`${this.at()} SIGCONT node ${f.node}`)
      }, f.node)
    } else if (f.kind === 'kill') {
      f.appliedAt = this.init.clock()
      this.killed.add(f.node)
      this.init.log(`${this.at()} FAULT SIGKILL node ${f.node}, restart in ${(f.durationMs / 1000).toFixed(1)}s`)
      await swarm.kill(f.node, 'SIGKILL')
      this.later(f.durationMs, async () => {
        this.restarting.add(f.node)
        try { await this.relaunch(f) } finally { this.restarting.delete(f.node); this.killed.delete(f.node) }
      }, f.node)
    } else {
      this.restarting.add(f.node)
      try {
        const snap = await this.init.snapshot(f.node)
        this.snapshots.push(snap)
        const done = snap.runs.reduce((n, r) => n + r.steps.filter(s => s.state === 'succeeded').length, 0)
        const midRun = snap.runs.filter(r => r.state === 'running' && r.steps.some(s => s.state === 'succeeded')).length
        f.appliedAt = this.init.clock()
        this.init.log(`${this.at()} FAULT restart requester node ${f.node} (SIGKILL + relaunch; snapshot: ${snap.runs.length} runs, ${midRun} of them mid-run, ${done} completed steps)`)
        await swarm.kill(f.node, 'SIGKILL')
        await this.relaunch(f)
      } finally {
        this.restarting.delete(f.node)
      }
    }
  }

  start (): void {
    for (const f of this.applied) this.later(f.at - this.init.clock(), async () => { await this.apply(f) }, f.node)
  }

  /** Cancels faults not yet applied, resumes paused nodes, relaunches killed ones; waits for all of it. */
  async finish (): Promise<void> {
    this.finishing = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    while (this.work.size > 0) await Promise.allSettled([...this.work])
    for (const f of this.applied) {
      if (f.appliedAt == null && f.error == null) f.error = 'not applied (the load ended first)'
    }
    for (const i of [...this.paused]) {
      this.init.swarm.resume(i)
      this.paused.delete(i)
      const f = this.applied.find(a => a.node === i && a.kind === 'pause' && a.recoveredAt == null)
      if (f != null) f.recoveredAt = this.init.clock()
      this.init.log(`${this.at()} SIGCONT node ${i} (end of the load)`)
    }
    for (const i of [...this.killed]) {
      const f = this.applied.find(a => a.node === i && a.kind === 'kill' && a.recoveredAt == null)
      this.restarting.add(i)
      try {
        if (f != null) await this.relaunch(f)
        else await this.init.swarm.launch(i)
      } finally {
        this.restarting.delete(i)
        this.killed.delete(i)
      }
    }
  }

  /** Stops timers only (for an abort: the swarm is stopped right after). */
  cancel (): void {
    this.finishing = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }
}
