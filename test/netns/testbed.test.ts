/**
 * Six hosts, each a network namespace with its own address on 10.213.1.0/24,
 * each running a real `pl-node` on a named network (a network file: the
 * bootstrap on h1, loopback never announced, the connection monitor on).
 * Nodes announce their host address and never 127.0.0.1 or 0.0.0.0; the
 * requester runs without gossip, so it finds capabilities through the DHT
 * (provider records, then /pl/caps to each provider), and a negotiated step runs across
 * hosts; the winner's link is cut mid-step (no reset reaches anyone) and the
 * step fails over to the other provider; while cut the host drops out of
 * discovery once its catalog entries expire, and after the link comes back it
 * rejoins through its bootstrap and its capability is found again.
 *
 * Skipped with the reason printed where namespaces cannot be created.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { NetnsBed, netnsUnavailable, BED_P2P_PORT, type Host } from '../helpers/netns.js'
import { runCli, PL_NODE, type NodeProcess } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/mesh.js'
import { finished } from '../helpers/runs.js'
import { packageRoot } from '../../src/core/paths.js'
import type { ControlClient } from '../../src/api/client.js'

const SLOW_ECHO = join(packageRoot(), 'test', 'fixtures-e2e', 'slow-echo', 'capability.yaml')
/** catalog entries (gossip ads and DHT finds) live this long; ads are re-signed at half of it */
const TTL_MS = 20_000

function lines (file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []
}

async function providersOf (client: ControlClient, name: string): Promise<string[]> {
  const found = await client.request<any[]>('GET', `/caps/find?name=${name}&timeout=3000`).catch(() => [])
  return found.map(f => f.provider as string)
}

const LOOPBACK_OR_ANY = /\/ip4\/(127\.|0\.0\.0\.0)|\/ip6\/(::1?)\//

