/**
 * examples/nats/nats-client.mjs, the NATS-only requester of docs/BRIDGES.md,
 * run as a real process against a NATS-only provider: its open call is
 * answered, it awards, executes and verifies the receipt.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { writeFile } from 'node:fs/promises'
import { startNodeProcess } from '../helpers/proc.js'
import { waitFor } from '../helpers/mesh.js'
import type { PlNode } from '../../src/node.js'
import { startNode, moduleDir, io, disc, bridge, natsFixture, natsSkip, stopAll, type NatsServer } from '../helpers/nats.js'

const skip = natsSkip

let server: NatsServer
let provider: PlNode
let tmpDir: string
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  if (skip !== false) return
  const f = await natsFixture(cleanups)
  server = f.server
  const tmp = { dir: f.dir }
  tmpDir = f.dir
  provider = await startNode({ nats: { url: server.url }, listen: [], runStep: f.runStep }, cleanups)
  await disc(provider).publish({ name: 'Upper', version: '1.0.0', io, price: 2 }, { dir: await moduleDir(tmp.dir, 'upper', 'return { text: String(inputData.text).toUpperCase() }') })
  await waitFor(() => bridge(provider).subscribed().includes('pl.v1.cfp.Upper'), 60_000, 'the provider following pl.v1.cfp.Upper')
})

after(async () => { await stopAll(cleanups) })

/** Runs the example client for `capability` with `input`; resolves with its JSON line. */
async function runClient (capability: string, input: unknown): Promise<{ provider: string, output: unknown, receipt: { status: string, verified: boolean } }> {
  const script = join(process.cwd(), 'examples', 'nats', 'nats-client.mjs')
  const child = spawn(process.execPath, [script, '--url', server.url, '--capability', capability, '--input', JSON.stringify(input)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const code = await new Promise<number | null>((resolve) => { child.once('exit', resolve) })
  assert.equal(code, 0, err)
  return JSON.parse(out.trim().split('\n').at(-1) as string)
}

test('the NATS-only client example gets a step run by a provider and verifies its receipt', { skip, timeout: 120_000 }, async () => {
  const line = await runClient('Upper', { text: 'hello nats' })
  assert.equal(line.provider, provider.peerId)
  assert.deepEqual(line.output, { text: 'HELLO NATS' })
  assert.equal(line.receipt.status, 'ok')
  assert.equal(line.receipt.verified, true)
})

test('a pl-node daemon with services.nats in its config file serves the example client (docs/BRIDGES.md)', { skip, timeout: 180_000 }, async () => {
  const dir = join(tmpDir, 'daemon')
  const config = join(tmpDir, 'pl-nats.yaml')
  await writeFile(config, `services:\n  nats: { url: ${server.url} }\n  capabilities:\n    - examples/capabilities/fetch-sections/capability.yaml\n`)
  const daemon = await startNodeProcess(['--data-dir', dir, '--config', config])
  cleanups.push(async () => { await daemon.stop() })
  let line: Awaited<ReturnType<typeof runClient>> | undefined
  // the daemon follows pl.v1.cfp.FetchSections once its open-call topics sync (every 5 s): ask until it answers
  await waitFor(async () => {
    line = await runClient('FetchSections', { doc: '## One\nfirst\n## Two\nsecond' }).catch(() => undefined)
    return line != null
  }, 90_000, 'the daemon to answer the open call')
  assert.equal(line?.provider, daemon.info.peerId)
  assert.deepEqual((line?.output as Array<{ heading: string }>).map(s => s.heading), ['One', 'Two'])
  assert.equal(line?.receipt.verified, true)
})
