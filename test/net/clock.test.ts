/**
 * Time in net/ on a FakeClock: block grants expire and the gossip publish
 * rate refills by the component's clock, so the tests move time instead of
 * waiting for it (and fail if the component read the wall clock instead).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FakeClock } from '../../src/core/clock.js'
import { silentLogger } from '../../src/core/logger.js'
import { BlockFetcher } from '../../src/net/fetch.js'
import { Gossip } from '../../src/net/gossip.js'

const CID = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

test('a block grant lets its peer read the block until the fetcher\'s clock passes its TTL', () => {
  const clock = new FakeClock()
  // allows() reads neither the rpc nor the store: this is the grant logic alone
  const fetcher = new BlockFetcher({ rpc: {} as any, store: {} as any, clock })
  fetcher.grant(CID, 'peerA', 30_000)
  assert.equal(fetcher.allows(CID, 'peerA'), true)
  assert.equal(fetcher.allows(CID, 'peerB'), false)
  clock.advance(29_999)
  assert.equal(fetcher.allows(CID, 'peerA'), true)
  clock.advance(1)
  assert.equal(fetcher.allows(CID, 'peerA'), false)
})

test('a renewed grant keeps the later expiry', () => {
  const clock = new FakeClock()
  const fetcher = new BlockFetcher({ rpc: {} as any, store: {} as any, clock })
  fetcher.grant(CID, 'peerA', 10_000)
  clock.advance(5_000)
  fetcher.grant(CID, 'peerA', 1_000)
  clock.advance(4_999)
  assert.equal(fetcher.allows(CID, 'peerA'), true)
  clock.advance(1)
  assert.equal(fetcher.allows(CID, 'peerA'), false)
})

test('gossip refuses to publish past its rate (GossipRateLimitedError) and publishes again once its clock refilled a token', async () => {
  const clock = new FakeClock()
  const published: string[] = []
  // a recording pubsub: the rate limit is decided before anything reaches gossipsub
  const pubsub = { publish: async (topic: string) => { published.push(topic); return { recipients: ['a', 'b'] } } }
  const gossip = new Gossip({ pubsub: pubsub as any, verifier: {} as any, replay: {} as any, metrics: { gossipPublished: { inc: () => {} } } as any, logger: silentLogger(), clock }, { publishRate: 2 })
  const envelope = { v: 1, type: 'Decline.v1', body: {} } as any
  assert.equal(await gossip.publish('pl/v1/catalog', envelope), 2, 'the peers it was handed to')
  await gossip.publish('pl/v1/catalog', envelope)
  await assert.rejects(gossip.publish('pl/v1/catalog', envelope), (err: Error) => err.name === 'GossipRateLimitedError')
  // half a token after 250 ms at 2/s, a whole one after 500 ms
  clock.advance(250)
  await assert.rejects(gossip.publish('pl/v1/catalog', envelope), (err: Error) => err.name === 'GossipRateLimitedError')
  clock.advance(250)
  await gossip.publish('pl/v1/catalog', envelope)
  assert.equal(published.length, 3)
})