test('six namespace hosts: right addresses, DHT discovery and negotiation across hosts, partition → failover, heal → rejoin', { timeout: 1_500_000 }, async (t) => {
  const reason = netnsUnavailable()
  if (reason != null) { t.skip(reason); return }
  const root = await tempDir('pl-netns-bed-')
  const bed = await NetnsBed.create({ bed: 1, hosts: 6 })
  const procs: NodeProcess[] = []
  t.after(async () => {
    await bed.destroy()
    await root.cleanup()
  })

  // h1 is the bootstrap: its peer id goes into the network file before anything starts
  const dirs = bed.hosts.map(h => join(root.dir, h.name))
  const id = await runCli(['id', '--json', '--data-dir', dirs[0]], { entry: PL_NODE })
  assert.equal(id.code, 0, id.stderr)
  const bootstrapId = JSON.parse(id.stdout).peerId as string
  const bootstrapAddr = `/ip4/${bed.hosts[0].ip}/tcp/${BED_P2P_PORT}/p2p/${bootstrapId}`
  const networkFile = join(root.dir, 'bed.yaml')
  await writeFile(networkFile, [
    'name: nsbed-one',
    `bootstrap: [${bootstrapAddr}]`,
    "noAnnounce: ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128']",
    'autonat: false',
    'dcutr: false',
    'connectionMonitor: true',
    ''
  ].join('\n'))
  const config = async (i: number, caps: unknown[]): Promise<string> => {
    await mkdir(dirs[i], { recursive: true })
    const file = join(root.dir, `h${i + 1}.json`)
    // a reply window for a loaded machine (the default 2 s is for an idle LAN)
    // SlowEcho appends to a marker file in the test's folder: the operator lets sandboxed modules write there
    await writeFile(file, JSON.stringify({ services: { capabilities: caps, discovery: { ttlMs: TTL_MS }, negotiation: { replyWindowMs: 20_000 }, exec: { poolInit: { sandbox: { fs: { write: [root.dir] } } } } } }))
    return file
  }
  const start = async (i: number, caps: unknown[] = [], extra: string[] = []): Promise<NodeProcess> => {
    const p = await bed.hosts[i].start(['--data-dir', dirs[i], '--network', networkFile, '--config', await config(i, caps), ...extra])
    procs[i] = p
    return p
  }

  await start(0)
  await Promise.all([
    start(1, [{ file: SLOW_ECHO, price: 1 }]), // the cheap one: wins
    start(2, [{ file: SLOW_ECHO, price: 5 }]), // the backup
    start(3),
    start(4),
    start(5, [], ['--no-gossip']) // the requester: no gossip, so whatever it finds comes through the DHT
  ])
  const clients = await Promise.all(bed.hosts.map(async (h, i) => await h.control(dirs[i])))
  const peerOf = (i: number): string => procs[i].info.peerId
  const hostOfPeer = (peer: string): Host | undefined => bed.hosts[procs.findIndex(p => p.info.peerId === peer)]

  // 1. addresses: each node's own, as announced to peers (identify), are its host address only
  for (const [i, p] of procs.entries()) {
    assert.ok(p.info.addrs.length > 0, `h${i + 1} has addresses`)
    for (const a of p.info.addrs) {
      assert.doesNotMatch(a, LOOPBACK_OR_ANY, `h${i + 1} announces ${a}`)
      assert.ok(a.startsWith(`/ip4/${bed.hosts[i].ip}/`), `h${i + 1} announces ${a}, not its host address ${bed.hosts[i].ip}`)
    }
  }
  let peers: any[] = []
  let missing: string[] = []
  await waitFor(async () => {
    peers = await clients[0].request<any[]>('GET', '/peers')
    missing = bed.hosts.slice(1).filter((_, k) => !peers.some(p => p.peerId === peerOf(k + 1) && p.announced.length > 0)).map(h => h.name)
    return missing.length === 0
  }, 300_000, 'the bootstrap to hear from every host').catch((err) => { throw new Error(`${(err as Error).message}; missing ${missing.join(', ')}; peers ${JSON.stringify(peers)}`) })
  for (const p of peers) {
    const host = hostOfPeer(p.peerId)
    assert.ok(host != null, `unknown peer ${String(p.peerId)}`)
    assert.ok(p.addr.startsWith(`/ip4/${host.ip}/`), `connection from ${host.name} comes from ${String(p.addr)}`)
    for (const a of p.announced as string[]) {
      assert.doesNotMatch(a, LOOPBACK_OR_ANY, `${host.name} announced ${a} to the bootstrap`)
      assert.ok(a.startsWith(`/ip4/${host.ip}/tcp/${BED_P2P_PORT}`), `${host.name} announced ${a}`)
    }
  }

  // 2. DHT discovery across hosts: the requester finds both providers, with their host addresses
  await waitFor(async () => {
    const found = await providersOf(clients[5], 'SlowEcho')
    return found.includes(peerOf(1)) && found.includes(peerOf(2))
  }, 180_000, 'h6 to find SlowEcho on h2 and h3')
  const found = await clients[5].request<any[]>('GET', '/caps/find?name=SlowEcho&timeout=3000')
  for (const f of found) for (const a of (f.addrs ?? []) as string[]) assert.doesNotMatch(a, LOOPBACK_OR_ANY, `provider ${String(f.provider)} found with ${a}`)

  // 3. a negotiated step across hosts: the cheapest (h2) wins
  const plan = 'goal: Across hosts\ninputs:\n  x: 0\nselect:\n  optimize: [price:1]\nplan:\n  - step: SlowEcho(x)\n'
  const { runId: quick } = await clients[5].request<{ runId: string }>('POST', '/runs', { plan, input: { x: 7, ms: 0, tag: 'quick' } })
  const quickView = await finished(clients[5], quick, 180_000)
  assert.equal(quickView.run.state, 'succeeded', JSON.stringify(quickView.run.error))
  assert.deepEqual(quickView.output, { x: 7, tag: 'quick' })
  assert.equal(quickView.steps[0].executor, peerOf(1), 'h2 (cheapest) ran it')

  // 4. partition: h2's link goes down while it runs a step → the step fails over to h3
  const marker = join(root.dir, 'slow-echo.log')
  const { runId } = await clients[5].request<{ runId: string }>('POST', '/runs', { plan, input: { x: 42, ms: 20_000, marker, tag: 'partition' } })
  await waitFor(() => lines(marker).length >= 1, 120_000, 'SlowEcho started on h2')
  bed.cut(bed.hosts[1])
  const view = await finished(clients[5], runId, 400_000)
  assert.equal(view.run.state, 'succeeded', JSON.stringify(view.run.error))
  assert.deepEqual(view.output, { x: 42, tag: 'partition' })
  assert.equal(view.steps[0].executor, peerOf(2), 'the backup on h3 finished it')
  assert.equal(lines(marker).length, 2, 'the step started on h2, then on h3')

  // while cut off, h2 drops out of discovery once its catalog entries expire (TTL_MS)
  await waitFor(async () => !(await providersOf(clients[5], 'SlowEcho')).includes(peerOf(1)), 300_000, 'h2 to drop out of discovery while cut off')

  // 5. heal: h2 redials its bootstrap, re-announces, and is found again
  bed.heal(bed.hosts[1])
  await waitFor(async () => (await clients[1].request<any[]>('GET', '/peers')).some(p => p.peerId === peerOf(0)), 300_000, 'h2 to reconnect to the bootstrap')
  await waitFor(async () => (await providersOf(clients[5], 'SlowEcho')).includes(peerOf(1)), 300_000, 'h2\'s SlowEcho to be found again')
  const { runId: after } = await clients[5].request<{ runId: string }>('POST', '/runs', { plan, input: { x: 9, ms: 0, tag: 'after' } })
  const afterView = await finished(clients[5], after, 180_000)
  assert.equal(afterView.run.state, 'succeeded', JSON.stringify(afterView.run.error))
  assert.equal(afterView.steps[0].executor, peerOf(1), 'h2 wins again after the heal')

  const codes = await Promise.all(procs.map(async p => await p.stop()))
  assert.deepEqual(codes, procs.map(() => 0), 'every pl-node stopped cleanly')
})
