/**
 * NAT traversal with js-libp2p's own modules, in the namespace test bed:
 * h1 is the bootstrap and a circuit relay v2 server; h2 is a public provider
 * (expensive); n1 is a provider behind a NAT router (masquerade, no inbound
 * connection passes) and n2 a requester behind another one. Both NATed nodes
 * run the relay client (reserving a slot on h1, as the network file says),
 * AutoNAT, DCUtR and identify (push on by default).
 *
 * n1 reserves a slot on the relay and announces its circuit address; n2
 * finds n1 through the DHT and asks it over /pl/caps through the relay, on a
 * relayed (limited) connection, and n1 wins a negotiated step of n2's plan
 * through the relay (CFP, award, receipt over the limited connection).
 *
 * Why no direct upgrade is asserted here: DCUtR (and its unilateral upgrade)
 * only dials addresses that js-libp2p considers public — `isPublicAndDialable`
 * in @libp2p/dcutr drops every private range (10/8, 100.64/10, 192.168/16,
 * 198.18/15, TEST-NETs ...). A test bed inside one machine may use only such
 * addresses, so the observed addresses the relay reports (the routers'
 * 10.213.2.10x) are filtered out and no hole punch is attempted: the
 * connection stays relayed. (And with both peers behind NAT over TCP, a hole
 * punch would rarely work anyway: @libp2p/tcp dials from ephemeral ports, no
 * port reuse.) docs/TESTNET.md says what to expect on real public addresses.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { NetnsBed, netnsUnavailable, BED_P2P_PORT } from '../helpers/netns.js'
import { runCli, PL_NODE, type NodeProcess } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/mesh.js'
import { finished } from '../helpers/runs.js'
import { packageRoot } from '../../src/core/paths.js'

const SLOW_ECHO = join(packageRoot(), 'test', 'fixtures-e2e', 'slow-echo', 'capability.yaml')

test('a provider behind NAT reserves a slot on a circuit relay, announces it, is found through the DHT and /pl/caps over the relay, and wins a step through it', { timeout: 1_500_000 }, async (t) => {
  const reason = netnsUnavailable({ nat: true })
  if (reason != null) { t.skip(reason); return }
  const root = await tempDir('pl-netns-nat-')
  const bed = await NetnsBed.create({ bed: 2, hosts: 2, natHosts: 2 })
  t.after(async () => {
    await bed.destroy()
    await root.cleanup()
  })
  const [h1, h2] = bed.hosts
  const [n1, n2] = bed.natHosts
  const dir = (name: string): string => join(root.dir, name)

  const id = await runCli(['id', '--json', '--data-dir', dir('h1')], { entry: PL_NODE })
  assert.equal(id.code, 0, id.stderr)
  const relayId = JSON.parse(id.stdout).peerId as string
  const relayAddr = `/ip4/${h1.ip}/tcp/${BED_P2P_PORT}/p2p/${relayId}`
  const networkFile = join(root.dir, 'nat.yaml')
  await writeFile(networkFile, [
    'name: nsbed-nat',
    `bootstrap: [${relayAddr}]`,
    `relays: [${relayAddr}]`,
    "noAnnounce: ['/ip4/127.0.0.0/ipcidr/8']",
    'autonat: true',
    'dcutr: true',
    'connectionMonitor: true',
    ''
  ].join('\n'))
  const start = async (host: typeof h1, name: string, caps: unknown[], extra: string[] = []): Promise<NodeProcess> => {
    await mkdir(dir(name), { recursive: true })
    const cfg = join(root.dir, `${name}.json`)
    // a reply window and a find budget for a loaded machine and a relayed path (the defaults are for a LAN)
    await writeFile(cfg, JSON.stringify({ services: { capabilities: caps, discovery: { ttlMs: 30_000 }, negotiation: { replyWindowMs: 20_000, findTimeoutMs: 20_000, dialTimeoutMs: 30_000 } } }))
    return await host.start(['--data-dir', dir(name), '--network', networkFile, '--config', cfg, ...extra])
  }

  const relay = await start(h1, 'h1', [], ['--relay-server'])
  const [pub, natProvider, requester] = await Promise.all([
    start(h2, 'h2', [{ file: SLOW_ECHO, price: 5 }]),
    start(n1, 'n1', [{ file: SLOW_ECHO, price: 1 }]),
    start(n2, 'n2', [])
  ])
  const [c1, cn1, cn2] = await Promise.all([h1.control(dir('h1')), n1.control(dir('n1')), n2.control(dir('n2'))])

  // n1 is behind NAT: the relay sees its connection come from the router's public address
  await waitFor(async () => (await c1.request<any[]>('GET', '/peers')).some(p => p.peerId === natProvider.info.peerId), 120_000, 'n1 to join the relay')
  const seen = (await c1.request<any[]>('GET', '/peers')).find(p => p.peerId === natProvider.info.peerId)
  assert.ok(String(seen.addr).startsWith(`/ip4/${String(n1.init.natPublicIp)}/`), `the relay sees n1 at ${String(seen.addr)}, the router's address`)

  // n1 holds a reservation on h1 and announces its circuit address
  const circuit = `${relayAddr}/p2p-circuit/p2p/${natProvider.info.peerId}`
  await waitFor(async () => ((await cn1.request<any>('GET', '/health')).addrs as string[]).includes(circuit), 120_000, 'n1 to announce its relay address')

  // n2 (behind another NAT) finds n1 through the DHT and /pl/caps over the relay. Each find dials n1 again: a relayed
  // connection is limited (duration and data, RELAY_*_LIMIT) and the relay may close it, so "connected" is checked
  // in the same breath as the find, not after it
  let conns: any[] = []
  await waitFor(async () => {
    const found = await cn2.request<any[]>('GET', '/caps/find?name=SlowEcho&timeout=5000').catch(() => [])
    if (!found.some(f => f.provider === natProvider.info.peerId) || !found.some(f => f.provider === pub.info.peerId)) return false
    conns = (await cn2.request<any[]>('GET', '/peers')).filter(p => p.peerId === natProvider.info.peerId)
    return conns.length > 0
  }, 240_000, 'n2 to find SlowEcho on n1 and h2, and be connected to n1')

  // n2 ↔ n1 can only be relayed (two NATs, no route between them; DCUtR skips private addresses)
  for (const c of conns) {
    assert.equal(c.limited, true, `n2 ↔ n1 is relayed: ${String(c.addr)}`)
    assert.ok(String(c.addr).startsWith(`${relayAddr}/p2p-circuit`), `through h1: ${String(c.addr)}`)
  }

  // n1 wins a negotiated step through the relay: it is the cheapest (price 1 against h2's 5). The CFP, the award and
  // the countersigned receipt all travel over the relayed connection (the /pl/* protocols run on limited connections)
  const plan = 'goal: Through the relay\ninputs:\n  x: 0\nselect:\n  optimize: [price:1]\nplan:\n  - step: SlowEcho(x)\n'
  const { runId } = await cn2.request<{ runId: string }>('POST', '/runs', { plan, input: { x: 5, ms: 0, tag: 'relayed' } })
  const view = await finished(cn2, runId, 180_000)
  const explanation = JSON.stringify(await cn2.request<any>('GET', `/runs/${runId}/explanations`).catch(() => ({})))
  assert.equal(view.run.state, 'succeeded', `${JSON.stringify(view.run.error)} ${explanation}`)
  assert.deepEqual(view.output, { x: 5, tag: 'relayed' })
  assert.equal(view.steps[0].executor, natProvider.info.peerId, `n1 (behind NAT, cheapest) ran the step: ${JSON.stringify(view.steps)} ${explanation}`)
  assert.equal(typeof view.steps[0].receipt, 'string', 'the step has a receipt')

  // bad input: a relay entry without a peer id is refused by name before the node starts
  const badNet = join(root.dir, 'bad.yaml')
  await writeFile(badNet, `name: nsbed-bad\nrelays: [/ip4/${h1.ip}/tcp/${BED_P2P_PORT}]\n`)
  const bad = await runCli(['start', '--data-dir', dir('bad'), '--network', badNet], { entry: PL_NODE, timeoutMs: 60_000 })
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /InvalidNetworkError: network file .*bad\.yaml: relays entry: bootstrap address .* has no peer id/)

  const codes = await Promise.all([relay, pub, natProvider, requester].map(async p => await p.stop()))
  assert.deepEqual(codes, [0, 0, 0, 0], 'every pl-node stopped cleanly')
})
