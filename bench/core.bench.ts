/**
 * Core benchmarks: envelope sign/verify vs raw node crypto, LevelDB receipt
 * writes vs raw batch puts, framed RPC vs a raw libp2p stream echo, and the
 * memory of one idle node and of a 10-node in-process mesh.
 */
import { sign as cryptoSign, verify as cryptoVerify, generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Level } from 'level'
import { createIdentity, signEnvelope, EnvelopeVerifier, unsignedBytes } from '../src/core/index.js'
import { SchemaRegistry } from '../src/spec/index.js'
import { Store } from '../src/store/index.js'
import { PlNode } from '../src/node.js'
import { defineProtocol, expectOk } from '../src/net/index.js'
import { encodeCanonical, cidStringOfBytes } from '../src/core/encoding.js'
import { latencyFigure, type Bench } from './harness.js'

const execFileP = promisify(execFile)
const N = 500
const cfpId = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

/**
 * envelopes per round: short rounds (a few ms), many of them, so that a
 * subject round and the baseline round next to it see the same load, and
 * most rounds are not cut by another process taking the CPU
 */
const ENVELOPE_BATCH = 25
const ENVELOPE_ROUNDS = 161
/** 2 000 envelopes each side before measuring: the JS of sign/verify runs optimised, as the native baseline does from the start */
const ENVELOPE_WARMUP = 80

async function envelopeBenches (): Promise<Bench[]> {
  const registry = await SchemaRegistry.load()
  const id = await createIdentity()
  const body = { cfp: cfpId, run: 'r', step: 's', reason: 'busy' as const }
  const envs = Array.from({ length: N }, () => signEnvelope(id, registry, 'Decline.v1', body))
  const verifier = new EnvelopeVerifier(registry, undefined)
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const msgs = envs.map(e => unsignedBytes(e))
  const sigs = msgs.map(m => cryptoSign(null, m, privateKey))
  // each round takes the next ENVELOPE_BATCH envelopes (and the same indexes on the baseline side)
  let vb = 0
  let vs = 0
  let sb = 0
  return [
    {
      name: 'envelope-verify',
      rounds: ENVELOPE_ROUNDS,
      warmup: ENVELOPE_WARMUP,
      cpuTime: true,
      baseline: { name: 'crypto.verify', run: async () => { for (let k = 0; k < ENVELOPE_BATCH; k++, vb = (vb + 1) % N) cryptoVerify(null, msgs[vb], publicKey, sigs[vb]); return ENVELOPE_BATCH } },
      subject: { name: 'EnvelopeVerifier.verify (no replay store)', run: async () => { for (let k = 0; k < ENVELOPE_BATCH; k++, vs = (vs + 1) % N) await verifier.verify(envs[vs]); return ENVELOPE_BATCH } }
    },
    {
      name: 'envelope-sign',
      rounds: ENVELOPE_ROUNDS,
      warmup: ENVELOPE_WARMUP,
      cpuTime: true,
      baseline: { name: 'crypto.sign', run: async () => { for (let k = 0; k < ENVELOPE_BATCH; k++, sb = (sb + 1) % N) cryptoSign(null, msgs[sb], privateKey); return ENVELOPE_BATCH } },
      subject: { name: 'signEnvelope', run: async () => { for (let k = 0; k < ENVELOPE_BATCH; k++) signEnvelope(id, registry, 'Decline.v1', body); return ENVELOPE_BATCH } }
    }
  ]
}

/**
 * receipt writes: rounds of N puts (each round a few ms), 21 of them after 2
 * warm-up rounds, so that one round cut by another process moves one
 * per-round ratio only; 11 500 documents a side, under LevelDB's 4 MiB write
 * buffer: neither side flushes a table file during the measurement
 */
const RECEIPT_ROUNDS = 21
const RECEIPT_WARMUP = 2
const receipt = (i: number): Record<string, unknown> => ({ run: 'run-1', step: `s${i}`, capability: 'Summarize', provider: 'p', requester: 'r', award: 'a', input: 'i', output: 'o', status: 'ok', started: i, ended: i + 1, usage: { cpu_ms: 1, wall_ms: 2, mem_peak_mb: 3 }, limits: {}, policies: [], prev: [] })

/** Two raw LevelDB databases in fresh folders, opened by `setup`, closed and removed by `teardown`. */
async function rawPair (): Promise<{ a: () => Level<string, Uint8Array>, b: () => Level<string, Uint8Array>, setup: () => Promise<void>, teardown: () => Promise<void> }> {
  const dirA = await mkdtemp(join(tmpdir(), 'pl-bench-'))
  const dirB = await mkdtemp(join(tmpdir(), 'pl-bench-'))
  let a: Level<string, Uint8Array>
  let b: Level<string, Uint8Array>
  return {
    a: () => a,
    b: () => b,
    setup: async () => { a = new Level(dirA, { valueEncoding: 'view' }); b = new Level(dirB, { valueEncoding: 'view' }); await a.open(); await b.open() },
    teardown: async () => { await a.close(); await b.close(); await rm(dirA, { recursive: true, force: true }); await rm(dirB, { recursive: true, force: true }) }
  }
}

