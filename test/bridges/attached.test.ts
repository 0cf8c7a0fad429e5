/**
 * Attached providers (src/bridges/attached) on a real 3-node mesh with
 * gateways: a process attached over /attach registers a capability spec;
 * its node publishes the capability, wins steps of a plan run from another
 * node, forwards them to the process and signs the receipt with
 * via {kind: 'attached'}. A process killed mid-step or silent past the
 * wall limit makes the requester fail over; bad input is typed, counted,
 * and the node keeps serving.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import WebSocket from 'ws'
import { type TestMesh, waitFor } from '../helpers/mesh.js'
import type { Discovery } from '../../src/discovery/index.js'
import type { AttachedService } from '../../src/bridges/attached/index.js'
import { MAX_ATTACH_FRAME_BYTES, WS_CLOSE_TOO_BIG } from '../../src/bridges/attached/index.js'
import { verifyExport } from '../../src/receipts/index.js'
import type { PlNode } from '../../src/node.js'
import { gw, http } from '../gateway/helpers.js'
import { AttachClient } from './attached-client.js'
import { attachedMesh, type AttachedMesh } from '../helpers/attached.js'

let am: AttachedMesh
let mesh: TestMesh
let spec: Record<string, any>
const keys: string[] = []
const clients: AttachClient[] = []

const disc = (n: PlNode): Discovery => n.service<Discovery>('discovery')
const att = (n: PlNode): AttachedService => n.service<AttachedService>('attached')
const base = (i: number): string => gw(mesh.nodes[i]).address as string

async function attach (i: number, handler?: (input: any, frame: any) => unknown, key = keys[i]): Promise<AttachClient> {
  const c = await AttachClient.open(base(i), key, handler)
  clients.push(c)
  return c
}

/** Runs `Summarize(text)` from node 0 and waits for the run to end. */
async function runSummarize (text: string): Promise<{ run: any, id: string }> {
  return await am.runSummarize(text)
}

async function providersSeen (n: number): Promise<void> {
  await waitFor(async () => new Set((await disc(mesh.nodes[0]).find({ name: 'Summarize' }, { localOnly: true })).map((r: any) => r.descriptor.provider)).size === n, 60_000, `node 0 to see ${n} Summarize providers`)
}

before(async () => {
  spec = JSON.parse(await readFile('examples/specs/Summarize.v1.json', 'utf8'))
  am = await attachedMesh()
  mesh = am.mesh
  keys.push(...am.keys)
})

after(async () => {
  for (const c of clients) c.kill()
  await am?.stop()
})

const summarize = (input: any): unknown => ({ summary: String(input.text).slice(0, 10), words: String(input.text).split(/\s+/).length })

test('an attached process registers a spec; its node publishes it, wins the step of a plan run from another node and signs the receipt with via attached', async () => {
  const a = await attach(1, summarize)
  const reg = await a.register(spec, { price: 1, attrs: { lang: 'py' } })
  assert.equal(reg.type, 'registered', JSON.stringify(reg))
  assert.equal(reg.name, 'Summarize')
  assert.equal(reg.version, '1.0.0')
  const local = disc(mesh.nodes[1]).localCapabilities().find(c => c.cid === reg.capability)
  assert.deepEqual(local?.descriptor.io.input, { $ref: `cid:${String(reg.spec)}#/properties/input` })
  assert.deepEqual(await mesh.nodes[1].components.store.blocks.get(reg.spec), spec, 'the spec is stored as a block')
  assert.deepEqual(local?.module?.kind, 'external')
  await providersSeen(1)
  const { run, id } = await runSummarize('one two three four')
  assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
  const call = await a.next(f => f.type === 'call', 'a call')
  assert.deepEqual(call.capability, { name: 'Summarize', version: '1.0.0' })
  assert.deepEqual(call.input, { text: 'one two three four' })
  assert.equal(typeof call.limits.wall_ms, 'number')
  const doc = await http(base(0), 'GET', `/runs/${id}/receipts`, { key: keys[0] })
  verifyExport(doc.body)
  const r = doc.body.receipts[0].receipt
  assert.equal(r.provider, mesh.nodes[1].peerId)
  assert.deepEqual(r.via, { kind: 'attached', target: reg.attachment, ref: call.call })
})

