/**
 * Negotiation benchmarks on a 5-node in-process loopback mesh (1 requester,
 * 4 providers of one capability): CFP→award latency (call 4 candidates,
 * verify and rank their bids, sign the award, get the ack), and a remote
 * step end to end (negotiation + award + executing a trivial JS module on
 * the winner's real module pool + verifying the result and the receipt +
 * countersigning and storing it). The baseline, measured in the same run,
 * is the round trip of a raw libp2p stream echo between the same nodes.
 *
 * Both figures are a running mesh's: the process's young generation is run
 * through once (`warmHeap`), then CFP_WARMUP and STEP_WARMUP rounds go
 * unmeasured. Measured in windows of 100 rounds, a fresh process takes
 * ~300 CFP rounds (7.0 → 3.4 ms) and ~200 remote steps (8.0 → 5.8 ms) to get
 * there: V8 growing and first touching its young generation, then the JIT
 * (docs/PERFORMANCE.md "Negotiation: a fresh process's first rounds").
 */
import { cfpAwardRig } from './cfp-award.js'
import { mkdtemp, rm, mkdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PlNode } from '../src/node.js'
import { cidStringOf, encodeCanonical } from '../src/core/encoding.js'
import { moduleSpecOf } from '../src/core/index.js'
import { silentLogger } from '../src/core/logger.js'
import { ModulePool } from '../src/exec/index.js'
import { negotiation, type Negotiation, type RemoteRunner, type LocalOffer, type Candidate } from '../src/negotiation/index.js'
import type { Step, TaskDag } from '../src/workflow/index.js'
import type { StepContext } from '../src/exec/types.js'
import { latencyFigure, warmHeap, type Bench } from './harness.js'

const PROVIDERS = 4
const ROUNDS = 200
/** rounds of the raw echo baseline not measured */
const WARMUP = 20
/** CFP→award rounds not measured */
const CFP_WARMUP = 300
/** remote steps not measured (after the CFP rounds, which warmed most of the same code) */
const STEP_WARMUP = 200

async function startMesh (offers: LocalOffer[][], candidates: Candidate[], pool: ModulePool): Promise<{ nodes: PlNode[], cleanup: () => Promise<void> }> {
  const nodes: PlNode[] = []
  const dirs: string[] = []
  const runStep = async (m: any, call: any, o: any): Promise<any> => await pool.runModule(m, call, o)
  // awards of the CFP→award figure are never executed and hold a slot until they expire: no capacity limit here
  for (let i = 0; i <= PROVIDERS; i++) {
    const dir = await mkdtemp(join(tmpdir(), 'pl-bench-neg-'))
    dirs.push(dir)
    const local = { localOffer: (name: string) => offers[i]?.find(o => o.descriptor.name === name) }
    const node = await PlNode.create({
      dataDir: dir,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: i === 0 ? [] : nodes[0].addrs(),
      localSwarm: true,
      controlApi: false,
      services: { negotiation: i === 0 ? negotiation({ finder: { find: async () => candidates }, local, replyWindowMs: 5_000 }) : negotiation({ local, runStep, bidTtlMs: 60_000, maxActive: 100_000 }) }
    })
    await node.start()
    nodes.push(node)
  }
  return { nodes, cleanup: async () => { await Promise.all(nodes.map(async n => { await n.stop() })); for (const d of dirs) await rm(d, { recursive: true, force: true }) } }
}

async function rawEchoRtt (a: PlNode, b: PlNode, n: number): Promise<number[]> {
  await b.libp2p.handle('/pl/bench-neg-raw/1.0.0', (stream) => {
    stream.addEventListener('message', (evt) => { stream.send(evt.data) })
    stream.addEventListener('remoteCloseWrite', () => { void stream.close() })
  })
  const stream = await a.libp2p.dialProtocol(b.libp2p.peerId, '/pl/bench-neg-raw/1.0.0')
  const bytes = encodeCanonical({ n: 1, s: 'x'.repeat(64) })
  const out: number[] = []
  for (let i = 0; i < n + WARMUP; i++) {
    const t0 = performance.now()
    await new Promise<void>((resolve) => {
      const onMsg = (): void => { stream.removeEventListener('message', onMsg); resolve() }
      stream.addEventListener('message', onMsg)
      stream.send(bytes)
    })
    if (i >= WARMUP) out.push(performance.now() - t0)
  }
  await stream.close()
  return out
}

