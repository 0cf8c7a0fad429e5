import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import * as ed from '@noble/ed25519'
import { createIdentity, type Identity } from '../../src/core/identity.js'
import { signEnvelope, unsignedBytes, unsignedFromSigned, envelopeId, EnvelopeVerifier, isCanonicalSignature, ENVELOPE_DOMAIN, type Envelope } from '../../src/core/envelope.js'
import { withPlainCborForms } from '../../src/core/canonical-cbor.js'
import { randomBytes } from 'node:crypto'
import { fromBase64url, toBase64url, encodeCanonical } from '../../src/core/encoding.js'
import { SchemaRegistry } from '../../src/spec/index.js'
import { Store, ReplayStore } from '../../src/store/index.js'
import { tempDir } from '../helpers/tmp.js'
import { FakeClock } from '../../src/core/clock.js'

let registry: SchemaRegistry
let alice: Identity
let mallory: Identity
const cfpId = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

function decline (): Record<string, unknown> {
  return { cfp: cfpId, run: 'r1', step: 's1', reason: 'busy' }
}

before(async () => {
  registry = await SchemaRegistry.load()
  alice = await createIdentity()
  mallory = await createIdentity()
})

test('a signed envelope verifies and its id is the CID of its signed form', async () => {
  const verifier = new EnvelopeVerifier(registry, undefined)
  const env = signEnvelope(alice, registry, 'Decline.v1', decline())
  const { id } = await verifier.verify(env, { expectedFrom: alice.id })
  assert.equal(id, envelopeId(env))
})

test('idOf gives the id of an envelope-shaped value without verifying it, and nothing for anything else', async () => {
  const verifier = new EnvelopeVerifier(registry, undefined, { maxBytes: 1024 })
  const env = signEnvelope(alice, registry, 'Decline.v1', decline())
  assert.equal(verifier.idOf(env), envelopeId(env))
  // another body under the same signature is another id: a holder matching ids never takes it for the verified one
  const tampered = { ...env, body: { ...env.body, reason: 'other' } }
  assert.notEqual(verifier.idOf(tampered), envelopeId(env))
  for (const bad of [undefined, null, 'x', [], {}, { ...env, v: 2 }]) assert.equal(verifier.idOf(bad), undefined)
  assert.equal(verifier.idOf(signEnvelope(alice, registry, 'Decline.v1', { ...decline(), message: 'x'.repeat(900) })), undefined)
})

test('signatures cross-check with @noble/ed25519', async () => {
  const env = signEnvelope(alice, registry, 'Decline.v1', decline())
  assert.ok(await ed.verifyAsync(fromBase64url(env.sig), unsignedBytes(env), alice.publicKey))
  const tampered = { ...env, body: { ...env.body, reason: 'policy' } }
  assert.equal(await ed.verifyAsync(fromBase64url(env.sig), unsignedBytes(tampered), alice.publicKey), false)
})

test('each bad envelope gets its own typed error and is counted', async () => {
  const rejected: string[] = []
  const clock = new FakeClock()
  const verifier = new EnvelopeVerifier(registry, undefined, { onReject: r => rejected.push(r), self: alice.id, clock })
  const good = signEnvelope(alice, registry, 'Decline.v1', decline(), { now: clock.now() })
  const cases: Array<[string, unknown, object?]> = [
    ['MalformedEnvelopeError', 'garbage'],
    ['MalformedEnvelopeError', { ...good, v: 2 }],
    ['UnknownTypeError', { ...good, type: 'Teleport.v1' }],
    ['SchemaMismatchError', { ...good, schema: registry.cidOf('Bid.v1') }],
    ['InvalidBodyError', { ...good, body: { cfp: cfpId } }],
    ['BadSignatureError', { ...good, body: { ...good.body, reason: 'policy' } }],
    ['BadSignatureError', { ...good, from: mallory.id }],
    ['WrongSenderError', good, { expectedFrom: mallory.id }],
    ['NotForMeError', signEnvelope(alice, registry, 'Decline.v1', decline(), { to: mallory.id, now: clock.now() })],
    ['ClockSkewError', signEnvelope(alice, registry, 'Decline.v1', decline(), { now: clock.now() + 10 * 60_000 })],
    ['EnvelopeExpiredError', signEnvelope(alice, registry, 'Decline.v1', decline(), { now: clock.now() - 30_000, ttlMs: 1000 })]
  ]
  for (const [name, value, opts] of cases) {
    await assert.rejects(verifier.verify(value, opts ?? {}), { name }, `expected ${name}`)
  }
  assert.deepEqual(rejected, cases.map(c => c[0]))
})