test('killing the attached process mid-step fails the step retryably; the requester fails over to another attached provider', async () => {
  const b = await attach(2, (input) => ({ ...summarize(input) as object, model: 'b' }))
  assert.equal((await b.register(spec, { price: 5 })).type, 'registered')
  await providersSeen(2)
  const [a] = clients
  a.handler = () => undefined // takes the call, never answers
  const running = runSummarize('fail over please')
  await a.next(f => f.type === 'call' && f.input.text === 'fail over please', 'the call on the cheaper provider')
  a.kill()
  const { run } = await running
  assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
  await b.next(f => f.type === 'call' && f.input.text === 'fail over please', 'the call on the backup provider')
  await waitFor(() => att(mesh.nodes[1]).list().length === 0, 30_000, 'node 1 to drop the attachment')
  assert.equal(disc(mesh.nodes[1]).localCapabilities().some(c => c.descriptor.name === 'Summarize'), false, 'the capability is unpublished when its process leaves')
})

test('a process silent past the wall limit is cancelled; its late answer is refused as an unknown call; the requester fails over', async () => {
  const slow = await attach(1, () => undefined)
  assert.equal((await slow.register(spec, { price: 1, limits: { wall_ms: 2_000 } })).type, 'registered')
  await waitFor(async () => (await disc(mesh.nodes[0]).find({ name: 'Summarize' }, { localOnly: true })).some((r: any) => r.descriptor.provider === mesh.nodes[1].peerId), 60_000, 'node 0 to see the slow provider')
  const { run } = await runSummarize('too slow')
  assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
  const call = await slow.next(f => f.type === 'call' && f.input.text === 'too slow', 'the call')
  const cancel = await slow.next(f => f.type === 'cancel' && f.call === call.call, 'the cancel')
  assert.match(cancel.reason, /did not answer/)
  slow.send({ op: 'result', call: call.call, output: { summary: 'late', words: 1 } })
  const refused = await slow.next(f => f.type === 'error' && f.error.name === 'UnknownAttachedCallError', 'the refusal of the late answer')
  assert.equal(refused.error.details.call, call.call)
  slow.kill()
})

