import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { ControlClient } from '../../src/api/client.js'
import type { PlNode } from '../../src/node.js'
import type { TestMesh } from '../helpers/mesh.js'
import { tempDir } from '../helpers/tmp.js'
import { discoMesh, descriptorInput, jsModule, waitFor } from './helpers.js'

describe('control API /caps (agents without libp2p)', () => {
  let mesh: TestMesh
  let a: PlNode, b: PlNode
  let ca: ControlClient, cb: ControlClient
  let tmp: { dir: string, cleanup: () => Promise<void> }

  before(async () => {
    tmp = await tempDir()
    mesh = await discoMesh({ nodes: 2, ttlMs: 60_000, controlApi: true })
    ;[a, b] = mesh.nodes
    await mesh.connected(1)
    ca = await ControlClient.fromDataDir(a.components.dataDir)
    cb = await ControlClient.fromDataDir(b.components.dataDir)
  })
  after(async () => {
    await mesh.stop()
    await tmp.cleanup()
  })

  test('POST /caps publishes with a module folder; GET /caps/local lists it with its bound module', async () => {
    const dir = await jsModule(tmp.dir)
    const res = await cb.request('POST', '/caps', { descriptor: descriptorInput(), impl: { dir } })
    assert.match(res.cid, /^bafy/)
    assert.equal(res.descriptor.provider, b.peerId)
    const local = await cb.request<any[]>('GET', '/caps/local')
    assert.equal(local.length, 1)
    assert.equal(local[0].cid, res.cid)
    assert.equal(local[0].module.dir, dir)
    assert.equal(local[0].active, true)
  })

  test('GET /caps/find and POST /caps/find return the providers another node published', async () => {
    await waitFor(async () => (await ca.request<any[]>('GET', '/caps/find?name=Summarize&local=1')).length === 1, 20_000, 'the ad')
    const viaGet = await ca.request<any[]>('GET', `/caps/find?name=Summarize&attr=${encodeURIComponent('readability>=0.8')}&attr=${encodeURIComponent('coverage>0.5')}&policy=${encodeURIComponent('cid:pol-PII-no-exfil')}&timeout=2000`)
    assert.equal(viaGet.length, 1)
    assert.equal(viaGet[0].provider, b.peerId)
    const none = await ca.request<any[]>('GET', `/caps/find?name=Summarize&local=1&attr=${encodeURIComponent('readability>0.95')}`)
    assert.deepEqual(none, [])
    const io = JSON.stringify({ output: { type: 'object', properties: { summary: { type: 'string' } }, required: ['summary'] } })
    assert.equal((await ca.request<any[]>('GET', `/caps/find?name=Summarize&local=1&io=${encodeURIComponent(io)}`)).length, 1)
    const viaPost = await ca.request<any[]>('POST', '/caps/find', { query: { name: 'Summarize', attrs: [{ key: 'readability', op: '>=', value: 0.8 }] }, options: { localOnly: true } })
    assert.equal(viaPost[0].cid, viaGet[0].cid)
  })

  test('refuses bad publish and find requests with typed errors', async () => {
    await assert.rejects(cb.request('POST', '/caps', { descriptor: descriptorInput(), impl: { dir: 'relative/path' } }), { name: 'InvalidDescriptorError' })
    await assert.rejects(cb.request('POST', '/caps', { nothing: true }), { name: 'InvalidDescriptorError' })
    await assert.rejects(cb.request('POST', '/caps', { descriptor: { name: 'A' } }), { name: 'InvalidBodyError' })
    await assert.rejects(ca.request('GET', '/caps/find?attr=x>1'), { name: 'InvalidCapabilityQueryError' })
    await assert.rejects(ca.request('GET', '/caps/find?name=Summarize&attr=nonsense'), { name: 'InvalidCapabilityQueryError' })
    await assert.rejects(ca.request('POST', '/caps/find', { query: { name: 'Summarize' }, options: { timeoutMs: -1 } }), { name: 'InvalidCapabilityQueryError' })
  })

  test('DELETE /caps/:id unpublishes by name or CID; an unknown one is CapabilityNotFoundError', async () => {
    const { cid } = await cb.request('POST', '/caps', { descriptor: descriptorInput('Translate') })
    assert.deepEqual(await cb.request('DELETE', `/caps/${cid}`), { removed: [cid] })
    assert.deepEqual((await cb.request('DELETE', '/caps/Summarize')).removed.length, 1)
    await assert.rejects(cb.request('DELETE', '/caps/Summarize'), { name: 'CapabilityNotFoundError' })
    assert.deepEqual(await cb.request('GET', '/caps/local'), [])
  })
})
