/**
 * Live and negotiated paths of the gateway on a real two-node mesh: a
 * WebSocket client follows a run whose step another node provides to its
 * receipts; an estimate asks the providers without holding a bid; SSE
 * streams a run; a single module of a registered workflow runs over the
 * socket; a client that stops reading is dropped with close code 4008.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import WebSocket from 'ws'
import { type TestMesh, waitFor } from '../helpers/mesh.js'
import { tempDir } from '../helpers/tmp.js'
import type { Discovery } from '../../src/discovery/index.js'
import type { Negotiation } from '../../src/negotiation/index.js'
import { verifyExport } from '../../src/receipts/index.js'
import { decodeJson, encodeJson } from '../../src/core/encoding.js'
import type { RegisteredWorkflowSource } from '../../src/gateway/types.js'
import { WS_CLOSE_SLOW_CONSUMER } from '../../src/gateway/index.js'
import type { PlNode } from '../../src/node.js'
import { gw, http, oneModuleWorkflow, startMesh } from './helpers.js'

let mesh: TestMesh
let base: string
let key: string
let tmp: { dir: string, cleanup: () => Promise<void> }
let floodDir: string

const disc = (n: PlNode): Discovery => n.service<Discovery>('discovery')

/** Registered workflows of this test: ids resolve to fixture folders (the registry's interface, without the registry). */
const workflows: RegisteredWorkflowSource = {
  resolve: async (id) => {
    const path = id === 'diamond' ? resolve('test/fixtures/workflows/diamond-js') : id === 'flood' ? floodDir : undefined
    if (path == null) throw Object.assign(new Error(`no workflow ${id}`), { name: 'WorkflowNotFoundError' })
    return { record: { workflow_id: id, version: '1.0.0', bundle: 'bafytest', publisher: 'test' }, path }
  }
}

class Client {
  readonly messages: any[] = []
  private readonly waiters: Array<() => void> = []
  readonly closed: Promise<number>

  constructor (readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()))
      for (const w of this.waiters.splice(0)) w()
    })
    this.closed = new Promise((resolve) => { ws.on('close', (code) => { resolve(code); for (const w of this.waiters.splice(0)) w() }) })
  }

  static async open (url: string, headers: Record<string, string>): Promise<Client> {
    const ws = new WebSocket(url, { headers })
    const c = new Client(ws)
    await new Promise<void>((resolve, reject) => { ws.once('open', () => { resolve() }); ws.once('error', reject) })
    return c
  }

  send (msg: unknown): void {
    this.ws.send(JSON.stringify(msg))
  }

  /** Resolves with the first message (from the start) matching `pred`. */
  async next (pred: (m: any) => boolean, what: string): Promise<any> {
    const timeout = AbortSignal.timeout(60_000)
    for (;;) {
      const found = this.messages.find(pred)
      if (found != null) return found
      if (timeout.aborted || this.ws.readyState === WebSocket.CLOSED) throw new Error(`no message ${what}; got ${JSON.stringify(this.messages.slice(-5))}`)
      await new Promise<void>((resolve) => { this.waiters.push(resolve); timeout.addEventListener('abort', () => { resolve() }, { once: true }) })
    }
  }

  close (): void {
    this.ws.terminate()
  }
}

before(async () => {
  tmp = await tempDir('pl-gw-ws-')
  floodDir = await oneModuleWorkflow(tmp.dir, 'flood', "const pad = 'x'.repeat(1000); for (let i = 0; i < 20000; i++) context.progress(i, 20000, pad); return { done: true }")
  mesh = await startMesh(2, (i) => i === 0 ? { workflows, maxSocketBuffer: 64 * 1024 } : undefined)
  await mesh.connected(1)
  base = gw(mesh.nodes[0]).address as string
  key = (await gw(mesh.nodes[0]).keys.create({ name: 'agent', scopes: ['read', 'submit'] })).key
  const io = { input: { type: 'object' }, output: { type: 'object' } }
  const upper = join(tmp.dir, 'upper')
  await mkdir(upper, { recursive: true })
  await writeFile(join(upper, 'function.mjs'), 'export default class M {\n  eval (parameters, inputData) { return { text: String(inputData.text).toUpperCase() } }\n}\n')
  await disc(mesh.nodes[1]).publish({ name: 'Upper', version: '1.0.0', io, price: 3, limits: { wall_ms: 20_000, mem_mb: 128 } }, { dir: upper })
  const lower = join(tmp.dir, 'lower')
  await mkdir(lower, { recursive: true })
  await writeFile(join(lower, 'function.mjs'), 'export default class M {\n  eval (parameters, inputData) { return { text: String(inputData.text).toLowerCase() } }\n}\n')
  await disc(mesh.nodes[0]).publish({ name: 'Lower', version: '1.0.0', io }, { dir: lower })
  await waitFor(async () => (await disc(mesh.nodes[0]).find({ name: 'Upper' }, { localOnly: true })).length === 1, 30_000, 'node 0 to hear the Upper ad')
})

