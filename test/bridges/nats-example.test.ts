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
import type { NatsServer } from '../helpers/nats.js'
import type { PlNode } from '../../src/node.js'
import { startNode, moduleDir, io, disc, bridge, natsFixture, natsSkip, stopAll } from './nats-helpers.js'

const skip = natsSkip

let server: NatsServer
let provider: PlNode
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  if (skip !== false) return
  const f = await natsFixture(cleanups)
  server = f.server
  const tmp = { dir: f.dir }
  provider = await startNode({ nats: { url: server.url }, listen: [], runStep: f.runStep }, cleanups)
  await disc(provider).publish({ name: 'Upper', version: '1.0.0', io, price: 2 }, { dir: await moduleDir(tmp.dir, 'upper', 'return { text: String(inputData.text).toUpperCase() }') })
  await waitFor(() => bridge(provider).subscribed().includes('pl.v1.cfp.Upper'), 60_000, 'the provider following pl.v1.cfp.Upper')
})

after(async () => { await stopAll(cleanups) })

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