test('a forged signature from another key is refused', async () => {
  const verifier = new EnvelopeVerifier(registry, undefined)
  const env = signEnvelope(alice, registry, 'Decline.v1', decline())
  const forged: Envelope = { ...env, sig: toBase64url(mallory.sign(unsignedBytes(env))) }
  await assert.rejects(verifier.verify(forged), { name: 'BadSignatureError' })
})

test('an oversized envelope is refused before its signature is checked', async () => {
  const verifier = new EnvelopeVerifier(registry, undefined, { maxBytes: 512 })
  const env = signEnvelope(alice, registry, 'Decline.v1', { ...decline(), message: 'x'.repeat(900) })
  await assert.rejects(verifier.verify(env), { name: 'EnvelopeTooLargeError' })
})

test('signing refuses a body that does not match its schema', () => {
  assert.throws(() => signEnvelope(alice, registry, 'Decline.v1', { reason: 'nope' }), { name: 'InvalidBodyError' })
})

test('a replayed envelope is refused, also after the store is reopened', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    let store = await Store.open(dir)
    let verifier = new EnvelopeVerifier(registry, new ReplayStore(store))
    const env = signEnvelope(alice, registry, 'Decline.v1', decline())
    await verifier.verify(env)
    await assert.rejects(verifier.verify(env), { name: 'ReplayError' })
    await store.close()
    store = await Store.open(dir)
    verifier = new EnvelopeVerifier(registry, new ReplayStore(store))
    await assert.rejects(verifier.verify(env), { name: 'ReplayError' })
    await store.close()
  } finally { await cleanup() }
})

test('concurrent deliveries of one envelope: exactly one is accepted', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    const store = await Store.open(dir)
    const verifier = new EnvelopeVerifier(registry, new ReplayStore(store))
    const env = signEnvelope(alice, registry, 'Decline.v1', decline())
    const results = await Promise.allSettled([verifier.verify(env), verifier.verify(env), verifier.verify(env)])
    assert.equal(results.filter(r => r.status === 'fulfilled').length, 1)
    await store.close()
  } finally { await cleanup() }
})

test('the replay store answers an add once its record is written; a second add is refused at once, also while the first is being written', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    let store = await Store.open(dir)
    let replay = new ReplayStore(store)
    const exp = Date.now() + 60_000
    const [first, second] = await Promise.all([replay.add('w', exp), replay.add('w', exp)])
    assert.deepEqual([first, second], [true, false])
    assert.equal(await replay.add('x', exp), true)
    // written before the add answered: on disk, no flush needed
    assert.equal(await store.json<number>('seen').get('x'), exp + 60_000)
    assert.equal(await replay.add('x', exp), false)
    assert.equal(await replay.has('x'), true)
    assert.equal(await replay.add('x', exp), false)
    // ids added just before close are written by Store.close
    assert.equal(await replay.add('y', exp), true)
    await store.close()
    store = await Store.open(dir)
    replay = new ReplayStore(store)
    assert.equal(await replay.add('x', exp), false)
    assert.equal(await replay.add('y', exp), false)
    await store.close()
  } finally { await cleanup() }
})

