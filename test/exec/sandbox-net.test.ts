/**
 * No-exfil: a step under `network: none` runs in a network namespace with
 * only its own loopback. A module's outbound TCP connect to a server of this
 * host fails there — on the host's 127.0.0.1 (another namespace's loopback)
 * and on a non-loopback address of a veth interface the test adds — and succeeds
 * without the policy. A provider maps a Policy.v1 with `network: none` to
 * such a step.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createServer, type Server } from 'node:net'
import { promisify } from 'node:util'
import { ModulePool } from '../../src/exec/pool.js'
import { Provider, type PolicyDoc } from '../../src/negotiation/index.js'
import type { LocalOffer } from '../../src/negotiation/types.js'
import { silentLogger } from '../../src/core/logger.js'
import { tempDir } from '../helpers/tmp.js'
import { writeModule } from './helpers.js'
import { call } from './sandbox-helpers.js'

const run = promisify(execFile)

/**
 * Adds a veth pair with a TEST-NET-2 address on one end: an address of this
 * host that is not loopback (traffic to it never leaves the host);
 * undefined when not permitted.
 */
async function hostAddress (): Promise<{ addr: string, remove: () => Promise<void> } | undefined> {
  const name = `plsbx${Math.floor(Math.random() * 1e6)}`
  const addr = `198.51.100.${2 + Math.floor(Math.random() * 250)}`
  try {
    await run('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`])
    await run('ip', ['addr', 'add', `${addr}/32`, 'dev', name])
    await run('ip', ['link', 'set', name, 'up'])
    await run('ip', ['link', 'set', `${name}p`, 'up'])
  } catch {
    await run('ip', ['link', 'del', name]).catch(() => {})
    return undefined
  }
  return { addr, remove: async () => { await run('ip', ['link', 'del', name]).catch(() => {}) } }
}

const JS_CONNECT = `import { connect } from 'node:net'
export default class {
  async eval (p) {
    const out = {}
    for (const host of p.hosts) {
      out[host] = await new Promise((resolve) => {
        const s = connect({ host, port: p.port })
        s.setTimeout(10_000)
        s.once('connect', () => { s.destroy(); resolve('connected') })
        s.once('error', (e) => { resolve(e.code ?? e.message) })
        s.once('timeout', () => { s.destroy(); resolve('timeout') })
      })
    }
    return out
  }
}
`

const PY_CONNECT = `import socket
class Connect:
    def __init__(self, *a):
        pass

    def eval(self, p, d, c):
        out = {}
        for host in p["hosts"]:
            try:
                socket.create_connection((host, p["port"]), timeout=10).close()
                out[host] = "connected"
            except OSError as err:
                out[host] = type(err).__name__
        return out
`

for (const kind of ['js', 'py'] as const) {
  test(`a ${kind} module under network: none cannot open a TCP connection to this host; without it, it can`, async (t) => {
    const tmp = await tempDir('pl-sandbox-net-')
    const pool = new ModulePool()
    const server: Server = createServer((s) => { s.destroy() })
    const dummy = await hostAddress()
    if (dummy == null) t.diagnostic('no veth interface could be added (no CAP_NET_ADMIN): the host loopback case only')
    try {
      await new Promise<void>((resolve) => { server.listen(0, '0.0.0.0', resolve) })
      const port = (server.address() as { port: number }).port
      const hosts = ['127.0.0.1', ...(dummy != null ? [dummy.addr] : [])]
      const mod = await writeModule(tmp.dir, `connect${kind}`, kind === 'js' ? JS_CONNECT : PY_CONNECT, kind)
      const open = await pool.runModule(mod, call(undefined, { parameters: { hosts, port } }))
      assert.deepEqual(open.output, Object.fromEntries(hosts.map(h => [h, 'connected'])), 'without the policy the module reaches the server')
      const closed = await pool.runModule(mod, call(undefined, { parameters: { hosts, port }, sandbox: { network: 'none' } }))
      for (const h of hosts) assert.notEqual((closed.output as Record<string, string>)[h], 'connected', `${h} was reachable under network: none`)
      assert.equal(closed.isolation, kind === 'js' ? 'sandbox-no-net' : 'process-no-net')
    } finally {
      server.close()
      await dummy?.remove()
      await pool.close()
      await tmp.cleanup()
    }
  })
}

test('a provider runs a step without network when its offer or the call is under a Policy.v1 with network: none', async () => {
  const docs: Record<string, PolicyDoc> = { 'pol-no-exfil': { name: 'no-exfil', network: 'none' }, 'pol-eu': { name: 'eu', residency: ['eu'] } }
  const provider = new Provider({ logger: silentLogger() } as any, {
    local: { localOffer: () => undefined },
    runStep: async () => ({ output: null, usage: { cpu_ms: 0, wall_ms: 0, mem_peak_mb: 0 } }),
    policyResolver: async (ref) => { const doc = docs[ref]; if (doc == null) throw new Error(`unknown policy ${ref}`); return { cid: ref, doc } }
  })
  const offer = (policies?: string[]): LocalOffer => ({ cid: 'bafy', module: {} as any, descriptor: { name: 'x', version: '1.0.0', provider: 'p', io: { input: {}, output: {} }, limits: {}, ...(policies != null ? { policies } : {}) } })
  assert.deepEqual(await provider.sandboxOf(offer(['pol-no-exfil'])), { network: 'none' }, 'offered under the policy')
  assert.deepEqual(await provider.sandboxOf(offer(), ['pol-eu', 'pol-no-exfil']), { network: 'none' }, 'the call requires the policy')
  assert.equal(await provider.sandboxOf(offer(['pol-eu']), ['unknown-ref']), undefined, 'no network: none policy')
})
