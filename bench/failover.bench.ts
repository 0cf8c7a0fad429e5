/**
 * Failover benchmark: the run time of a negotiated step before and after a
 * provider dies, in the same run. 5 in-process nodes on loopback, each with
 * the real discovery and negotiation services (1 requester, 4 providers of
 * one capability, the cheapest wins). The winner then dies the way a killed
 * container does: its libp2p stops without withdrawing its ad (the ad stays
 * in the catalog, its DHT records stay) and a listener that accepts and never
 * answers takes its port, so every dial to it hangs until a timeout. The
 * figure after the death includes the first step after it (the one that
 * finds out); its baseline is the figure before, so the ratio is after ÷
 * before (target ≤ 1.5×).
 */
import { mkdtemp, rm, mkdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, type Socket } from 'node:net'
import { PlNode } from '../src/node.js'
import { silentLogger } from '../src/core/logger.js'
import { ModulePool } from '../src/exec/index.js'
import { discovery, type Discovery } from '../src/discovery/index.js'
import { negotiation, type Negotiation, type RemoteRunner } from '../src/negotiation/index.js'
import type { Step, TaskDag } from '../src/workflow/index.js'
import type { StepContext } from '../src/exec/types.js'
import { latencyFigure, type Bench } from './harness.js'

const PROVIDERS = 4
const SAMPLES = 30
const WARMUP = 5

const failoverBench: Bench = {
  name: 'failover',
  run: async () => {
    const dirs: string[] = []
    const nodes: PlNode[] = []
    const pool = new ModulePool()
    const held: Socket[] = []
    const tarpit = createServer((s) => { held.push(s) })
    try {
      const runStep = async (m: any, call: any, o: any): Promise<any> => await pool.runModule(m, call, o)
      for (let i = 0; i <= PROVIDERS; i++) {
        const dir = await mkdtemp(join(tmpdir(), 'pl-bench-failover-'))
        dirs.push(dir)
        const node = await PlNode.create({
          dataDir: dir,
          listen: ['/ip4/127.0.0.1/tcp/0'],
          bootstrap: i === 0 ? [] : nodes[0].addrs(),
          localSwarm: true,
          controlApi: false,
          services: { discovery: discovery({ ttlMs: 60_000, provideRetryMs: 100, provideRetryMaxMs: 1_000 }), negotiation: negotiation({ runStep }) }
        })
        await node.start()
        nodes.push(node)
      }
      const mod = await mkdtemp(join(tmpdir(), 'pl-bench-failover-mod-'))
      dirs.push(mod)
      await mkdir(join(mod, 'echo'))
      await writeFile(join(mod, 'echo', 'function.mjs'), 'export default class Echo { eval (parameters, inputData) { return { echoed: inputData.n } } }\n')
      const [requester, ...providers] = nodes
      for (const [i, p] of providers.entries()) {
        await p.service<Discovery>('discovery').publish({ name: 'Echo', version: '1.0.0', io: { input: {}, output: {} }, price: 1 + i }, { dir: join(mod, 'echo') })
      }
      const d = requester.service<Discovery>('discovery')
      const deadline = Date.now() + 60_000
      while ((await d.find({ name: 'Echo' }, { localOnly: true })).length < PROVIDERS) {
        if (Date.now() > deadline) throw new Error('the requester never heard every provider\'s ad')
        await new Promise(resolve => setTimeout(resolve, 100))
      }

      const runner = requester.service<Negotiation>('negotiation').runner as RemoteRunner
      const step: Step = { id: 'echo', kind: 'call', capability: { name: 'Echo' }, parameters: {}, settings: {}, after: [], args: {}, limits: {} }
      const dag: TaskDag = { v: 1, name: 'bench', source: { format: 'dsl' }, mode: 'dag', inputs: {}, constraints: {}, policies: [], select: [{ attr: 'price', weight: 1 }], globalSettings: {}, globalParameters: {}, steps: { echo: step }, outputs: ['echo'] }
      let seq = 0
      const one = async (): Promise<{ ms: number, executor: string }> => {
        const n = seq++
        const ctx: StepContext = { runId: `bench-failover-${n}`, key: 'echo', attempt: 1, limits: { wall_ms: 10_000, mem_mb: 128 }, dag, modules: {}, signal: AbortSignal.timeout(60_000), progress: () => {}, log: silentLogger(), addon: async () => undefined, ask: async () => '' }
        const t0 = performance.now()
        const res = await runner.run(step, { n }, ctx)
        if ((res.output as { echoed?: number }).echoed !== n) throw new Error('wrong output')
        return { ms: performance.now() - t0, executor: res.executor as string }
      }

      const before: number[] = []
      for (let i = 0; i < SAMPLES + WARMUP; i++) {
        const r = await one()
        if (i >= WARMUP) before.push(r.ms)
      }
      const winner = providers[0]
      const port = Number(/\/tcp\/(\d+)/.exec(winner.addrs()[0])?.[1])
      await winner.libp2p.stop()
      await new Promise<void>((resolve, reject) => { tarpit.once('error', reject); tarpit.listen(port, '127.0.0.1', resolve) })

      const after: number[] = []
      for (let i = 0; i < SAMPLES; i++) {
        const r = await one()
        if (r.executor === winner.peerId) throw new Error('the dead provider ran a step')
        after.push(r.ms)
      }
      const base = { name: 'the same step before the death', samples: before }
      return {
        figures: {
          'negotiated step before the provider death (discovery + CFP + award + run + receipt)': latencyFigure(before),
          'negotiated step after the death (first step after it included)': latencyFigure(after, base),
          'first step after the death': after[0],
          'steps after the first one, p50': latencyFigure(after.slice(1), base)
        }
      }
    } finally {
      await Promise.allSettled(nodes.map(async n => { await n.stop() }))
      for (const s of held) s.destroy()
      await new Promise<void>((resolve) => { tarpit.close(() => { resolve() }) })
      await pool.close()
      for (const d of dirs) await rm(d, { recursive: true, force: true })
    }
  }
}

export async function benches (): Promise<Bench[]> {
  return [failoverBench]
}