test('the replay store reads the disk only for envelopes no later than what it may hold', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    let store = await Store.open(dir)
    let replay = new ReplayStore(store, 1_000, new FakeClock(), 2)
    await replay.flush()
    const ts = Date.now()
    // an empty store: a new id with a ts needs no read
    assert.equal(await replay.add('a', ts + 10_000, ts), true)
    assert.deepEqual(replay.stats, { memory: 1, disk: 0, deferred: 0 })
    assert.equal(await replay.add('a', ts + 10_000, ts), false, 'remembered')
    // beyond maxRemembered the oldest is dropped from memory, and the horizon moves past its window
    assert.equal(await replay.add('b', ts + 10_000, ts), true)
    assert.equal(await replay.add('c', ts + 20_000, ts), true)
    assert.equal(replay.stats.disk, 0)
    assert.equal(await replay.add('a', ts + 10_000, ts), false, 'a dropped id is looked up on disk')
    await replay.flush()
    assert.equal(await replay.add('a', ts + 10_000, ts), false)
    assert.ok(replay.stats.disk >= 1)
    assert.equal(await replay.add('d', ts + 30_000, ts + 11_001), true, 'later than every dropped window')
    await store.close()
    // after a restart, anything up to the latest window on disk is looked up there
    store = await Store.open(dir)
    replay = new ReplayStore(store, 1_000, new FakeClock(), 2)
    await replay.flush()
    const disk = replay.stats.disk
    for (const id of ['a', 'b', 'c', 'd']) assert.equal(await replay.add(id, ts + 30_000, ts + 11_001), false, id)
    assert.equal(replay.stats.disk, disk + 4)
    assert.equal(await replay.add('e', ts + 40_000, ts + 31_001), true)
    assert.equal(replay.stats.disk, disk + 4)
    await store.close()
  } finally { await cleanup() }
})

test('an add whose write fails fails (the envelope is refused) and leaves nothing remembered', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    const store = await Store.open(dir)
    const clock = new FakeClock(1_000_000)
    const replay = new ReplayStore(store, 0, clock)
    const write = store.write.bind(store)
    store.write = async () => { throw new Error('disk full') }
    await assert.rejects(replay.add('z', 1_000_500), /disk full/)
    await replay.flush()
    assert.equal(replay.failedWrites, 1)
    assert.equal(await replay.has('z'), false)
    store.write = write
    assert.equal(await replay.add('z', 1_000_500), true, 'accepted once it can be recorded')
    assert.equal(await replay.has('z'), true)
    await store.close()
  } finally { await cleanup() }
})

test('the replay store sweeps entries whose window has passed', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    const store = await Store.open(dir)
    const replay = new ReplayStore(store, 0)
    assert.equal(await replay.add('a', 1000), true)
    assert.equal(await replay.add('b', Date.now() + 60_000), true)
    assert.equal(await replay.add('a', 1000), false)
    assert.equal(await replay.sweep(), 1)
    assert.equal(await replay.size(), 1)
    assert.equal(await replay.has('b'), true)
    await store.close()
  } finally { await cleanup() }
})

test('the replay store keeps an id until exp + keepMs on its clock, not a millisecond less', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    const store = await Store.open(dir)
    const clock = new FakeClock()
    const replay = new ReplayStore(store, 500, clock)
    assert.equal(await replay.add('a', clock.now() + 1000), true)
    assert.equal(await replay.add('b', clock.now() + 5000), true)
    clock.advance(1499)
    assert.equal(await replay.sweep(), 0, 'a is kept until exp + keepMs')
    assert.equal(await replay.add('a', clock.now() - 499), false, 'still a replay inside the keep window')
    clock.advance(1)
    assert.equal(await replay.sweep(), 1)
    assert.equal(await replay.has('a'), false)
    assert.equal(await replay.has('b'), true)
    clock.advance(4000)
    assert.equal(await replay.sweep(), 1)
    assert.equal(await replay.size(), 0)
    await store.close()
  } finally { await cleanup() }
})

