/**
 * The A2A bridge, inbound: the official @a2a-js/sdk client against a real
 * node (TestMesh: real libp2p, LevelDB, executor, negotiation, receipts,
 * gateway). The card lists what the node brokers; send, stream, an
 * input-required round trip, cancel and resubscribe; hostile messages get
 * JSON-RPC errors, are counted, and the node keeps serving.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { TaskState, type Task } from '@a2a-js/sdk'
import type { Client } from '@a2a-js/sdk/client'
import { type TestMesh, waitFor } from '../helpers/mesh.js'
import { tempDir } from '../helpers/tmp.js'
import type { Discovery } from '../../src/discovery/index.js'
import type { A2aBridge } from '../../src/bridges/a2a/index.js'
import type { ExecService } from '../../src/exec/index.js'
import { verifyExport } from '../../src/receipts/index.js'
import { decodeJson, encodeJson } from '../../src/core/encoding.js'
import { a2aClient, data, gw, moduleDir, rpc, send, startA2aMesh, text } from './a2a-helpers.js'

let mesh: TestMesh
let base: string
let alice: string
let bob: string
let client: Client
let tmp: { dir: string, cleanup: () => Promise<void> }

const disc = (i: number): Discovery => mesh.nodes[i].service<Discovery>('discovery')
const bridge = (): A2aBridge => mesh.nodes[0].service<A2aBridge>('a2a')
const io = { input: { type: 'object' }, output: { type: 'object' } }

before(async () => {
  tmp = await tempDir('pl-a2a-in-')
  mesh = await startA2aMesh(2, (i) => i === 0 ? { defaultCapability: 'Upper', name: 'test node' } : {})
  await mesh.connected(1)
  base = gw(mesh.nodes[0]).address as string
  alice = (await gw(mesh.nodes[0]).keys.create({ name: 'alice', scopes: ['read', 'submit'] })).key
  bob = (await gw(mesh.nodes[0]).keys.create({ name: 'bob', scopes: ['submit'] })).key
  // node 1 provides Upper (negotiated); node 0 has Ask (a human decision) and Slow locally
  await disc(1).publish({ name: 'Upper', version: '1.0.0', io, price: 3, limits: { wall_ms: 20_000, mem_mb: 128 } }, { dir: await moduleDir(tmp.dir, 'upper', 'return { text: String(inputData.text).toUpperCase() }') })
  await disc(0).publish({ name: 'Ask', version: '1.0.0', io }, { dir: await moduleDir(tmp.dir, 'ask', "const c = await context.human.ask({ question: 'Ship ' + inputData.what + '?', choices: ['yes', 'no'] }); return { choice: c }") })
  await disc(0).publish({ name: 'Slow', version: '1.0.0', io, limits: { wall_ms: 600_000 } }, { dir: await moduleDir(tmp.dir, 'slow', 'await new Promise(() => {})') })
  await waitFor(async () => (await disc(0).find({ name: 'Upper' }, { localOnly: true })).length === 1, 60_000, 'node 0 to hear the Upper ad')
  client = await a2aClient(base, alice)
})

after(async () => {
  await mesh?.stop()
  await tmp?.cleanup()
})

function asTask (r: unknown): Task {
  assert.ok(r != null && typeof r === 'object' && 'status' in r, `expected a task, got ${JSON.stringify(r)}`)
  return r as Task
}

const outputOf = (t: Task): unknown => {
  const c = t.artifacts.find(a => a.artifactId === 'output')?.parts[0]?.content
  return c?.$case === 'data' ? c.value : undefined
}

async function rejections (): Promise<Record<string, number>> {
  return await mesh.nodes[0].components.metrics.rejections()
}

test('the agent card is public and lists the capabilities the node brokers (its own and the catalog\'s), "run a plan" and the bearer scheme', async () => {
  const res = await fetch(`${base}/.well-known/agent-card.json`)
  assert.equal(res.status, 200)
  const card = await res.json() as any
  assert.equal(card.name, 'test node')
  const ids = card.skills.map((s: { id: string }) => s.id)
  for (const id of ['Upper', 'Ask', 'Slow', 'pl.run-plan']) assert.ok(ids.includes(id), `skill ${id} in ${ids.join(', ')}`)
  assert.deepEqual(card.skills.find((s: { id: string }) => s.id === 'Upper').inputModes, ['application/json', 'text/plain'], 'the default capability takes text')
  assert.equal(card.securitySchemes.apiKey.httpAuthSecurityScheme.scheme, 'Bearer')
  assert.ok(card.supportedInterfaces.some((i: any) => i.protocolBinding === 'JSONRPC' && i.url === `${base}/a2a` && i.protocolVersion === '1.0'))
  // the SDK client read the same card
  const seen = await client.getAgentCard()
  assert.ok(seen.skills.some(s => s.id === 'Upper'))
})

test('message/send with {capability, input} runs a negotiated one-step run: completed, output and receipts as artifacts', async () => {
  const task = asTask(await client.sendMessage(send([data({ capability: 'Upper', input: { text: 'mesh' } })])))
  assert.equal(task.status?.state, TaskState.TASK_STATE_COMPLETED, JSON.stringify(task.status))
  assert.deepEqual(outputOf(task), { text: 'MESH' })
  const receipts = task.artifacts.find(a => a.artifactId === 'receipts')?.parts[0]?.content
  assert.equal(receipts?.$case, 'data')
  const doc = (receipts as { value: any }).value
  const checked = verifyExport(decodeJson(encodeJson(doc)))
  assert.equal(checked.root, doc.root)
  assert.equal(doc.receipts[0].receipt.provider, mesh.nodes[1].peerId, 'node 1 won the negotiation and signed')
  const run = bridge().runOf(task.id) as string
  const view = await mesh.nodes[0].service<ExecService>('exec').executor.get(run)
  assert.equal(view.run.state, 'succeeded')
  // the same task is readable with tasks/get by the key that created it
  const again = await client.getTask({ tenant: '', id: task.id })
  assert.equal(again.status?.state, TaskState.TASK_STATE_COMPLETED)
})

test('a text part goes to the configured default capability', async () => {
  const task = asTask(await client.sendMessage(send([text('quiet please')])))
  assert.equal(task.status?.state, TaskState.TASK_STATE_COMPLETED, JSON.stringify(task.status))
  assert.deepEqual(outputOf(task), { text: 'QUIET PLEASE' })
})

test('message/stream with {plan} streams the task: submitted, working, the output artifact, completed', async () => {
  const plan = 'goal: Shout\ninputs:\n  text: hello\nplan:\n  - step: Upper(text)\n'
  const seen: string[] = []
  let output: unknown
  for await (const ev of client.sendMessageStream(send([data({ plan, input: { text: 'stream' } })]))) {
    const p = ev.payload
    if (p?.$case === 'task') seen.push(`task:${TaskState[p.value.status?.state ?? 0]}`)
    if (p?.$case === 'statusUpdate') seen.push(`status:${TaskState[p.value.status?.state ?? 0]}`)
    if (p?.$case === 'artifactUpdate') {
      seen.push(`artifact:${p.value.artifact?.artifactId ?? ''}`)
      const c = p.value.artifact?.parts[0]?.content
      if (p.value.artifact?.artifactId === 'output' && c?.$case === 'data') output = c.value
    }
  }
  assert.equal(seen[0], 'task:TASK_STATE_SUBMITTED', seen.join(' '))
  assert.ok(seen.includes('status:TASK_STATE_WORKING'), seen.join(' '))
  assert.ok(seen.indexOf('artifact:output') < seen.indexOf('status:TASK_STATE_COMPLETED'), seen.join(' '))
  assert.ok(seen.includes('artifact:receipts'), seen.join(' '))
  assert.equal(seen.at(-1), 'status:TASK_STATE_COMPLETED')
  assert.deepEqual(output, { text: 'STREAM' })
})

test('a human decision point is input-required; a wrong choice keeps it so; the next message on the task answers it', async () => {
  const asked = asTask(await client.sendMessage(send([data({ capability: 'Ask', input: { what: 'v2' } })])))
  assert.equal(asked.status?.state, TaskState.TASK_STATE_INPUT_REQUIRED, JSON.stringify(asked.status))
  const q = asked.status?.message?.parts.find(p => p.content?.$case === 'data')?.content as { value: any }
  assert.deepEqual(q.value.choices, ['yes', 'no'])
  assert.equal(q.value.question, 'Ship v2?')
  const wrong = asTask(await client.sendMessage(send([text('maybe')], { taskId: asked.id })))
  assert.equal(wrong.status?.state, TaskState.TASK_STATE_INPUT_REQUIRED)
  assert.match(JSON.stringify(wrong.status?.message), /InvalidDecisionError/)
  const done = asTask(await client.sendMessage(send([data({ choice: 'yes' })], { taskId: asked.id })))
  assert.equal(done.status?.state, TaskState.TASK_STATE_COMPLETED, JSON.stringify(done.status))
  assert.deepEqual(outputOf(done), { choice: 'yes' })
})

test('tasks/cancel ends a task waiting for input, and a working task followed with tasks/resubscribe; their runs are cancelled', async () => {
  const executor = mesh.nodes[0].service<ExecService>('exec').executor
  const asked = asTask(await client.sendMessage(send([data({ capability: 'Ask', input: { what: 'x' } })])))
  assert.equal(asked.status?.state, TaskState.TASK_STATE_INPUT_REQUIRED)
  const cancelled = await client.cancelTask({ tenant: '', id: asked.id, metadata: {} })
  assert.equal(cancelled.status?.state, TaskState.TASK_STATE_CANCELED)
  assert.equal((await executor.get(bridge().runOf(asked.id) as string)).run.state, 'cancelled')

  const slow = asTask(await client.sendMessage(send([data({ capability: 'Slow' })], { returnImmediately: true })))
  assert.ok([TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING].includes(slow.status?.state as TaskState), JSON.stringify(slow.status))
  const run = bridge().runOf(slow.id) as string
  await waitFor(() => executor.events(run, 0).events.some(e => e.type === 'pl:step:started'), 60_000, 'the Slow step to start')
  const states: string[] = []
  let subscribed = false
  const follower = (async () => {
    for await (const ev of client.resubscribeTask({ tenant: '', id: slow.id })) {
      subscribed = true
      if (ev.payload?.$case === 'statusUpdate') states.push(TaskState[ev.payload.value.status?.state ?? 0])
    }
  })()
  await waitFor(() => subscribed, 60_000, 'the resubscribe stream to open')
  const c = await client.cancelTask({ tenant: '', id: slow.id, metadata: {} })
  assert.equal(c.status?.state, TaskState.TASK_STATE_CANCELED)
  await follower
  assert.equal(states.at(-1), 'TASK_STATE_CANCELED', states.join(' '))
  assert.equal((await executor.get(run)).run.state, 'cancelled')
})

test('v0.3 clients: message/send without an A2A-Version header works with the v0.3 wire shapes', async () => {
  const res = await rpc(base, { jsonrpc: '2.0', id: 7, method: 'message/send', params: { message: { kind: 'message', role: 'user', messageId: 'm-1', parts: [{ kind: 'data', data: { capability: 'Upper', input: { text: 'legacy' } } }] } } }, { key: alice })
  assert.equal(res.status, 200)
  assert.equal(res.body.id, 7)
  assert.equal(res.body.result.kind, 'task', JSON.stringify(res.body))
  assert.equal(res.body.result.status.state, 'completed')
  assert.deepEqual(res.body.result.artifacts.find((a: any) => a.artifactId === 'output').parts[0].data, { text: 'LEGACY' })
})

test('hostile messages get JSON-RPC errors (unknown parts, huge parts, wrong task ids, another key\'s task, no key), are counted, and the node keeps serving', async () => {
  const v1 = { 'a2a-version': '1.0' }
  const msg = (parts: unknown[], extra: Record<string, unknown> = {}): unknown => ({ jsonrpc: '2.0', id: 1, method: 'SendMessage', params: { message: { messageId: 'h', role: 'ROLE_USER', parts, ...extra } } })
  const before = await rejections()
  const cases: Array<{ what: string, body: unknown, name: RegExp, code: number, key?: string | null, headers?: Record<string, string>, status?: number }> = [
    { what: 'a file part', body: msg([{ url: 'file:///etc/passwd', mediaType: 'text/plain' }]), name: /A2aUnsupportedPartError/, code: -32602 },
    { what: 'an unknown part kind', body: msg([{ kind: 'video', video: 'x' }]), name: /A2aUnsupportedPartError/, code: -32602 },
    { what: 'a data part of another shape', body: msg([{ data: { hello: 1 } }]), name: /A2aUnsupportedPartError/, code: -32602 },
    { what: 'a huge part', body: msg([{ text: 'x'.repeat(300 * 1024) }]), name: /A2aPartTooLargeError/, code: -32602 },
    { what: 'too many parts', body: msg(Array.from({ length: 20 }, () => ({ text: 'x' }))), name: /A2aPartTooLargeError/, code: -32602 },
    { what: 'no parts', body: msg([]), name: /A2aInvalidMessageError/, code: -32602 },
    { what: 'a plan that does not compile', body: msg([{ data: { plan: 'goal: [' } }]), name: /A2aInvalidMessageError/, code: -32602 },
    { what: 'a capability name a plan cannot call', body: msg([{ data: { capability: 'x; rm -rf', input: {} } }]), name: /A2aInvalidMessageError/, code: -32602 },
    { what: 'a non-object input', body: msg([{ data: { capability: 'Upper', input: [1, 2] } }]), name: /A2aInvalidMessageError/, code: -32602 },
    { what: 'a wrong task id', body: { jsonrpc: '2.0', id: 2, method: 'GetTask', params: { id: 'no-such-task' } }, name: /.*/, code: -32001 },
    { what: 'a message on a wrong task id', body: msg([{ text: 'yes' }], { taskId: 'no-such-task' }), name: /.*/, code: -32001 },
    { what: 'an unknown method', body: { jsonrpc: '2.0', id: 3, method: 'tasks/explode', params: {} }, name: /.*/, code: -32601 },
    { what: 'not JSON-RPC', body: { hello: 'world' }, name: /RequestValidationError/, code: -32600, status: 400 },
    { what: 'no key', body: msg([{ text: 'hi' }]), name: /MissingCredentialsError/, code: -32000, key: null, status: 401 }
  ]
  for (const c of cases) {
    const res = await rpc(base, c.body, { key: c.key === null ? undefined : (c.key ?? alice), headers: v1 })
    assert.equal(res.status, c.status ?? 200, `${c.what}: ${JSON.stringify(res.body).slice(0, 300)}`)
    assert.equal(res.body.jsonrpc, '2.0', c.what)
    assert.equal(res.body.error?.code, c.code, `${c.what}: ${JSON.stringify(res.body).slice(0, 300)}`)
    assert.match(res.body.error.message, c.name, c.what)
  }
  const garbage = await rpc(base, undefined, { key: alice, headers: v1, raw: '{"jsonrpc": "2.0", "method": ' })
  assert.equal(garbage.status, 400)
  assert.equal(garbage.body.error.code, -32600)
  // a body over the gateway's body limit (4 MiB) is refused before it is read, still as JSON-RPC
  const huge = await rpc(base, msg([{ text: 'x'.repeat(5 * 1024 * 1024) }]), { key: alice, headers: v1 })
  assert.equal(huge.status, 413)
  assert.equal(huge.body.jsonrpc, '2.0')
  assert.match(huge.body.error.message, /BodyTooLargeError/)
  // another key's task: not found for bob, whether read, cancelled or answered
  const mine = asTask(await client.sendMessage(send([data({ capability: 'Ask', input: { what: 'secret' } })])))
  const bobClient = await a2aClient(base, bob)
  await assert.rejects(bobClient.getTask({ tenant: '', id: mine.id }), (err: Error) => /not found/i.test(err.message))
  await assert.rejects(bobClient.cancelTask({ tenant: '', id: mine.id, metadata: {} }), (err: Error) => /not found/i.test(err.message))
  await assert.rejects(bobClient.sendMessage(send([text('yes')], { taskId: mine.id })), (err: Error) => /not found/i.test(err.message))
  assert.equal((await client.getTask({ tenant: '', id: mine.id })).status?.state, TaskState.TASK_STATE_INPUT_REQUIRED, 'alice still sees her task, unanswered')
  const after = await rejections()
  const grew = (k: string): number => (after[`a2a/${k}`] ?? 0) - (before[`a2a/${k}`] ?? 0)
  assert.equal(grew('A2aUnsupportedPartError'), 3)
  assert.equal(grew('A2aPartTooLargeError'), 2)
  assert.ok(grew('A2aInvalidMessageError') >= 4)
  assert.ok(grew('TaskNotFound') >= 5, JSON.stringify(after))
  assert.equal(grew('MethodNotFound'), 1)
  assert.equal(grew('MissingCredentialsError'), 1)
  assert.equal(grew('BodyTooLargeError'), 1)
  // still serving
  const ok = asTask(await client.sendMessage(send([data({ capability: 'Upper', input: { text: 'still here' } })])))
  assert.deepEqual(outputOf(ok), { text: 'STILL HERE' })
  await client.cancelTask({ tenant: '', id: mine.id, metadata: {} })
})
