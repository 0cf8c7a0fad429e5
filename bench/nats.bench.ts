/**
 * The NATS binding against libp2p: one requester on libp2p + NATS, two
 * providers of the same capability, one reachable over libp2p (an open
 * connection), one only over NATS (no libp2p address), each on its own real
 * module pool, a real nats-server on loopback. Rounds alternate between the
 * two (which goes first flips every round), so both see the same machine state:
 *   - one `/pl/negotiate` call (a signed CFP answered by a signed bid);
 *   - a negotiated remote step end to end (CFP, bid, award, exec with
 *     progress and result, verified and countersigned receipt).
 * The figures are the NATS latencies with the libp2p ones as baseline, so
 * the ratio is "how much slower over NATS". Skipped (no rows) when
 * `nats-server` is not installed.
 */
import { mkdtemp, rm, mkdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PlNode } from '../src/node.js'
import { cidStringOf, cidOfBytes, encodeCanonical } from '../src/core/encoding.js'
import { moduleSpecOf } from '../src/core/index.js'
import { silentLogger } from '../src/core/logger.js'
import { ModulePool } from '../src/exec/index.js'
import { nats, type NatsBridge } from '../src/bridges/nats/index.js'
import { negotiation, negotiateProtocol, type Negotiation, type RemoteRunner, type LocalOffer, type Candidate } from '../src/negotiation/index.js'
import type { Step, TaskDag } from '../src/workflow/index.js'
import type { StepContext } from '../src/exec/types.js'
import { NatsServer, natsServerBinary } from '../test/helpers/nats.js'
import { latencyFigure, type Bench, type Figure } from './harness.js'

const ROUNDS = 100
const WARMUP = 10