async function storeBenches (): Promise<Bench[]> {
  const dirA = await mkdtemp(join(tmpdir(), 'pl-bench-'))
  const dirB = await mkdtemp(join(tmpdir(), 'pl-bench-'))
  let store: Store
  let raw: Level<string, Uint8Array>
  let seq = 0
  const rawBatch = async (db: Level<string, Uint8Array>): Promise<number> => { const ops = []; for (let i = 0; i < N; i++) ops.push({ type: 'put' as const, key: `k${seq++}`, value: encodeCanonical(receipt(seq)) }); await db.batch(ops); return N }
  const floor = await rawPair()
  return [
    {
      name: 'receipt-writes',
      rounds: RECEIPT_ROUNDS,
      warmup: RECEIPT_WARMUP,
      setup: async () => {
        store = await Store.open(dirA)
        raw = new Level<string, Uint8Array>(dirB, { valueEncoding: 'view' })
        await raw.open()
      },
      teardown: async () => { await store.close(); await raw.close(); await rm(dirA, { recursive: true, force: true }); await rm(dirB, { recursive: true, force: true }) },
      baseline: { name: 'raw LevelDB batch put of encoded docs', run: async () => await rawBatch(raw) },
      subject: { name: 'BlockStore.put (CID + put, one by one)', run: async () => { await Promise.all(Array.from({ length: N }, async () => await store.blocks.put(receipt(seq++)))); return N } }
    },
    {
      // what content addressing alone costs against the same baseline: the raw batch, each document under its CID
      // (sha2-256 + the CID text, the key BlockStore writes) instead of a counter; the ceiling of receipt-writes' ratio
      name: 'receipt-writes-cid-floor',
      rounds: RECEIPT_ROUNDS,
      warmup: RECEIPT_WARMUP,
      setup: floor.setup,
      teardown: floor.teardown,
      baseline: { name: 'raw LevelDB batch put of encoded docs', run: async () => await rawBatch(floor.a()) },
      subject: { name: 'raw LevelDB batch, each doc keyed by its CID', run: async () => { const ops = []; for (let i = 0; i < N; i++) { const value = encodeCanonical(receipt(seq++)); ops.push({ type: 'put' as const, key: `!blocks!${cidStringOfBytes(value)}`, value }) } await floor.b().batch(ops); return N } }
    }
  ]
}

async function startNodes (n: number): Promise<{ nodes: PlNode[], cleanup: () => Promise<void> }> {
  const nodes: PlNode[] = []
  const dirs: string[] = []
  for (let i = 0; i < n; i++) {
    const dir = await mkdtemp(join(tmpdir(), 'pl-bench-node-'))
    dirs.push(dir)
    const node = await PlNode.create({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: i === 0 ? [] : nodes[0].addrs(), localSwarm: true, controlApi: false })
    await node.start()
    nodes.push(node)
  }
  return { nodes, cleanup: async () => { await Promise.all(nodes.map(async n => { await n.stop() })); for (const d of dirs) await rm(d, { recursive: true, force: true }) } }
}

const rpcBench: Bench = {
  name: 'rpc-round-trip',
  run: async () => {
    const { nodes, cleanup } = await startNodes(2)
    try {
      const [a, b] = nodes
      await a.libp2p.dial(b.libp2p.getMultiaddrs()[0])
      const echo = defineProtocol({ id: '/pl/bench-echo/1.0.0', handler: async (req) => ({ status: 'OK', body: req }) })
      await b.components.rpc.handle(echo)
      await b.libp2p.handle('/pl/bench-raw/1.0.0', (stream) => {
        stream.addEventListener('message', (evt) => { stream.send(evt.data) })
        stream.addEventListener('remoteCloseWrite', () => { void stream.close() })
      })
      const raw: number[] = []
      const framed: number[] = []
      const payload = { n: 1, s: 'x'.repeat(64) }
      const rawStream = await a.libp2p.dialProtocol(b.libp2p.peerId, '/pl/bench-raw/1.0.0')
      const bytes = encodeCanonical(payload)
      for (let i = 0; i < 300; i++) {
        const t0 = performance.now()
        await new Promise<void>((resolve) => {
          const onMsg = (): void => { rawStream.removeEventListener('message', onMsg); resolve() }
          rawStream.addEventListener('message', onMsg)
          rawStream.send(bytes)
        })
        if (i >= 20) raw.push(performance.now() - t0)
        const t1 = performance.now()
        expectOk(await a.components.rpc.request(b.peerId, echo, payload), echo.id)
        if (i >= 20) framed.push(performance.now() - t1)
      }
      await rawStream.close()
      return { figures: { 'framed RPC call (reused stream)': latencyFigure(framed, { name: 'raw stream echo (open stream)', samples: raw }) } }
    } finally { await cleanup() }
  }
}

async function probe (nodes: number): Promise<{ baseline: number, loaded: number }> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'memory-probe.js')
  const { stdout } = await execFileP(process.execPath, ['--expose-gc', script, String(nodes)], { timeout: 120_000 })
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}')
}

const memoryBench: Bench = {
  name: 'memory',
  run: async () => {
    const one = await probe(1)
    const ten = await probe(10)
    const mib = (b: number): number => b / 2 ** 20
    return {
      figures: {
        'RSS of one idle node (MiB)': { unit: 'MiB', p50: mib(one.loaded), p95: mib(one.loaded), baseline: { name: 'same process before start', p50: mib(one.baseline), p95: mib(one.baseline) } },
        'RSS of a 10-node in-process mesh (MiB)': { unit: 'MiB', p50: mib(ten.loaded), p95: mib(ten.loaded), baseline: { name: 'same process before start', p50: mib(ten.baseline), p95: mib(ten.baseline) } }
      }
    }
  }
}

export async function benches (): Promise<Bench[]> {
  return [...await envelopeBenches(), ...await storeBenches(), rpcBench, memoryBench]
}