test('the verifier checks the clock window and expiry against its clock, at the exact edges', async () => {
  const clock = new FakeClock()
  const verifier = new EnvelopeVerifier(registry, undefined, { clock, clockSkewMs: 60_000 })
  const signedAt = clock.now()
  const env = signEnvelope(alice, registry, 'Decline.v1', decline(), { now: signedAt, ttlMs: 120_000 })
  // ahead of the local clock: accepted up to exactly the skew window
  const early = new FakeClock(signedAt - 60_000)
  await new EnvelopeVerifier(registry, undefined, { clock: early }).verify(env)
  await assert.rejects(new EnvelopeVerifier(registry, undefined, { clock: new FakeClock(signedAt - 60_001) }).verify(env), { name: 'ClockSkewError' })
  // behind: accepted until ts + skew, then ClockSkewError even though exp is later
  clock.advance(60_000)
  await verifier.verify(env)
  clock.advance(1)
  await assert.rejects(verifier.verify(env), { name: 'ClockSkewError' })
  // a short-lived envelope expires at exp exactly (exp <= now)
  const short = signEnvelope(alice, registry, 'Decline.v1', decline(), { now: clock.now(), ttlMs: 1000 })
  clock.advance(999)
  await verifier.verify(short)
  clock.advance(1)
  await assert.rejects(verifier.verify(short), { name: 'EnvelopeExpiredError' })
})

after(() => {})

test('a signature re-encoded in another base64url form is refused (it would get a new id past the replay store)', async () => {
  const verifier = new EnvelopeVerifier(registry, undefined)
  const env = signEnvelope(alice, registry, 'Decline.v1', decline())
  await verifier.verify(env)
  // the 86th character carries 2 spare bits: flipping them decodes to the same 64 bytes
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const last = alphabet.indexOf(env.sig.at(-1)!)
  const variants = [1, 2, 3].map(bits => env.sig.slice(0, -1) + alphabet[(last & ~3) | ((last & 3) ^ bits)])
  for (const sig of variants) {
    assert.deepEqual(fromBase64url(sig), fromBase64url(env.sig), 'same signature bytes')
    await assert.rejects(verifier.verify({ ...env, sig }), { name: 'BadSignatureError', message: /canonical base64url/ })
  }
  await assert.rejects(verifier.verify({ ...env, sig: toBase64url(fromBase64url(env.sig).subarray(0, 63)) }), { name: 'MalformedEnvelopeError' })
})

test('an envelope that claims to live longer than the node accepts is refused', async () => {
  const verifier = new EnvelopeVerifier(registry, undefined, { maxLifetimeMs: 60_000 })
  await verifier.verify(signEnvelope(alice, registry, 'Decline.v1', decline(), { ttlMs: 60_000 }))
  await assert.rejects(verifier.verify(signEnvelope(alice, registry, 'Decline.v1', decline(), { ttlMs: 60_001 })), { name: 'EnvelopeLifetimeError' })
  const defaults = new EnvelopeVerifier(registry, undefined)
  await assert.rejects(defaults.verify(signEnvelope(alice, registry, 'Decline.v1', decline(), { ttlMs: 1e15 })), { name: 'EnvelopeLifetimeError', message: /the limit is 86400000 ms/ })
})

test('the signed bytes cut out of the signed form equal the encoded unsigned envelope (with and without to/trace, large ts, a body with its own sig key)', () => {
  const cases: Array<Envelope<any>> = [
    signEnvelope(alice, registry, 'Decline.v1', decline()),
    signEnvelope(alice, registry, 'Decline.v1', decline(), { to: mallory.id, trace: 'trace-1' }),
    signEnvelope(alice, registry, 'Decline.v1', decline(), { now: 2 ** 52, ttlMs: 1 }),
    signEnvelope(alice, registry, 'Decline.v1', decline(), { now: 0 }),
    { ...signEnvelope(alice, registry, 'Decline.v1', decline()), body: { sig: 'inner', exp: 1 } }
  ]
  for (const env of cases) {
    assert.deepEqual(unsignedFromSigned(encodeCanonical(env)), unsignedBytes(env))
  }
})

test('bytes that are not an envelope-shaped map give no cut, so the verifier encodes instead', () => {
  assert.equal(unsignedFromSigned(encodeCanonical([1, 2])), undefined)
  assert.equal(unsignedFromSigned(encodeCanonical({ a: { nested: 1 }, sig: 'x' })), undefined)
  assert.equal(unsignedFromSigned(encodeCanonical({ b: 1 })), undefined)
  assert.equal(unsignedFromSigned(new Uint8Array([0xa2, 0x61])), undefined)
})