test('bad input: unauthenticated and wrong-scope attaches are refused; malformed, unknown-call and oversized frames are typed errors, counted; the node keeps serving', async () => {
  const url = base(1).replace('http', 'ws') + '/attach'
  const refusal = async (headers: Record<string, string>): Promise<number> => await new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate() })
    ws.on('open', () => { reject(new Error('opened')) })
    ws.on('error', () => {})
  })
  assert.equal(await refusal({}), 401)
  const reader = (await gw(mesh.nodes[1]).keys.create({ name: 'reader', scopes: ['read'] })).key
  assert.equal(await refusal({ authorization: `Bearer ${reader}` }), 403)
  const plain = await http(base(1), 'GET', '/attach', { key: keys[1] })
  assert.equal(plain.body.error.name, 'UpgradeRequiredError')

  const c = await attach(1)
  const bad = async (frame: unknown, name: string): Promise<void> => {
    const n = c.frames.length
    c.send(frame)
    const e = await c.next(f => c.frames.indexOf(f) >= n && f.type === 'error', `error ${name}`)
    assert.equal(e.error.name, name, JSON.stringify(e))
  }
  await bad('not json', 'AttachMessageError')
  await bad(Buffer.from([1, 2, 3]), 'AttachMessageError')
  await bad([1], 'AttachMessageError')
  await bad({ op: 'launch' }, 'AttachMessageError')
  await bad({ op: 'register', spec: { type: 'object' } }, 'AttachSpecError')
  await bad({ op: 'register', spec, price: -1 }, 'AttachMessageError')
  await bad({ op: 'register', spec, extra: 1 }, 'AttachMessageError')
  await bad({ op: 'register', spec_cid: 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' }, 'AttachSpecError')
  await bad({ op: 'result', call: 'call-999', output: {} }, 'UnknownAttachedCallError')
  await bad({ op: 'error', call: 'call-999', error: { name: 'X', message: 'y' } }, 'UnknownAttachedCallError')
  assert.deepEqual((await c.register(spec)).type, 'registered', 'the same connection still registers after bad frames')
  c.send({ op: 'result', call: 'x', output: 'y'.repeat(MAX_ATTACH_FRAME_BYTES + 10) })
  await c.next(f => f.type === 'error' && f.error.name === 'AttachFrameTooLargeError', 'the oversized refusal')
  assert.equal(await c.closed, WS_CLOSE_TOO_BIG)
  const counted = await mesh.nodes[1].components.metrics.rejections()
  for (const name of ['AttachMessageError', 'AttachSpecError', 'UnknownAttachedCallError', 'AttachFrameTooLargeError']) assert.ok((counted[`attached/${name}`] ?? 0) >= 1, `${name} counted: ${JSON.stringify(counted)}`)
  // the node keeps serving: a new client registers and is published
  const again = await attach(1, summarize)
  assert.equal((await again.register(spec)).type, 'registered')
  assert.ok(att(mesh.nodes[1]).list().length >= 1)
  assert.equal((await http(base(1), 'GET', '/health', { key: keys[1] })).status, 200)
})

test('bid questions: a process registered with bids answers each CFP (offer or decline); a silent one is declined other', async () => {
  for (const c of clients) c.kill()
  await waitFor(() => att(mesh.nodes[1]).list().length === 0 && att(mesh.nodes[2]).list().length === 0, 30_000, 'every attachment to go')
  const p = await attach(1, summarize)
  let answer: unknown = { offer: { price: 0.25, attrs: { region: 'eu' } } }
  p.ws.on('message', (data) => {
    const f = JSON.parse(data.toString())
    if (f.type === 'bid' && answer !== undefined) p.send({ op: 'bid', call: f.call, ...(answer as object) })
  })
  assert.equal((await p.register(spec, { price: 2, bids: true })).type, 'registered')
  await waitFor(async () => (await disc(mesh.nodes[0]).find({ name: 'Summarize' }, { localOnly: true })).some((r: any) => r.descriptor.provider === mesh.nodes[1].peerId && r.descriptor.price === 2), 60_000, 'node 0 to see the bidding provider')
  const won = await runSummarize('bid on me')
  assert.equal(won.run.state, 'succeeded', JSON.stringify(won.run.error))
  const question = await p.next(f => f.type === 'bid', 'a bid question')
  assert.deepEqual(question.capability, { name: 'Summarize', version: '1.0.0' })
  assert.equal(question.default.price, 2)
  const exp = await http(base(0), 'GET', `/runs/${won.id}/explanations`, { key: keys[0] })
  const bid = JSON.stringify(exp.body)
  assert.match(bid, /"price":0\.25/, 'the bid carries the price the process offered')
  answer = { decline: { reason: 'busy', message: 'full up' } }
  const declined = await runSummarize('decline me')
  assert.equal(declined.run.state, 'failed')
  const why = await http(base(0), 'GET', `/runs/${declined.id}/explanations`, { key: keys[0] })
  assert.match(JSON.stringify(why.body), /attached provider: full up/)
  answer = undefined // silent: the node declines 'other' after its timeout
  const silent = await runSummarize('say nothing')
  assert.equal(silent.run.state, 'failed')
  const none = await http(base(0), 'GET', `/runs/${silent.id}/explanations`, { key: keys[0] })
  assert.match(JSON.stringify(none.body), /did not answer the bid question/)
})