after(async () => {
  await mesh.stop()
  await tmp.cleanup()
})

const SHOUT = 'goal: Shout\ninputs:\n  text: hello\nplan:\n  - step: Upper(text)\n'

test('a WebSocket client submits a plan whose step another node provides and follows it live to its receipts', async () => {
  const c = await Client.open(base.replace('http', 'ws') + '/ws', { authorization: `Bearer ${key}` })
  try {
    c.send({ op: 'submit', id: 1, dsl: SHOUT, input: { text: 'mesh' } })
    const submitted = await c.next(m => m.type === 'submitted' && m.id === 1, 'submitted')
    const run = submitted.run as string
    const ev = async (type: string): Promise<any> => (await c.next(m => m.type === 'event' && m.run === run && m.event.type === type, type)).event
    await ev('pl:step:started')
    const negotiated = await ev('pl:step:negotiated')
    assert.equal(negotiated.winner, mesh.nodes[1].peerId)
    assert.ok(negotiated.bids.some((b: { provider: string, price: number }) => b.provider === mesh.nodes[1].peerId && b.price === 3))
    const finished = await ev('pl:run:finished')
    assert.deepEqual(finished.output, { text: 'MESH' })
    const receipt = await ev('pl:step:receipt')
    const root = await ev('pl:run:receipts')
    assert.equal(root.count, 1)
    const doc = await http(base, 'GET', `/runs/${run}/receipts`, { key })
    assert.equal(doc.body.root, root.root)
    const checked = verifyExport(decodeJson(encodeJson(doc.body)))
    assert.equal(checked.root, root.root)
    assert.equal(doc.body.receipts[0].receipt.provider, mesh.nodes[1].peerId)
    assert.equal(doc.body.receipts[0].receipt.requester, mesh.nodes[0].peerId)
    assert.equal(typeof receipt.receipt, 'string')
    // explanations are on HTTP too
    const exp = await http(base, 'GET', `/runs/${run}/explanations`, { key })
    assert.equal(exp.body.steps[0].winner, mesh.nodes[1].peerId)
  } finally {
    c.close()
  }
})

test('bad socket messages get typed error messages; read-only keys cannot submit over the socket', async () => {
  const reader = (await gw(mesh.nodes[0]).keys.create({ name: 'ws-reader', scopes: ['read'] })).key
  const c = await Client.open(base.replace('http', 'ws') + `/ws?access_token=${reader}`, {})
  try {
    c.ws.send('not json')
    assert.equal((await c.next(m => m.type === 'error', 'error for not json')).error.name, 'InvalidSocketMessageError')
    c.send({ op: 'fly', id: 'a' })
    assert.equal((await c.next(m => m.type === 'error' && m.id === 'a', 'error for unknown op')).error.name, 'InvalidSocketMessageError')
    c.send({ op: 'subscribe', id: 'b', run: 'no-such-run' })
    assert.equal((await c.next(m => m.type === 'error' && m.id === 'b', 'error for unknown run')).error.name, 'RunNotFoundError')
    c.send({ op: 'submit', id: 'c', dsl: SHOUT })
    assert.equal((await c.next(m => m.type === 'error' && m.id === 'c', 'error for missing scope')).error.name, 'MissingScopeError')
  } finally {
    c.close()
  }
  const refused = new WebSocket(base.replace('http', 'ws') + '/ws')
  const status = await new Promise<number>((resolve) => { refused.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0) }); refused.on('open', () => { resolve(101) }) })
  refused.on('error', () => {})
  refused.terminate()
  assert.equal(status, 401)
  const plain = await http(base, 'GET', '/ws', { key })
  assert.deepEqual([plain.status, plain.body.error.name], [426, 'UpgradeRequiredError'])
})