async function until (cond: () => boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

const natsBench: Bench = {
  name: 'nats',
  run: async () => {
    const bin = natsServerBinary()
    if (bin == null) {
      process.stderr.write('  nats: skipped, nats-server is not installed (scripts/setup-ci.sh installs it)\n')
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- without it the two returns' union is not a Record<string, Figure>
      return { figures: {} as Record<string, Figure> }
    }
    const tmp = await mkdtemp(join(tmpdir(), 'pl-bench-nats-'))
    const server = await NatsServer.start(bin)
    const pool = new ModulePool()
    const nodes: PlNode[] = []
    try {
      await mkdir(join(tmp, 'echo'))
      await writeFile(join(tmp, 'echo', 'function.mjs'), 'export default class Echo { eval (parameters, inputData) { return { echoed: inputData.n } } }\n')
      const module = await moduleSpecOf('echo', join(tmp, 'echo'))
      const runStep = async (m: any, call: any, o: any): Promise<any> => await pool.runModule(m, call, o)
      let candidates: Candidate[] = []
      const offers: LocalOffer[] = []
      const start = async (i: number, listen: string[], onNats: boolean, bootstrap: string[] = []): Promise<PlNode> => {
        const local = { localOffer: () => offers[i] }
        const node = await PlNode.create({
          dataDir: join(tmp, `node-${i}`),
          listen,
          bootstrap,
          localSwarm: true,
          controlApi: false,
          services: {
            ...(onNats ? { nats: nats({ url: server.url }) } : {}),
            negotiation: i === 0 ? negotiation({ finder: { find: async () => candidates }, local }) : negotiation({ local, runStep, maxActive: 100_000 })
          }
        })
        await node.start()
        nodes.push(node)
        return node
      }
      const requester = await start(0, ['/ip4/127.0.0.1/tcp/0'], true)
      const viaLibp2p = await start(1, ['/ip4/127.0.0.1/tcp/0'], false, requester.addrs())
      const viaNats = await start(2, [], true)
      const candidateOf = (i: number, p: PlNode): Candidate => {
        const descriptor = { name: 'Echo', version: '1.0.0', provider: p.peerId, io: { input: {}, output: {} }, limits: { wall_ms: 10_000, mem_mb: 128 }, price: 1 }
        offers[i] = { cid: cidStringOf(descriptor), descriptor, module }
        return { cid: offers[i].cid, descriptor, provider: p.peerId, addrs: p.addrs() }
      }
      const libp2pCandidate = candidateOf(1, viaLibp2p)
      const natsCandidate = candidateOf(2, viaNats)
      await until(() => requester.libp2p.getPeers().length > 0, 'the libp2p provider connected')
      await until(() => requester.service<NatsBridge>('nats').connected && viaNats.service<NatsBridge>('nats').connected, 'both NATS nodes connected')

      // one negotiate call each way; the NATS provider learns of the requester from its first call, the requester of it from its first answer
      const c = requester.components
      const negotiate = negotiateProtocol()
      const inputCid = cidOfBytes(encodeCanonical({ n: 1 })).toString()
      const call = async (to: Candidate, i: number): Promise<number> => {
        const now = Date.now()
        const env = c.sign('CallForProposal.v1', { run: 'bench', step: `s${i}`, capability: { name: 'Echo', cid: to.cid }, input: inputCid, input_size: 8, deadline: now + 60_000, reply_by: now + 5_000 }, { to: to.provider })
        const t0 = performance.now()
        const res = await c.rpc.request(to.provider, negotiate, { envelope: env })
        if (res.status !== 'OK') throw new Error(`negotiate answered ${res.status}: ${JSON.stringify(res.error)}`)
        return performance.now() - t0
      }
      const callLibp2p: number[] = []
      const callNats: number[] = []
      // the order flips every round: neither carrier always goes first
      const pair = async (i: number, f: (to: Candidate, i: number) => Promise<number>): Promise<[number, number]> => {
        if (i % 2 === 0) { const a = await f(libp2pCandidate, i); return [a, await f(natsCandidate, i)] }
        const b = await f(natsCandidate, i)
        return [await f(libp2pCandidate, i), b]
      }
      for (let i = 0; i < ROUNDS + WARMUP; i++) {
        const [a, b] = await pair(i, call)
        if (i >= WARMUP) { callLibp2p.push(a); callNats.push(b) }
      }

      const runner = requester.service<Negotiation>('negotiation').runner as RemoteRunner
      const step: Step = { id: 'echo', kind: 'call', capability: { name: 'Echo' }, parameters: {}, settings: {}, after: [], args: {}, limits: {} }
      const dag: TaskDag = { v: 1, name: 'bench', source: { format: 'dsl' }, mode: 'dag', inputs: {}, constraints: {}, policies: [], select: [], globalSettings: {}, globalParameters: {}, steps: { echo: step }, outputs: ['echo'] }
      const runOn = async (to: Candidate, i: number): Promise<number> => {
        candidates = [to]
        const ctx: StepContext = { runId: `bench-nats-${i}-${to.provider.slice(-6)}`, key: 'echo', attempt: 1, limits: { wall_ms: 10_000, mem_mb: 128 }, dag, modules: {}, signal: AbortSignal.timeout(30_000), progress: () => {}, log: silentLogger(), addon: async () => undefined, ask: async () => '' }
        const t0 = performance.now()
        const res = await runner.run(step, { n: i }, ctx)
        if ((res.output as { echoed?: number }).echoed !== i || res.executor !== to.provider) throw new Error('wrong output or executor')
        return performance.now() - t0
      }
      const stepLibp2p: number[] = []
      const stepNats: number[] = []
      for (let i = 0; i < ROUNDS / 2 + WARMUP; i++) {
        const [a, b] = await pair(i, runOn)
        if (i >= WARMUP) { stepLibp2p.push(a); stepNats.push(b) }
      }
      if (viaNats.libp2p.getConnections().length > 0) throw new Error('the NATS-only provider got a libp2p connection: the figures would not be NATS')
      return {
        figures: {
          '/pl/negotiate call (CFP → bid) over NATS': latencyFigure(callNats, { name: 'same call over libp2p', samples: callLibp2p }),
          'negotiated remote step end to end over NATS': latencyFigure(stepNats, { name: 'same step over libp2p', samples: stepLibp2p })
        }
      }
    } finally {
      await Promise.allSettled(nodes.map(async n => { await n.stop() }))
      await pool.close()
      await server.close()
      await rm(tmp, { recursive: true, force: true })
    }
  }
}

export async function benches (): Promise<Bench[]> {
  return [natsBench]
}
