/**
 * The A2A bridge, outbound: a tiny echo agent written with the official
 * SDK server (Express adapter) is published into a real 3-node mesh as a
 * capability; a DSL plan on another node runs it, and the provider signs a
 * receipt naming the agent and its task in `via`. An agent that hangs or
 * answers garbage fails the step retryably and the requester fails over to
 * a backup provider.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { AgentCard, TaskState, type AgentCard as Card } from '@a2a-js/sdk'
import { AgentEvent, DefaultRequestHandler, InMemoryTaskStore, type AgentExecutor } from '@a2a-js/sdk/server'
import { agentCardHandler, jsonRpcHandler, UserBuilder } from '@a2a-js/sdk/server/express'
import { type TestMesh, waitFor } from '../helpers/mesh.js'
import { tempDir } from '../helpers/tmp.js'
import type { Discovery } from '../../src/discovery/index.js'
import type { ExecService } from '../../src/exec/index.js'
import { compileDsl } from '../../src/workflow/index.js'
import type { A2aBridge } from '../../src/bridges/a2a/index.js'
import { agentCapability, capabilityNameOf } from '../../src/bridges/a2a/index.js'
import type { ReceiptsService } from '../../src/receipts/index.js'
import { startNodeProcess, runCli } from '../helpers/proc.js'
import { data, moduleDir, startA2aMesh } from './a2a-helpers.js'

interface Agent { url: string, card: string, calls: number, close: () => Promise<void> }

/** An A2A agent made with the SDK: `echo` answers its input back as an artifact; `hang` never answers. */
async function sdkAgent (mode: 'echo' | 'hang'): Promise<Agent> {
  const state = { calls: 0 }
  const card: Card = {
    name: `${mode} agent`,
    description: 'test agent',
    supportedInterfaces: [],
    provider: undefined,
    version: '1.2.3',
    capabilities: { streaming: false, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ['application/json'],
    defaultOutputModes: ['application/json'],
    skills: [{ id: 'echo-back', name: 'Echo', description: 'answers its input back', tags: [], examples: [], inputModes: [], outputModes: [], securityRequirements: [] }],
    signatures: []
  }
  const executor: AgentExecutor = {
    execute: async (rc, bus) => {
      state.calls++
      bus.publish(AgentEvent.task({ id: rc.taskId, contextId: rc.contextId, status: { state: TaskState.TASK_STATE_WORKING, message: undefined, timestamp: new Date().toISOString() }, artifacts: [], history: [rc.userMessage], metadata: {} }))
      if (mode === 'hang') return // stays working: a blocking call never returns
      const got = rc.userMessage.parts.find(p => p.content?.$case === 'data')?.content as { value: unknown } | undefined
      bus.publish(AgentEvent.artifactUpdate({ taskId: rc.taskId, contextId: rc.contextId, artifact: { artifactId: 'a1', name: 'echo', description: '', parts: [data({ echo: got?.value, skill: rc.userMessage.metadata?.skill ?? null, via: 'agent' })], metadata: {}, extensions: [] }, append: false, lastChunk: true, metadata: {} }))
      bus.publish(AgentEvent.statusUpdate({ taskId: rc.taskId, contextId: rc.contextId, status: { state: TaskState.TASK_STATE_COMPLETED, message: undefined, timestamp: new Date().toISOString() }, metadata: {} }))
    },
    cancelTask: async () => {}
  }
  const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), executor)
  const app = express()
  app.use('/.well-known/agent-card.json', agentCardHandler({ agentCardProvider: handler }))
  app.use('/rpc', jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication }))
  const server = app.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => { server.once('listening', () => { resolve() }) })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  card.supportedInterfaces = [{ url: `${url}/rpc`, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '1.0' }]
  return {
    url,
    card: `${url}/.well-known/agent-card.json`,
    get calls () { return state.calls },
    close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => { server.close(() => { resolve() }) }) }
  }
}