test('every signed envelope gets its own 12-byte nonce, also across refills of the nonce pool', () => {
  const seen = new Set<string>()
  for (let i = 0; i < 1500; i++) {
    const env = signEnvelope(alice, registry, 'Decline.v1', decline())
    assert.equal(fromBase64url(env.nonce).byteLength, 12)
    assert.equal(toBase64url(fromBase64url(env.nonce)), env.nonce, 'canonical base64url')
    seen.add(env.nonce)
  }
  assert.equal(seen.size, 1500)
})

test('one encoding pass gives the signed form and the signed bytes the verifier checks (with and without to/trace, a body with its own sig key)', () => {
  const cases: Array<Envelope<any>> = [
    signEnvelope(alice, registry, 'Decline.v1', decline()),
    signEnvelope(alice, registry, 'Decline.v1', decline(), { to: mallory.id, trace: 'trace-1' }),
    signEnvelope(alice, registry, 'Decline.v1', decline(), { now: 2 ** 52, ttlMs: 1 }),
    { ...signEnvelope(alice, registry, 'Decline.v1', decline()), body: { sig: 'inner', exp: 1 } }
  ]
  for (const env of cases) {
    const checked = withPlainCborForms(env, 'sig', ENVELOPE_DOMAIN, (full, without) => {
      assert.deepEqual(full, encodeCanonical(env))
      assert.deepEqual(without, unsignedBytes(env))
      return true
    })
    assert.equal(checked, true)
    assert.equal(envelopeId(env), envelopeId(JSON.parse(JSON.stringify(env))))
  }
})

test('signEnvelope keeps the member order and leaves out undefined options', () => {
  const plain = signEnvelope(alice, registry, 'Decline.v1', { ...decline(), message: undefined })
  assert.deepEqual(Object.keys(plain), ['v', 'type', 'schema', 'from', 'ts', 'exp', 'nonce', 'body', 'sig'])
  assert.deepEqual(Object.keys(plain.body), ['cfp', 'run', 'step', 'reason'])
  const full = signEnvelope(alice, registry, 'Decline.v1', decline(), { to: mallory.id, trace: 't' })
  assert.deepEqual(Object.keys(full), ['v', 'type', 'schema', 'from', 'to', 'ts', 'exp', 'nonce', 'trace', 'body', 'sig'])
  const body = decline()
  const env = signEnvelope(alice, registry, 'Decline.v1', body)
  body.reason = 'changed'
  assert.equal(env.body.reason, 'busy', 'the envelope holds its own copy of the body')
})

test('isCanonicalSignature answers exactly what decoding and encoding again would (64 bytes, one text form)', () => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const reference = (text: string): boolean => {
    try {
      const bytes = fromBase64url(text)
      return bytes.byteLength === 64 && toBase64url(bytes) === text
    } catch {
      return false
    }
  }
  const texts: string[] = []
  for (let i = 0; i < 200; i++) {
    const sig = toBase64url(randomBytes(64))
    texts.push(sig)
    // every last character: only those with the 4 spare bits zero are canonical
    texts.push(sig.slice(0, -1) + alphabet[i % 64])
    texts.push(sig.slice(0, 85 - (i % 3)), sig + alphabet[i % 64], sig + '=', sig.slice(0, 40) + '+' + sig.slice(41), sig.slice(0, 40) + 'é' + sig.slice(41))
  }
  texts.push('', 'A'.repeat(86), '_'.repeat(86), 'A'.repeat(84) + '==')
  for (const text of texts) assert.equal(isCanonicalSignature(text), reference(text), text)
  assert.equal(isCanonicalSignature(42 as unknown as string), false)
})

test('an envelope carries the signature its identity\'s own sign makes', () => {
  const custom = { ...alice, sign: () => new Uint8Array(64).fill(7) }
  assert.equal(signEnvelope(custom, registry, 'Decline.v1', decline()).sig, toBase64url(new Uint8Array(64).fill(7)))
})

