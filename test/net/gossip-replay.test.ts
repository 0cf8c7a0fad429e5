/**
 * Gossip delivery and the replay store: a new envelope is recorded without a
 * database read (its signed ts is past the store's horizon), and an envelope
 * already accepted — again in this run, or after a restart, when only the
 * disk knows it — is refused and counted as `gossip/ReplayError`. A forged
 * one never reaches the replay store. gossipsub is replaced by a recording
 * object: the validator and delivery are what gossipsub would call.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { createIdentity, signEnvelope, EnvelopeVerifier, Metrics, type Envelope } from '../../src/core/index.js'
import { encodeCanonical } from '../../src/core/encoding.js'
import { silentLogger } from '../../src/core/logger.js'
import { SchemaRegistry } from '../../src/spec/index.js'
import { Store, ReplayStore } from '../../src/store/index.js'
import { Gossip } from '../../src/net/gossip.js'
import { tempDir } from '../helpers/tmp.js'

const reg = SchemaRegistry.loadSync()
const TOPIC = 'pl/v1/test-replay'
const cfp = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

/** A Gossip over a recording pubsub; `receive` runs gossipsub's validator, then (if accepted) its delivery. */
async function gossipOn (store: Store): Promise<{ replay: ReplayStore, metrics: Metrics, got: string[], receive: (data: Uint8Array) => Promise<TopicValidatorResult> }> {
  const replay = new ReplayStore(store)
  await replay.flush()
  const metrics = new Metrics()
  const pubsub = Object.assign(new EventTarget(), { topicValidators: new Map<string, (peer: unknown, msg: unknown) => TopicValidatorResult>(), subscribe: () => {}, unsubscribe: () => {} })
  const gossip = new Gossip({ pubsub: pubsub as any, verifier: new EnvelopeVerifier(reg, undefined), replay, metrics, logger: silentLogger() })
  const got: string[] = []
  gossip.subscribe(TOPIC, { types: ['Decline.v1'], onMessage: (v) => { got.push(v.id) } })
  const source = { toString: () => 'forwarder' }
  const receive = async (data: Uint8Array): Promise<TopicValidatorResult> => {
    const result = pubsub.topicValidators.get(TOPIC)?.(source, { data }) ?? TopicValidatorResult.Ignore
    if (result === TopicValidatorResult.Accept) await (gossip as any).deliver({ msg: { topic: TOPIC, data }, propagationSource: source })
    return result
  }
  return { replay, metrics, got, receive }
}

test('gossip records a new envelope without a replay read, refuses and counts a replay, after a restart too', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    const alice = await createIdentity()
    const env: Envelope<any> = signEnvelope(alice, reg, 'Decline.v1', { cfp, run: 'r', step: 's', reason: 'busy' })
    const bytes = encodeCanonical(env)
    let store = await Store.open(dir)
    let g = await gossipOn(store)
    assert.equal(await g.receive(bytes), TopicValidatorResult.Accept)
    assert.equal(g.got.length, 1)
    assert.deepEqual(g.replay.stats, { memory: 1, disk: 0, deferred: 0 }, 'a new envelope costs no database read (and its write is awaited: gossip does not defer)')
    // the same bytes again, as after gossipsub's seen cache forgot them: refused by the replay store, counted
    assert.equal(await g.receive(bytes), TopicValidatorResult.Accept)
    assert.equal(g.got.length, 1)
    assert.equal((await g.metrics.rejections())['gossip/ReplayError'], 1)
    // a forged copy (body changed after signing) is refused before delivery
    assert.equal(await g.receive(encodeCanonical({ ...env, body: { ...env.body, reason: 'policy' } })), TopicValidatorResult.Reject)
    assert.equal((await g.metrics.rejections())['gossip/BadSignatureError'], 1)
    await g.replay.flush()
    await store.close()

    // after a restart only the disk knows the id: the envelope's ts is not past the horizon, so it is read and refused
    store = await Store.open(dir)
    g = await gossipOn(store)
    assert.equal(await g.receive(bytes), TopicValidatorResult.Accept)
    assert.equal(g.got.length, 0)
    assert.equal(g.replay.stats.disk, 1)
    assert.equal((await g.metrics.rejections())['gossip/ReplayError'], 1)
    await store.close()
  } finally {
    await cleanup()
  }
})