/** A server with a valid agent card whose JSON-RPC endpoint answers garbage. */
async function garbageAgent (): Promise<Agent> {
  const state = { calls: 0 }
  let base = ''
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET') {
      const card: Card = { name: 'garbage', description: 'x', supportedInterfaces: [{ url: `${base}/rpc`, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '1.0' }], provider: undefined, version: '1.0.0', capabilities: { streaming: false, pushNotifications: false, extensions: [], extendedAgentCard: false }, securitySchemes: {}, securityRequirements: [], defaultInputModes: [], defaultOutputModes: [], skills: [{ id: 'echo-back', name: 'e', description: '', tags: [], examples: [], inputModes: [], outputModes: [], securityRequirements: [] }], signatures: [] }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(AgentCard.toJSON(card)))
      return
    }
    state.calls++
    req.resume()
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc": "2.0", "id": 1, "result": {"task": {"id": 42, "status": "sideways"')
  })
  server.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => { server.once('listening', () => { resolve() }) })
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url: base, card: `${base}/.well-known/agent-card.json`, get calls () { return state.calls }, close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => { server.close(() => { resolve() }) }) } }
}

let mesh: TestMesh
let echo: Agent
let hang: Agent
let garbage: Agent
let tmp: { dir: string, cleanup: () => Promise<void> }
const disc = (i: number): Discovery => mesh.nodes[i].service<Discovery>('discovery')

before(async () => {
  tmp = await tempDir('pl-a2a-out-')
  echo = await sdkAgent('echo')
  hang = await sdkAgent('hang')
  garbage = await garbageAgent()
  mesh = await startA2aMesh(3)
  await mesh.connected(2)
})

after(async () => {
  await mesh?.stop()
  for (const a of [echo, hang, garbage]) await a?.close()
  await tmp?.cleanup()
})

const PLAN = 'goal: EchoIt\ninputs:\n  text: hi\nplan:\n  - step: Echo(text)\n'

async function runPlan (text: string): Promise<{ output: unknown, receipt: any }> {
  const executor = mesh.nodes[0].service<ExecService>('exec').executor
  const run = await executor.submit(compileDsl(PLAN), { text })
  const rec = await executor.wait(run)
  assert.equal(rec.state, 'succeeded', JSON.stringify(rec.error))
  const doc = await mesh.nodes[0].service<ReceiptsService>('receipts').export(run)
  return { output: await executor.output(rec), receipt: doc.receipts[0].receipt }
}

/** Node 1 serves Echo with the agent at `card` (replacing the agent it served before, whatever its version). */
async function publishOn1 (card: string): Promise<void> {
  await disc(1).unpublish('Echo').catch(() => [])
  const res = await mesh.nodes[1].service<A2aBridge>('a2a').publishAgent({ card, skill: 'echo-back', name: 'Echo', price: 1, wallMs: 4_000 })
  assert.ok(res != null, 'published')
  // node 0 must have heard the new ad before a step asks for Echo (the withdrawal of the old one may come first)
  await waitFor(async () => (await disc(0).find({ name: 'Echo' }, { localOnly: true })).some(c => c.provider === mesh.nodes[1].peerId && c.cid === res.cid), 60_000, 'node 0 to hear node 1\'s new Echo ad')
}

test('an agent card becomes a Capability.v1 for its skill, bound to an a2a external implementation', async () => {
  const { descriptor, impl } = await agentCapability({ card: echo.card })
  assert.equal(descriptor.name, 'echo_back')
  assert.equal(capabilityNameOf('9lives'), 'a2a_9lives')
  assert.equal(descriptor.version, '1.2.3')
  assert.match(descriptor.description ?? '', /answers its input back \(A2A agent echo agent, skill echo-back\)/)
  assert.deepEqual(impl, { external: { kind: 'a2a', target: echo.card, options: { skill: 'echo-back' } } })
  await assert.rejects(agentCapability({ card: echo.card, skill: 'nope' }), { name: 'A2aConfigError' })
  await assert.rejects(agentCapability({ card: `${echo.url}/nothing-here.json` }), { name: 'A2aAgentUnavailableError' })
})

test('a plan on node 0 runs the SDK echo agent published by node 1; the receipt names the agent card and its task in via', async () => {
  await publishOn1(echo.card)
  await disc(2).publish({ name: 'Echo', version: '1.0.0', io: { input: { type: 'object' }, output: {} }, price: 5 }, { dir: await moduleDir(tmp.dir, 'echo', "return { echo: { text: inputData.text }, via: 'backup' }") })
  await waitFor(async () => (await disc(0).find({ name: 'Echo' }, { localOnly: true })).length === 2, 60_000, 'node 0 to hear both Echo ads')
  const before = echo.calls
  const { output, receipt } = await runPlan('hello agent')
  assert.deepEqual(output, { echo: { text: 'hello agent' }, skill: 'echo-back', via: 'agent' })
  assert.equal(echo.calls, before + 1)
  assert.equal(receipt.provider, mesh.nodes[1].peerId, 'node 1 is the provider of record')
  assert.equal(receipt.via.kind, 'a2a')
  assert.equal(receipt.via.target, echo.card)
  assert.match(receipt.via.ref, /^[0-9a-f-]{36}$/, 'the remote task id')
})

