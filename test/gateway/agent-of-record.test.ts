/**
 * An agent that signs its own requests is the requester of record: the run
 * record names it, and so does every receipt of the run — the requester's
 * own and the remote provider's (the award carries it, the provider signs
 * it, the requester checks it before countersigning).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { resolve } from 'node:path'
import type { TestMesh } from '../helpers/mesh.js'
import { waitFor } from '../helpers/mesh.js'
import { createIdentity, signEnvelope } from '../../src/core/index.js'
import { readDescriptorFile } from '../../src/discovery/descriptor-file.js'
import type { Discovery } from '../../src/discovery/index.js'
import type { ExecService } from '../../src/exec/index.js'
import { verifyExport } from '../../src/receipts/index.js'
import { ENVELOPE_CONTENT_TYPE } from '../../src/gateway/index.js'
import { gw, http, startMesh } from './helpers.js'

let mesh: TestMesh

before(async () => {
  mesh = await startMesh(2)
  const { descriptor, impl } = await readDescriptorFile(resolve('examples/capabilities/fetch-sections/capability.yaml'))
  await mesh.nodes[1].service<Discovery>('discovery').publish(descriptor as any, impl)
  await mesh.connected(1)
})

after(async () => {
  await mesh?.stop()
})

test('a run deployed by a signed agent request names the agent in its record and in every receipt, local and remote', async () => {
  const base = gw(mesh.nodes[0]).address as string
  const agent = await createIdentity()
  await gw(mesh.nodes[0]).keys.registerAgent({ name: 'agent-x', agent: agent.id, scopes: ['read', 'submit'] })
  const registry = mesh.nodes[0].components.registry
  const signed = (method: string, path: string, body?: unknown): string => JSON.stringify(signEnvelope(agent, registry, 'GatewayRequest.v1', { method, path, ...(body !== undefined ? { body } : {}) }))
  // a remote step (FetchSections on node 1) feeding a step node 0 runs itself (a human decision: local, no module needed)
  const dsl = 'goal: Sections\ninputs:\n  doc: "## A\\nalpha\\n## B\\nbeta"\nplan:\n  - step: FetchSections(doc)\n'
  await waitFor(async () => (await mesh.nodes[0].service<Discovery>('discovery').find({ name: 'FetchSections' }, { localOnly: true })).length > 0, 30_000, 'node 0 learns of FetchSections')
  const res = await http(base, 'POST', '/dsl-graph/sections/deploy', { raw: signed('POST', '/dsl-graph/sections/deploy', { dsl }), headers: { 'content-type': ENVELOPE_CONTENT_TYPE } })
  assert.equal(res.status, 200, JSON.stringify(res.body))
  const runId = res.body.runId as string
  const run = await mesh.nodes[0].service<ExecService>('exec').executor.wait(runId)
  assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
  assert.equal(run.on_behalf_of, agent.id)

  const path = `/runs/${runId}/receipts`
  const env = Buffer.from(signed('GET', path)).toString('base64url')
  const exp = await http(base, 'GET', path, { headers: { authorization: `PL-Envelope ${env}` } })
  assert.equal(exp.status, 200, JSON.stringify(exp.body))
  verifyExport(exp.body)
  assert.ok(exp.body.receipts.length >= 1)
  for (const r of exp.body.receipts) {
    assert.equal(r.receipt.on_behalf_of, agent.id, `receipt of ${String(r.receipt.step)}`)
    assert.equal(r.receipt.requester, mesh.nodes[0].peerId, 'the node stays the requester that countersigns')
  }
  assert.ok(exp.body.receipts.some((r: any) => r.receipt.provider === mesh.nodes[1].peerId), 'the remote provider signed the agent into its receipt')
})
