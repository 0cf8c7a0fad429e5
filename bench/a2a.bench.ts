/**
 * A2A bridge latency: one client sends A2A `SendMessage` (JSON-RPC, the
 * blocking `message/send`) for a 1-step run of a local capability, against
 * the same run through the gateway's own route (`POST /dsl-graph/:id/deploy`
 * with the same DSL, `wait: true`). Sequential requests, alternating, on a
 * real PlNode wired as the daemon wires it (daemonServices: discovery,
 * receipts, negotiation, exec, a2a, gateway). The ratio is what the A2A
 * front door costs over the gateway's own (the SDK's request handler and
 * task store, the task's events, the receipts export artifact).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { PlNode } from '../src/node.js'
import { daemonServices } from '../src/services.js'
import { gateway, type GatewayService } from '../src/gateway/index.js'
import type { Discovery } from '../src/discovery/index.js'
import { latencyFigure, type Bench } from './harness.js'

const N = 60
const DSL = 'goal: One\nplan:\n  - step: Inc()\n'

async function timed (f: () => Promise<void>): Promise<number> {
  const t0 = performance.now()
  await f()
  return performance.now() - t0
}

export const benches: Bench[] = [{
  name: 'a2a-message-send',
  run: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pl-bench-a2a-'))
    const services = daemonServices({ dataDir: '', listen: [], bootstrap: [], controlPort: 0, logLevel: 'silent', localSwarm: false, gossip: false, api: {}, services: {} })
    services.gateway = gateway({ listen: '127.0.0.1:0', rateLimit: { burst: 1e9, perSecond: 1e9 } })
    const node = await PlNode.create({ dataDir: join(dir, 'node'), listen: ['/ip4/127.0.0.1/tcp/0'], controlApi: false, gossip: false, services })
    await node.start()
    try {
      const mod = join(dir, 'inc')
      await mkdir(mod, { recursive: true })
      await writeFile(join(mod, 'function.mjs'), 'export default class { eval (p, d) { return { number: (d.number ?? 0) + 1 } } }\n')
      await node.service<Discovery>('discovery').publish({ name: 'Inc', version: '1.0.0', io: { input: { type: 'object' }, output: { type: 'object' } } }, { dir: mod })
      const gw = node.service<GatewayService>('gateway')
      const base = gw.address as string
      const { key } = await gw.keys.create({ name: 'bench', scopes: ['read', 'submit'] })
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` }
      const a2a = async (): Promise<void> => {
        const res = await fetch(`${base}/a2a`, {
          method: 'POST',
          headers: { ...headers, 'a2a-version': '1.0' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SendMessage', params: { message: { messageId: randomUUID(), role: 'ROLE_USER', parts: [{ data: { capability: 'Inc', input: { number: 1 } } }] } } })
        })
        const body = await res.json() as { result?: { task?: { status?: { state?: string } } } }
        if (body.result?.task?.status?.state !== 'TASK_STATE_COMPLETED') throw new Error(`A2A run did not complete: ${JSON.stringify(body).slice(0, 500)}`)
      }
      const own = async (): Promise<void> => {
        const res = await fetch(`${base}/dsl-graph/one/deploy`, { method: 'POST', headers, body: JSON.stringify({ dsl: DSL, input: { number: 1 }, wait: true }) })
        const body = await res.json() as { run?: { state?: string } }
        if (body.run?.state !== 'succeeded') throw new Error(`gateway run did not succeed: ${JSON.stringify(body).slice(0, 500)}`)
      }
      for (let i = 0; i < 5; i++) { await a2a(); await own() } // warm-up
      const a2aMs: number[] = []
      const ownMs: number[] = []
      for (let i = 0; i < N; i++) {
        a2aMs.push(await timed(a2a))
        ownMs.push(await timed(own))
      }
      return { figures: { 'A2A SendMessage, 1-step run (blocking)': latencyFigure(a2aMs, { name: 'gateway POST /dsl-graph/:id/deploy (wait: true), same run', samples: ownMs }) } }
    } finally {
      await node.stop()
      await rm(dir, { recursive: true, force: true })
    }
  }
}]
