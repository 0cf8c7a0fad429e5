/** Schemas a published descriptor names by CID are fetchable by finders over /pl/fetch. */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { PlNode } from '../../src/node.js'
import type { TestMesh } from '../helpers/mesh.js'
import { encodeCanonical } from '../../src/core/encoding.js'
import { discoMesh, disc, descriptorInput } from './helpers.js'

describe('schemas named by CID in a published descriptor', () => {
  let mesh: TestMesh
  let finder: PlNode, provider: PlNode

  before(async () => {
    mesh = await discoMesh({ nodes: 2, gossip: () => false })
    ;[finder, provider] = mesh.nodes
    await mesh.connected(1)
  })
  after(async () => { await mesh.stop() })

  test('an io schema given as a CID is served to a finder', async () => {
    const schema = { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] }
    const schemaCid = await provider.components.store.blocks.put(schema)
    await disc(provider).publish(descriptorInput('ByCid', { io: { input: schemaCid, output: schemaCid } }))
    const bytes = await finder.components.fetcher.fetch(provider.peerId, schemaCid)
    assert.deepEqual(bytes, encodeCanonical(schema))
  })

  test('a schema reached by a cid: $ref inside an inline schema is served to a finder', async () => {
    const spec = { type: 'object', properties: { input: { type: 'object', properties: { n: { type: 'number' } } } } }
    const specCid = await provider.components.store.blocks.put(spec)
    await disc(provider).publish(descriptorInput('ByRef', { io: { input: { $ref: `cid:${specCid}#/properties/input` }, output: { type: 'object' } } }))
    const bytes = await finder.components.fetcher.fetch(provider.peerId, specCid)
    assert.deepEqual(bytes, encodeCanonical(spec))
  })

  test('a stored block no descriptor names stays private', async () => {
    const cid = await provider.components.store.blocks.put({ private: true })
    await assert.rejects(finder.components.fetcher.fetch(provider.peerId, cid), { name: 'BlockUnavailableError' })
  })
})
