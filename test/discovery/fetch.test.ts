import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { TestMesh } from '../helpers/mesh.js'
import type { PlNode } from '../../src/node.js'
import { type BlockFetcher, FETCH_PROTOCOL, defineProtocol } from '../../src/net/index.js'
import { cidStringOf, encodeCanonical } from '../../src/core/encoding.js'

describe('/pl/fetch/1.0.0', () => {
  // a and b fetch up to 4000 bytes, c up to 1000; liar replaces its fetcher's handler with one answering every fetch with wrong bytes
  let mesh: TestMesh
  let a: PlNode, b: PlNode, c: PlNode, liar: PlNode
  const fetcherOf = (n: PlNode): BlockFetcher => n.components.fetcher

  before(async () => {
    mesh = await TestMesh.start({
      nodes: 4,
      extra: (i) => ({ fetch: { maxBlockBytes: i === 2 ? 1000 : 4000, access: 'open' } })
    })
    ;[a, b, c, liar] = mesh.nodes
    // every node dialled node 0 (a); c talks to b directly
    await c.libp2p.dial(multiaddr(b.addrs()[0]))
    await liar.components.fetcher.stop()
    await liar.components.rpc.handle(defineProtocol({ id: FETCH_PROTOCOL, handler: async () => ({ status: 'OK', body: { bytes: encodeCanonical({ evil: true }) } }) }))
  })
  after(async () => { await mesh.stop() })

  test('fetches a block by CID from a peer, verified, and keeps a copy of a fetched document', async () => {
    const doc = { hello: 'world', n: 42 }
    const cid = await b.components.store.blocks.put(doc)
    assert.deepEqual(await fetcherOf(a).fetch(b.peerId, cid), encodeCanonical(doc))
    assert.deepEqual(await fetcherOf(a).fetchDocument(b.peerId, cid), doc)
    assert.equal(await a.components.store.blocks.has(cid), true)
  })

  test('reports a block the peer does not have as BlockUnavailableError', async () => {
    await assert.rejects(fetcherOf(a).fetch(b.peerId, cidStringOf({ nope: true })), { name: 'BlockUnavailableError' })
  })

  test('refuses a CID that does not parse before sending anything', async () => {
    await assert.rejects(fetcherOf(a).fetch(b.peerId, 'not-a-cid'), { name: 'InvalidEncodingError' })
  })

  test('refuses bytes that do not hash to the CID asked for', async () => {
    await assert.rejects(fetcherOf(a).fetch(liar.peerId, cidStringOf({ good: true })), { name: 'CidMismatchError' })
  })

  test('the provider refuses to serve a block over its size limit', async () => {
    const huge = await b.components.store.blocks.put({ blob: 'x'.repeat(5000) })
    await assert.rejects(fetcherOf(a).fetch(b.peerId, huge), (err: any) => err.name === 'RpcStatusError' && err.details.remote.name === 'BlockTooLargeError')
  })

  test('the fetcher refuses an answer over its own size limit', async () => {
    const big = await b.components.store.blocks.put({ blob: 'x'.repeat(3000) })
    assert.ok((await fetcherOf(a).fetch(b.peerId, big)).byteLength > 3000)
    await assert.rejects(fetcherOf(c).fetch(b.peerId, big), { name: 'FrameTooLargeError' })
  })

  test('a malformed fetch request is answered REJECTED', async () => {
    const res = await a.components.rpc.request(b.peerId, defineProtocol({ id: FETCH_PROTOCOL }), { cid: 42 })
    assert.equal(res.status, 'REJECTED')
    assert.equal(res.error?.name, 'InvalidFetchRequestError')
  })

  test('the node\'s one fetcher serves /pl/fetch from start to stop, without any service', () => {
    assert.equal(a.components.fetcher.isStarted, true)
    assert.ok(a.libp2p.getProtocols().includes(FETCH_PROTOCOL))
  })
})

describe('/pl/fetch access (default: granted)', () => {
  // owner serves with the default access rule; friend is granted blocks, stranger is not
  let mesh: TestMesh
  let owner: PlNode, friend: PlNode, stranger: PlNode
  const fetcherOf = (n: PlNode): BlockFetcher => n.components.fetcher

  before(async () => {
    mesh = await TestMesh.start({ nodes: 3 })
    await mesh.connected()
    ;[owner, friend, stranger] = mesh.nodes
  })
  after(async () => { await mesh.stop() })

  test('a stored block that is neither shared nor granted is answered as absent, and counted', async () => {
    const cid = await owner.components.store.blocks.put({ secret: 'run input with PII' })
    await assert.rejects(fetcherOf(stranger).fetch(owner.peerId, cid), { name: 'BlockUnavailableError' })
    assert.match(await owner.components.metrics.registry.metrics(), /pl_rejected_total\{area="fetch",reason="not-granted"\} 1/)
  })

  test('a shared block (a published descriptor) is served to every peer until unshared', async () => {
    const cid = await owner.components.store.blocks.put({ descriptor: 'public' })
    fetcherOf(owner).share(cid)
    assert.ok((await fetcherOf(stranger).fetch(owner.peerId, cid)).byteLength > 0)
    fetcherOf(owner).unshare(cid)
    await assert.rejects(fetcherOf(stranger).fetch(owner.peerId, cid), { name: 'BlockUnavailableError' })
  })

  // that a grant expires (on the fetcher's clock) is tested without waiting in test/net/clock.test.ts
  test('a granted block is served to that peer only', async () => {
    const cid = await owner.components.store.blocks.put({ input: 'for the awarded provider' })
    fetcherOf(owner).grant(cid, friend.peerId, 60_000)
    assert.ok((await fetcherOf(friend).fetch(owner.peerId, cid)).byteLength > 0)
    await assert.rejects(fetcherOf(stranger).fetch(owner.peerId, cid), { name: 'BlockUnavailableError' })
  })
})