test('an agent that hangs fails the step retryably (A2aAgentTimeoutError); the requester fails over to the backup provider', async () => {
  await publishOn1(hang.card)
  const before = hang.calls
  const { output, receipt } = await runPlan('are you there')
  assert.equal(hang.calls, before + 1, 'the hanging agent was called')
  assert.deepEqual(output, { echo: { text: 'are you there' }, via: 'backup' })
  assert.equal(receipt.provider, mesh.nodes[2].peerId)
})

test('an agent that answers garbage fails the step retryably (A2aBadAnswerError); the requester fails over; the runner reports the error by name', async () => {
  await publishOn1(garbage.card)
  const before = garbage.calls
  const { output, receipt } = await runPlan('garbage in')
  assert.ok(garbage.calls > before, 'the garbage agent was called')
  assert.deepEqual(output, { echo: { text: 'garbage in' }, via: 'backup' })
  assert.equal(receipt.provider, mesh.nodes[2].peerId)
  const runner = mesh.nodes[1].service<A2aBridge>('a2a').runner
  const call = { parameters: {}, settings: {}, globalSettings: {}, globalParameters: {}, inputData: { text: 'x' }, limits: { wall_ms: 4_000, mem_mb: 64 } }
  await assert.rejects(runner.run({ kind: 'a2a', target: garbage.card, options: { skill: 'echo-back' } }, call, {}), (err: any) => err.name === 'A2aBadAnswerError' && err.retryable === true)
  await assert.rejects(runner.run({ kind: 'a2a', target: hang.card }, { ...call, limits: { wall_ms: 500, mem_mb: 64 } }, {}), (err: any) => err.name === 'A2aAgentTimeoutError' && err.retryable === true)
  await assert.rejects(runner.run({ kind: 'a2a', target: 'http://127.0.0.1:1/.well-known/agent-card.json' }, call, {}), (err: any) => err.name === 'A2aAgentUnavailableError' && err.retryable === true)
})

test('pl cap publish --a2a publishes the agent\'s skill through a running pl-node, and services.a2a.agents at its start; its gateway card lists them as skills', async () => {
  const d = await tempDir('pl-a2a-cli-')
  const config = join(d.dir, 'config.yaml')
  await writeFile(config, `services:\n  a2a:\n    agents:\n      - card: ${echo.card}\n        skill: echo-back\n        name: EchoFromConfig\n`)
  const dataDir = join(d.dir, 'node')
  const node = await startNodeProcess(['--data-dir', dataDir, '--config', config, '--api-listen', '127.0.0.1:0'], {}, 120_000)
  try {
    const published = await runCli(['cap', 'publish', '--a2a', echo.card, '--skill', 'echo-back', '--name', 'EchoAgent', '--price', '2', '--json', '--data-dir', dataDir])
    assert.equal(published.code, 0, published.stderr)
    const res = JSON.parse(published.stdout)
    assert.equal(res.descriptor.name, 'EchoAgent')
    assert.equal(res.descriptor.price, 2)
    const list = await runCli(['cap', 'list', '--data-dir', dataDir])
    assert.match(list.stdout, new RegExp(`EchoAgent@1\\.2\\.3 +\\S+ +external a2a ${echo.card.replace(/[.]/g, '\\.')}`))
    const bad = await runCli(['cap', 'publish', '--a2a', echo.card, '--skill', 'nope', '--data-dir', dataDir])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /A2aConfigError: .*no skill "nope" \(skills: echo-back\)/)
    const gateway = (node.info as { gateway?: string }).gateway as string
    assert.match(list.stdout, /EchoFromConfig@1\.2\.3 +\S+ +external a2a /, 'published from the config at start')
    const card = await (await fetch(`${gateway}/.well-known/agent-card.json`)).json() as { skills: Array<{ id: string }> }
    for (const id of ['EchoAgent', 'EchoFromConfig']) assert.ok(card.skills.some(s => s.id === id), JSON.stringify(card.skills.map(s => s.id)))
  } finally {
    await node.stop()
    await d.cleanup()
  }
})
