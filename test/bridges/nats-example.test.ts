/**
 * examples/nats/nats-client.mjs, the NATS-only requester of docs/BRIDGES.md,
 * run as a real process against a NATS-only provider: its open call is
 * answered, it awards, executes and verifies the receipt.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { waitFor } from '../helpers/mesh.js'
import { tempDir } from '../helpers/tmp.js'
import { NatsServer, natsServerBinary } from '../helpers/nats.js'
import type { PlNode } from '../../src/node.js'
import { ModulePool, poolRunStep } from '../negotiation/helpers.js'
import { startNode, moduleDir, io, disc, bridge } from './nats-helpers.js'

const bin = natsServerBinary()
const skip = bin == null ? 'nats-server is not installed (apt-get install nats-server; scripts/setup-ci.sh does it)' : false

let server: NatsServer
let provider: PlNode
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  if (bin == null) return
  const tmp = await tempDir('pl-nats-ex-')
  cleanups.push(tmp.cleanup)
  server = await NatsServer.start(bin)
  cleanups.push(async () => { await server.close() })
  const pool = new ModulePool()
  cleanups.push(async () => { await pool.close() })
  provider = await startNode({ nats: { url: server.url }, listen: [], runStep: poolRunStep(pool) }, cleanups)
  await disc(provider).publish({ name: 'Upper', version: '1.0.0', io, price: 2 }, { dir: await moduleDir(tmp.dir, 'upper', 'return { text: String(inputData.text).toUpperCase() }') })
  await waitFor(() => bridge(provider).subscribed().includes('pl.v1.cfp.Upper'), 60_000, 'the provider following pl.v1.cfp.Upper')
})

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {})
})

test('the NATS-only client example gets a step run by a provider and verifies its receipt', { skip, timeout: 120_000 }, async () => {
  const script = join(process.cwd(), 'examples', 'nats', 'nats-client.mjs')
  const child = spawn(process.execPath, [script, '--url', server.url, '--capability', 'Upper', '--input', '{"text":"hello nats"}'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const code = await new Promise<number | null>((resolve) => { child.once('exit', resolve) })
  assert.equal(code, 0, err)
  const line = JSON.parse(out.trim().split('\n').at(-1) as string)
  assert.equal(line.provider, provider.peerId)
  assert.deepEqual(line.output, { text: 'HELLO NATS' })
  assert.equal(line.receipt.status, 'ok')
  assert.equal(line.receipt.verified, true)
})
