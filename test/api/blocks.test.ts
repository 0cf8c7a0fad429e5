import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TestMesh } from '../helpers/mesh.js'
import { ControlClient } from '../../src/api/client.js'
import { cidStringOf } from '../../src/core/encoding.js'

test('the control API stores documents by CID and serves them back; bad requests get 400/404', async () => {
  const mesh = await TestMesh.start({ nodes: 1, controlApi: true })
  try {
    const client = await ControlClient.fromDataDir(mesh.nodes[0].components.dataDir)
    const doc = { text: '# Title\n\n## One\nbody', n: 1 }
    const { cid } = await client.request('POST', '/blocks', { doc })
    assert.equal(cid, cidStringOf(doc))
    assert.deepEqual((await client.request('GET', `/blocks/${cid}`)).doc, doc)
    await assert.rejects(client.request('POST', '/blocks', { nodoc: 1 }), { name: 'InvalidRequestError' })
    await assert.rejects(client.request('GET', `/blocks/${cidStringOf({ other: true })}`), { name: 'BlockNotFoundError' })
    await assert.rejects(client.request('GET', '/blocks/not-a-cid'), (err: any) => { assert.match(err.name, /InvalidEncodingError|InvalidCid/); return true })
  } finally {
    await mesh.stop()
  }
})
