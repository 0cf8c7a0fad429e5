/**
 * Scaffolded providers (Python and Go) stay attached across a restart of
 * their node: the node stops (the connection drops), starts again on the
 * same data dir and gateway port, and each provider connects again with
 * backoff, registers again and serves the next plan run from another node.
 * A refused API key ends the provider instead of retrying forever.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { type TestMesh, waitFor } from '../helpers/mesh.js'
import { tempDir } from '../helpers/tmp.js'
import type { ExecService } from '../../src/exec/index.js'
import { scaffold } from '../../src/spec/compiler/index.js'
import { gw, startMesh } from '../gateway/helpers.js'
import { runSummarize } from '../bridges/attached-client.js'
import { goAvailable, GO_SKIP, run, SAMPLE_SPEC } from './helpers.js'

const GO_ENV = { GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', GO111MODULE: 'on' }
const PY_HANDLER = `
from summarize_spec import models
from summarize_spec.provider import default_bid_summarize

def summarize(input, ctx):
    return models.SummarizeOutput(summary=input.text, words=len(input.text.split()), model="py")

def bid(cfp, ctx):
    return default_bid_summarize(cfp, ctx)
`
const GO_HANDLER = `package main

import "summarize-provider/summarizespec"

func handleSummarize(ctx *summarizespec.CallContext, input *summarizespec.SummarizeInput) (*summarizespec.SummarizeOutput, error) {
	model := "go"
	return &summarizespec.SummarizeOutput{Summary: input.Text, Words: 1, Model: &model}, nil
}

func bid(cfp map[string]any, ctx summarizespec.BidContext) summarizespec.BidAnswer {
	return summarizespec.DefaultBidSummarize(cfp, ctx)
}
`

interface Proc { child: ChildProcess, registered: number, stderr: string, exited: Promise<number | null> }

let mesh: TestMesh
let tmp: { dir: string, cleanup: () => Promise<void> }
let port = 0
const keys: string[] = []
const procs: Proc[] = []

async function freePort (): Promise<number> {
  const srv = createServer()
  await new Promise<void>((resolve) => { srv.listen(0, '127.0.0.1', resolve) })
  const p = (srv.address() as { port: number }).port
  await new Promise<void>((resolve) => { srv.close(() => { resolve() }) })
  return p
}

function startProvider (cmd: string, args: string[], cwd: string, key: string): Proc {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, PL_GATEWAY: `http://127.0.0.1:${port}`, PL_API_KEY: key, PL_PRICE: '1', PYTHONDONTWRITEBYTECODE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  const p: Proc = { child, registered: 0, stderr: '', exited: new Promise((resolve) => { child.on('exit', (code) => { resolve(code) }) }) }
  procs.push(p)
  let buf = ''
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString()
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      if (buf.slice(0, i).startsWith('{"registered"')) p.registered++
      buf = buf.slice(i + 1)
    }
  })
  child.stderr?.on('data', (d: Buffer) => { p.stderr += d.toString() })
  return p
}

async function servedByNode1 (text: string): Promise<void> {
  const { run: r, id } = await runSummarize(mesh, keys[0], text)
  assert.equal(r.state, 'succeeded', JSON.stringify(r.error))
  const { steps } = await mesh.nodes[0].service<ExecService>('exec').executor.get(id)
  assert.equal(steps[0].executor, mesh.nodes[1].peerId)
}

async function restartKeepsServing (p: Proc, what: string): Promise<void> {
  await waitFor(() => p.registered >= 1 || p.child.exitCode != null, 60_000, `the ${what} provider to register`)
  assert.equal(p.child.exitCode, null, p.stderr)
  await servedByNode1(`before the restart (${what})`)
  await mesh.restart(1)
  await waitFor(() => p.registered >= 2 || p.child.exitCode != null, 60_000, `the ${what} provider to register again`)
  assert.equal(p.child.exitCode, null, `the ${what} provider keeps running: ${p.stderr}`)
  assert.match(p.stderr, /connecting again in/)
  await servedByNode1(`after the restart (${what})`)
  p.child.kill('SIGTERM')
  assert.notEqual(await p.exited, undefined)
}

before(async () => {
  tmp = await tempDir('pl-provider-reconnect-')
  port = await freePort()
  mesh = await startMesh(2, (i) => i === 1 ? { listen: `127.0.0.1:${port}` } : {})
  await mesh.connected(1, 120_000)
  // keys live in the node's store: node 1's survive its restart
  for (let i = 0; i < 2; i++) keys.push((await gw(mesh.nodes[i]).keys.create({ name: 'provider', scopes: ['read', 'submit', 'publish'] })).key)
})

after(async () => {
  for (const p of procs) p.child.kill('SIGKILL')
  await mesh?.stop()
  await tmp?.cleanup()
})

test('a Python provider connects again when its node restarts, and serves the next run', async () => {
  const project = join(tmp.dir, 'summarize-py')
  await scaffold(SAMPLE_SPEC, { lang: 'py', provider: true, out: project })
  await writeFile(join(project, 'handler.py'), PY_HANDLER)
  await restartKeepsServing(startProvider('python3', ['main.py'], project, keys[1]), 'Python')
})

test('a Go provider connects again when its node restarts, and serves the next run', async (t) => {
  if (!goAvailable()) { t.skip(GO_SKIP); return }
  const project = join(tmp.dir, 'summarize-go')
  await scaffold(SAMPLE_SPEC, { lang: 'go', provider: true, out: project })
  await writeFile(join(project, 'handler.go'), GO_HANDLER)
  const built = await run('go', ['build', '-o', 'provider', '.'], { cwd: project, env: GO_ENV })
  assert.equal(built.code, 0, `go build:\n${built.stderr}`)
  await restartKeepsServing(startProvider(join(project, 'provider'), [], project, keys[1]), 'Go')
})

test('a provider whose key the node refuses stops with the error instead of retrying', async () => {
  const project = join(tmp.dir, 'summarize-py')
  const p = startProvider('python3', ['main.py'], project, 'not-a-key')
  assert.notEqual(await p.exited, 0)
  assert.match(p.stderr, /401/)
  assert.doesNotMatch(p.stderr, /connecting again/)
})
