/**
 * Negotiated-step latency across network-namespace hosts vs loopback, in the
 * same run: two real `pl-node` processes on 127.0.0.1 (provider = bootstrap,
 * requester) and two on separate namespace hosts joined by veth links and a
 * bridge (test/helpers/netns.ts). Samples alternate between the two setups
 * so both see the same machine load. One sample = `POST /runs` of a one-step
 * plan (SlowEcho, ms=0) on the requester until `GET /runs/:id` says
 * succeeded: discovery (cached after the first), CFP → bid → award → exec →
 * result + receipt. The ratio is namespaces ÷ loopback. This kernel has no
 * `tc netem`, so the namespace links add only veth + bridge forwarding, not
 * a WAN's delay. Skipped with the reason when namespaces cannot be created.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NetnsBed, netnsUnavailable, BED_P2P_PORT } from '../test/helpers/netns.js'
import { startNodeProcess, type NodeProcess } from '../test/helpers/proc.js'
import { ControlClient } from '../src/api/client.js'
import { packageRoot } from '../src/core/paths.js'
import { latencyFigure, type Bench } from './harness.js'

const SAMPLES = 20
const WARMUP = 3
const SLOW_ECHO = join(packageRoot(), 'test', 'fixtures-e2e', 'slow-echo', 'capability.yaml')
const PLAN = 'goal: Bench\ninputs:\n  x: 0\nplan:\n  - step: SlowEcho(x)\n'

async function until (cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** One negotiated step, start to result, in ms. */
async function step (client: ControlClient, x: number): Promise<number> {
  const t0 = performance.now()
  const { runId } = await client.request<{ runId: string }>('POST', '/runs', { plan: PLAN, input: { x, ms: 0 } })
  for (;;) {
    const view = await client.request<any>('GET', `/runs/${runId}`)
    if (view.run.state === 'succeeded') return performance.now() - t0
    if (['failed', 'cancelled'].includes(view.run.state)) throw new Error(`run ${runId} ${String(view.run.state)}: ${JSON.stringify(view.run.error)}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

const netnsBench: Bench = {
  name: 'netns-step',
  run: async () => {
    const reason = netnsUnavailable()
    if (reason != null) {
      process.stderr.write(`  netns-step skipped: ${reason}\n`)
      return { figures: { [`skipped: ${reason}`]: NaN } }
    }
    const root = await mkdtemp(join(tmpdir(), 'pl-bench-netns-'))
    const procs: NodeProcess[] = []
    const bed = await NetnsBed.create({ bed: 3, hosts: 2 })
    try {
      const cfg = join(root, 'provider.json')
      await writeFile(cfg, JSON.stringify({ services: { capabilities: [{ file: SLOW_ECHO, price: 1 }] } }))
      const net = join(root, 'bench.yaml')
      await writeFile(net, "name: nsbench\nnoAnnounce: ['/ip4/127.0.0.0/ipcidr/8']\n")

      // loopback pair
      const lp = await startNodeProcess(['--data-dir', join(root, 'lp'), '--config', cfg], {}, 120_000)
      procs.push(lp)
      procs.push(await startNodeProcess(['--data-dir', join(root, 'lr'), '--bootstrap', lp.info.addrs[0]], {}, 120_000))
      const loop = await ControlClient.fromDataDir(join(root, 'lr'))

      // namespace pair: provider on h1 (the bootstrap), requester on h2
      const [h1, h2] = bed.hosts
      const np = await h1.start(['--data-dir', join(root, 'np'), '--network', net, '--config', cfg])
      procs.push(np)
      procs.push(await h2.start(['--data-dir', join(root, 'nr'), '--network', net, '--bootstrap', `/ip4/${h1.ip}/tcp/${BED_P2P_PORT}/p2p/${np.info.peerId}`]))
      const ns = await h2.control(join(root, 'nr'))

      for (const c of [loop, ns]) {
        await until(async () => (await c.request<any[]>('GET', '/caps/find?name=SlowEcho&timeout=3000').catch(() => [])).length > 0, 120_000, 'the provider to be found')
      }
      for (let i = 0; i < WARMUP; i++) { await step(loop, i); await step(ns, i) }
      const loopback: number[] = []
      const namespaces: number[] = []
      for (let i = 0; i < SAMPLES; i++) {
        loopback.push(await step(loop, i))
        namespaces.push(await step(ns, i))
      }
      return { figures: { 'negotiated step, namespace hosts': latencyFigure(namespaces, { name: 'loopback', samples: loopback }) } }
    } finally {
      await Promise.allSettled(procs.map(async p => await p.stop()))
      await bed.destroy()
      await rm(root, { recursive: true, force: true })
    }
  }
}

export const benches: Bench[] = [netnsBench]