test('estimate asks the mesh without holding a bid: candidates, the chosen provider, critical path and total price; local steps give their limits', async () => {
  const dsl = 'goal: Both\ninputs:\n  text: Hi\nplan:\n  - step: Upper(text)\n    as: up\n  - step: Lower(up)\n'
  const res = await http(base, 'POST', '/dsl-graph/both/estimate', { key, body: { dsl } })
  assert.equal(res.status, 200, JSON.stringify(res.body))
  const [up, low] = res.body.steps
  assert.equal(up.placement, 'negotiated')
  assert.equal(up.chosen.provider, mesh.nodes[1].peerId)
  assert.equal(up.chosen.price, 3)
  assert.equal(up.candidates.length, 1)
  assert.equal(low.placement, 'local')
  assert.ok(low.limits.wall_ms > 0)
  assert.equal(res.body.total_price, 3)
  assert.equal(res.body.critical_path_ms, up.eta_ms + low.eta_ms)
  assert.deepEqual(res.body.critical_path, [up.step, low.step])
  assert.equal(res.body.feasible, true)
  const provider = mesh.nodes[1].service<Negotiation>('negotiation').provider
  assert.equal(provider?.openBids, 0, 'the provider holds no bid for an estimate')
  const none = await http(base, 'POST', '/dsl-graph/x/estimate', { key, body: { dsl: 'goal: X\nplan:\n  - step: NobodyHasThis()\n' } })
  assert.equal(none.body.feasible, false)
  assert.match(none.body.steps[0].unavailable, /no provider/)
  // no graph in the body: :id names a registered workflow
  const registered = await http(base, 'POST', '/dsl-graph/diamond/estimate', { key, body: {} })
  assert.equal(registered.status, 200, JSON.stringify(registered.body))
  assert.deepEqual(registered.body.steps.map((s: { placement: string }) => s.placement), ['local', 'local', 'local', 'local'])
  const unknown = await http(base, 'POST', '/dsl-graph/nope/estimate', { key, body: {} })
  assert.deepEqual([unknown.status, unknown.body.error.name], [404, 'WorkflowNotFoundError'])
})

test('SSE streams a run\'s events, backlog first', async () => {
  const dep = await http(base, 'POST', '/dsl-graph/shout/deploy', { key, body: { dsl: SHOUT, wait: true } })
  assert.equal(dep.body.run.state, 'succeeded', JSON.stringify(dep.body))
  const ac = new AbortController()
  const res = await fetch(`${base}/runs/${dep.body.runId as string}/events/stream?access_token=${key}`, { signal: ac.signal })
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/)
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  let text = ''
  while (!text.includes('pl:run:finished')) {
    const { value, done } = await reader.read()
    if (done) break
    text += Buffer.from(value).toString()
  }
  ac.abort()
  const events = text.split('\n\n').filter(b => b.startsWith('data: ')).map(b => JSON.parse(b.slice(6)))
  assert.equal(events[0].event.type, 'pl:step:started')
  assert.ok(events.some(e => e.event.type === 'pl:run:finished'))
  const missing = await http(base, 'GET', '/runs/nope/events/stream', { key })
  assert.deepEqual([missing.status, missing.body.error.name], [404, 'RunNotFoundError'])
})

test('execute_module runs one module of a registered workflow with the given input', async () => {
  const c = await Client.open(base.replace('http', 'ws') + '/ws', { authorization: `Bearer ${key}` })
  try {
    c.send({ op: 'execute_module', id: 7, workflow_id: 'diamond', module: 'dbl', input: { previous_outputs: { start: { number: 21 } } } })
    const out = await c.next(m => m.id === 7, 'module result')
    assert.equal(out.type, 'module_result', JSON.stringify(out))
    assert.deepEqual(out.output, { number: 42 })
    c.send({ op: 'execute_module', id: 8, workflow_id: 'diamond', module: 'nope', input: {} })
    assert.equal((await c.next(m => m.id === 8, 'unknown module')).error.name, 'WorkflowModuleNotFoundError')
  } finally {
    c.close()
  }
})

test('a client that stops reading is dropped with close code 4008 once its buffer limit is reached; the node does not buffer more', async () => {
  const dropped = gw(mesh.nodes[0]).slowConsumersDropped
  const c = await Client.open(base.replace('http', 'ws') + '/ws', { authorization: `Bearer ${key}` })
  c.send({ op: 'submit', id: 'f', workflow_id: 'flood', input: {} })
  c.ws.pause() // stop reading: TCP fills up, then the gateway's buffer
  // wait for the drop itself: "no subscriber" alone is also true before the submit is handled (a loaded machine
  // got there first, resumed a client nobody had dropped, and waited for its close forever)
  await waitFor(() => gw(mesh.nodes[0]).slowConsumersDropped > dropped, 120_000, 'the gateway to drop the slow client')
  assert.equal(c.messages.length, 0, 'nothing was read while paused')
  c.ws.resume()
  const code = await c.closed
  assert.equal(code, WS_CLOSE_SLOW_CONSUMER)
  assert.ok(c.messages.length < 20_000, 'the client got only part of the events before being dropped')
})