const negotiationBench: Bench = {
  name: 'negotiation',
  run: async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'pl-bench-neg-mod-'))
    const pool = new ModulePool()
    let cleanup: (() => Promise<void>) | undefined
    try {
      await mkdir(join(tmp, 'echo'))
      await writeFile(join(tmp, 'echo', 'function.mjs'), 'export default class Echo { eval (parameters, inputData) { return { echoed: inputData.n } } }\n')
      const module = await moduleSpecOf('echo', join(tmp, 'echo'))
      const offers: LocalOffer[][] = [[]]
      const candidates: Candidate[] = []
      const mesh = await startMesh(offers, candidates, pool)
      cleanup = mesh.cleanup
      const [requester, ...providers] = mesh.nodes
      providers.forEach((p, i) => {
        const descriptor = { name: 'Echo', version: '1.0.0', provider: p.peerId, io: { input: {}, output: {} }, limits: { wall_ms: 10_000, mem_mb: 128 }, price: 1 + i, attrs: { quality: i / PROVIDERS } }
        const offer = { cid: cidStringOf(descriptor), descriptor, module }
        offers[i + 1] = [offer]
        candidates.push({ cid: offer.cid, descriptor, provider: p.peerId, addrs: p.addrs() })
      })
      for (const p of providers) await requester.libp2p.dial(p.libp2p.getMultiaddrs()[0])

      const raw = await rawEchoRtt(requester, providers[0], ROUNDS)

      // CFP → award: one round over 4 candidates, then award the best and wait for the ack
      const exchange = await cfpAwardRig(requester, { capability: 'Echo', run: 'bench', candidates })
      const cfpToAward: number[] = []
      warmHeap()
      for (let i = 0; i < ROUNDS + CFP_WARMUP; i++) {
        const t0 = performance.now()
        await exchange(`s${i}`, AbortSignal.timeout(10_000))
        if (i >= CFP_WARMUP) cfpToAward.push(performance.now() - t0)
      }

      // a remote step end to end through the RemoteRunner
      const runner = requester.service<Negotiation>('negotiation').runner as RemoteRunner
      const step: Step = { id: 'echo', kind: 'call', capability: { name: 'Echo' }, parameters: {}, settings: {}, after: [], args: {}, limits: {} }
      const dag: TaskDag = { v: 1, name: 'bench', source: { format: 'dsl' }, mode: 'dag', inputs: {}, constraints: {}, policies: [], select: [{ attr: 'quality', weight: 1 }], globalSettings: {}, globalParameters: {}, steps: { echo: step }, outputs: ['echo'] }
      const endToEnd: number[] = []
      for (let i = 0; i < ROUNDS / 2 + STEP_WARMUP; i++) {
        const ctx: StepContext = { runId: `bench-${i}`, key: 'echo', attempt: 1, limits: { wall_ms: 10_000, mem_mb: 128 }, dag, modules: {}, signal: AbortSignal.timeout(30_000), progress: () => {}, log: silentLogger(), addon: async () => undefined, ask: async () => '' }
        const t0 = performance.now()
        const res = await runner.run(step, { n: i }, ctx)
        if ((res.output as { echoed?: number }).echoed !== i) throw new Error('wrong output')
        if (i >= STEP_WARMUP) endToEnd.push(performance.now() - t0)
      }
      const baseline = { name: 'raw libp2p stream echo RTT', samples: raw }
      return {
        figures: {
          [`CFP→award (${PROVIDERS} candidates)`]: latencyFigure(cfpToAward, baseline),
          'remote step end to end (negotiate + award + run + verified receipt)': latencyFigure(endToEnd, baseline)
        }
      }
    } finally {
      await cleanup?.()
      await pool.close()
      await rm(tmp, { recursive: true, force: true })
    }
  }
}

export async function benches (): Promise<Bench[]> {
  return [negotiationBench]
}