test('deferred records: a replay is refused at once, after a clean restart, and after a crash that lost the record (the lease)', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    const clock = new FakeClock(Date.now())
    let store = await Store.open(dir)
    let replay = new ReplayStore(store, 60_000, clock)
    let verifier = new EnvelopeVerifier(registry, replay, { clock })
    const sign = (): Envelope => signEnvelope(alice, registry, 'Decline.v1', decline(), { now: clock.now() })
    // the first deferred add is awaited and writes the lease; once it is on disk, adds answer before their write
    const first = sign()
    await verifier.verify(first, { deferRecord: true })
    await replay.flush()
    const written = sign()
    await verifier.verify(written, { deferRecord: true })
    assert.equal(replay.stats.deferred, 1)
    await assert.rejects(verifier.verify(written, { deferRecord: true }), { name: 'ReplayError' })
    await replay.flush()
    // a crash: the next record's write never lands
    const write = store.write.bind(store)
    store.write = async () => await new Promise<void>(() => {})
    const lostRecord = sign()
    await verifier.verify(lostRecord, { deferRecord: true })
    assert.equal(replay.stats.deferred, 2)
    await store.db.close()
    store.write = write
    store = await Store.open(dir)
    replay = new ReplayStore(store, 60_000, clock)
    verifier = new EnvelopeVerifier(registry, replay, { clock })
    assert.equal(await store.json<number>('seen').get(envelopeId(lostRecord)), undefined, 'its record was lost')
    await assert.rejects(verifier.verify(lostRecord), { name: 'ReplayError', message: /unclean stop/ })
    await assert.rejects(verifier.verify(written), { name: 'ReplayError' })
    await assert.rejects(verifier.verify(first), { name: 'ReplayError' })
    // envelopes signed after the lease are taken
    clock.advance(10_001)
    await verifier.verify(sign(), { deferRecord: true })
    // a clean close while the crashed run's lease still refuses keeps it
    await store.close()
    store = await Store.open(dir)
    replay = new ReplayStore(store, 60_000, clock)
    verifier = new EnvelopeVerifier(registry, replay, { clock })
    await assert.rejects(verifier.verify(lostRecord), { name: 'ReplayError' })
    // past the keep window a clean close clears it: an envelope from before it is no longer refused by the store
    // (the verifier's clock window refuses it by then)
    clock.advance(60_001)
    await store.close()
    store = await Store.open(dir)
    replay = new ReplayStore(store, 60_000, clock)
    await replay.flush()
    assert.equal(replay.refusedBefore, 0)
    assert.equal(await replay.add('old-but-new', clock.now() + 1_000, clock.now() - 70_000), true)
    await store.close()
  } finally { await cleanup() }
})

test('deferred records: a write that fails keeps the id refused, and the lease, across a clean close', async () => {
  const { dir, cleanup } = await tempDir()
  try {
    const clock = new FakeClock(Date.now())
    let store = await Store.open(dir)
    let replay = new ReplayStore(store, 60_000, clock, 1)
    const ts = clock.now()
    assert.equal(await replay.add('a', ts + 5_000, ts, { defer: true }), true)
    await replay.flush()
    const write = store.write.bind(store)
    let fail = true
    store.write = async (ops) => { if (fail && ops.length === 2) throw new Error('disk full'); await write(ops) }
    assert.equal(await replay.add('b', ts + 5_000, ts, { defer: true }), true, 'accepted before its write')
    await replay.flush()
    assert.equal(replay.failedWrites, 1)
    fail = false
    // dropped from memory by the next ids (maxRemembered 1), still refused
    assert.equal(await replay.add('c', ts + 5_000, ts, { defer: true }), true)
    assert.equal(await replay.add('b', ts + 5_000, ts, { defer: true }), false)
    assert.equal(await replay.has('b'), true)
    await store.close()
    store = await Store.open(dir)
    replay = new ReplayStore(store, 60_000, clock)
    assert.equal(await replay.add('b', ts + 5_000, ts), false, 'the lease refuses what the failed write did not record')
    await store.close()
  } finally { await cleanup() }
})
