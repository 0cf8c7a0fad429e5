/**
 * Hostile messages on NATS: garbage, oversized and forged frames, replayed
 * envelopes and calls, and bad gossip are refused with typed errors in the
 * response status, and counted under the same `pl_rejected_total` labels as
 * the same bytes sent over a libp2p stream; calls without a valid caller
 * proof are refused and counted under `nats`. The node keeps serving.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connect, createInbox, type NatsConnection } from '@nats-io/transport-node'
import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { waitFor } from '../helpers/mesh.js'
import type { PlNode } from '../../src/node.js'
import { createIdentity, type Identity, signEnvelope, type Envelope } from '../../src/core/index.js'
import { encodeCanonical } from '../../src/core/encoding.js'
import { SchemaRegistry } from '../../src/spec/index.js'
import { encodeFrame, encodeVarint, FrameDecoder, type RpcResponse } from '../../src/net/index.js'
import { signCall, callSubject } from '../../src/bridges/nats/index.js'
import { NEGOTIATE_PROTOCOL } from '../../src/negotiation/constants.js'
import type { CallForProposal } from '../../src/negotiation/types.js'
import { startNode, bridge, natsFixture, natsSkip, stopAll, type NatsServer } from '../helpers/nats.js'

const skip = natsSkip

let server: NatsServer
let target: PlNode
let peer: PlNode
let nc: NatsConnection
let hostile: Identity
let registry: SchemaRegistry
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  if (skip !== false) return
  server = (await natsFixture(cleanups)).server
  // the target is on libp2p and NATS: every bad input goes to it both ways
  target = await startNode({ nats: { url: server.url } }, cleanups)
  peer = await startNode({ bootstrap: target.addrs() }, cleanups)
  await waitFor(() => bridge(target).connected && peer.libp2p.getConnections(peerIdFromString(target.peerId)).length > 0, 30_000, 'target on NATS, peer connected over libp2p')
  nc = await connect({ servers: server.url })
  cleanups.push(async () => { await nc.close() })
  hostile = await createIdentity()
  registry = await SchemaRegistry.load()
})

after(async () => { await stopAll(cleanups) })

async function readFinal (chunks: AsyncIterable<Uint8Array>): Promise<RpcResponse> {
  const d = new FrameDecoder(1 << 20)
  for await (const chunk of chunks) {
    d.push(chunk)
    for (let f = d.next(); f != null; f = d.next()) if ((f.value as RpcResponse).status !== 'PROGRESS') return f.value as RpcResponse
  }
  throw new Error('no final frame')
}

/** Sends raw bytes as a negotiate call over NATS (signed by `who` unless `proof` is false) and reads the final frame. */
async function natsCall (bytes: Uint8Array, options: { who?: Identity, headers?: ReturnType<typeof signCall> | null } = {}): Promise<RpcResponse> {
  const subject = callSubject('pl.v1', target.peerId, NEGOTIATE_PROTOCOL)
  const inbox = createInbox()
  const sub = nc.subscribe(inbox, { max: 16 })
  const headers = options.headers === null ? undefined : options.headers ?? signCall(options.who ?? hostile, subject, bytes)
  nc.publish(subject, bytes, { reply: inbox, ...(headers != null ? { headers } : {}) })
  const chunks = (async function * () { for await (const m of sub) yield m.data })()
  try {
    return await readFinal(chunks)
  } finally {
    sub.unsubscribe()
  }
}

/** Sends the same raw bytes as a negotiate call over a libp2p stream from `peer`. */
async function libp2pCall (bytes: Uint8Array): Promise<RpcResponse> {
  const stream: Stream = await peer.libp2p.dialProtocol(target.libp2p.peerId, NEGOTIATE_PROTOCOL)
  stream.send(bytes)
  await stream.close()
  return await readFinal(stream as unknown as AsyncIterable<Uint8Array>)
}

async function rejected (): Promise<Record<string, number>> {
  return await target.components.metrics.rejections()
}

function cfp (from: Identity): Envelope<CallForProposal> {
  const now = Date.now()
  return signEnvelope(from, registry, 'CallForProposal.v1', {
    run: 'run-bad', step: 's', capability: { name: 'Nothing' }, input: 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', input_size: 2, deadline: now + 30_000, reply_by: now + 5_000
  }, { to: target.peerId })
}

/** Runs `send` over libp2p and over NATS and checks both answer `name` and add one to the same counter. */
async function sameAsLibp2p (label: string, name: string, libp2pBytes: Uint8Array, natsBytes: Uint8Array = libp2pBytes): Promise<void> {
  const before = (await rejected())[label] ?? 0
  const viaLibp2p = await libp2pCall(libp2pBytes)
  assert.equal(viaLibp2p.status, 'REJECTED')
  assert.equal(viaLibp2p.error?.name, name)
  const mid = (await rejected())[label] ?? 0
  assert.equal(mid, before + 1, `libp2p counts ${label}`)
  const viaNats = await natsCall(natsBytes)
  assert.equal(viaNats.status, 'REJECTED')
  assert.equal(viaNats.error?.name, name, 'the same typed error over NATS')
  assert.equal((await rejected())[label] ?? 0, mid + 1, `NATS counts ${label} the same way`)
}

test('garbage frames are refused and counted as on libp2p', { skip, timeout: 60_000 }, async () => {
  const garbage = Uint8Array.from([...encodeVarint(4), 0xff, 0xff, 0xff, 0xff])
  await sameAsLibp2p('rpc/MalformedFrameError', 'MalformedFrameError', garbage)
})

test('oversized frames are refused before decoding and counted as on libp2p', { skip, timeout: 60_000 }, async () => {
  const big = encodeFrame({ envelope: { pad: new Uint8Array(300 * 1024) } }, 1 << 20)
  await sameAsLibp2p('rpc/FrameTooLargeError', 'FrameTooLargeError', big)
})

test('a forged envelope is refused and counted as on libp2p', { skip, timeout: 60_000 }, async () => {
  const forge = (): Uint8Array => {
    const env = cfp(hostile)
    return encodeFrame({ envelope: { ...env, body: { ...env.body, step: 'tampered' } } }, 1 << 20)
  }
  // over libp2p the stream's peer is `peer`, so the envelope is signed by it there; on NATS by the caller
  const before = (await rejected())['envelope/BadSignatureError'] ?? 0
  const env = signEnvelope(peer.components.identity, registry, 'CallForProposal.v1', cfp(hostile).body, { to: target.peerId })
  const viaLibp2p = await libp2pCall(encodeFrame({ envelope: { ...env, body: { ...env.body, step: 'tampered' } } }, 1 << 20))
  assert.equal(viaLibp2p.error?.name, 'BadSignatureError')
  const viaNats = await natsCall(forge())
  assert.equal(viaNats.status, 'REJECTED')
  assert.equal(viaNats.error?.name, 'BadSignatureError')
  const after = await rejected()
  assert.equal(after['envelope/BadSignatureError'], before + 2, 'both counted by the envelope verifier')
  assert.ok((after[`${NEGOTIATE_PROTOCOL}/BadSignatureError`] ?? 0) >= 2, 'and by the protocol handler')
})

test('an envelope signed by someone other than the caller is refused (WrongSenderError)', { skip, timeout: 60_000 }, async () => {
  const other = await createIdentity()
  const res = await natsCall(encodeFrame({ envelope: cfp(other) }, 1 << 20))
  assert.equal(res.error?.name, 'WrongSenderError')
})

test('a replayed envelope is refused the second time and counted as ReplayError', { skip, timeout: 60_000 }, async () => {
  const bytes = encodeFrame({ envelope: cfp(hostile) }, 1 << 20)
  const first = await natsCall(bytes)
  assert.equal(first.status, 'OK', JSON.stringify(first.error))
  const before = (await rejected())['envelope/ReplayError'] ?? 0
  const second = await natsCall(bytes)
  assert.equal(second.status, 'REJECTED')
  assert.equal(second.error?.name, 'ReplayError')
  assert.equal((await rejected())['envelope/ReplayError'], before + 1)
})

test('calls without a caller proof, with a forged one, or replayed whole are refused and counted under nats', { skip, timeout: 60_000 }, async () => {
  const bytes = encodeFrame({ envelope: cfp(hostile) }, 1 << 20)
  const noProof = await natsCall(bytes, { headers: null })
  assert.equal(noProof.error?.name, 'InvalidNatsCallError')
  const subject = callSubject('pl.v1', target.peerId, NEGOTIATE_PROTOCOL)
  const forged = signCall(hostile, subject, bytes)
  forged.set('Pl-From', target.peerId) // claims to be someone else
  assert.equal((await natsCall(bytes, { headers: forged })).error?.name, 'BadSignatureError')
  const wrongBody = signCall(hostile, subject, encodeCanonical({ other: true }))
  assert.equal((await natsCall(bytes, { headers: wrongBody })).error?.name, 'BadSignatureError', 'the proof covers the payload')
  const proof = signCall(hostile, subject, bytes)
  assert.equal((await natsCall(bytes, { headers: proof })).status, 'OK')
  assert.equal((await natsCall(bytes, { headers: proof })).error?.name, 'ReplayError', 'the same call sent again')
  const counts = await rejected()
  assert.ok((counts['nats/InvalidNatsCallError'] ?? 0) >= 1, JSON.stringify(counts))
  assert.ok((counts['nats/BadSignatureError'] ?? 0) >= 2, JSON.stringify(counts))
  assert.ok((counts['nats/ReplayError'] ?? 0) >= 1, JSON.stringify(counts))
})

test('garbage, oversized and forged gossip on pl.v1.catalog is refused and counted like gossipsub messages', { skip, timeout: 60_000 }, async () => {
  await waitFor(() => bridge(target).subscribed().includes('pl.v1.catalog'), 30_000, 'target following pl.v1.catalog')
  const before = await rejected()
  nc.publish('pl.v1.catalog', Uint8Array.from([0xff, 0x00, 0x13]))
  nc.publish('pl.v1.catalog', new Uint8Array(300 * 1024))
  const ad = signEnvelope(hostile, registry, 'AdvertiseCapability.v1', { capability: 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', descriptor: { name: 'X', version: '1.0.0', provider: hostile.id, io: { input: {}, output: {} }, limits: {} }, addrs: [], ttl: 60_000 })
  nc.publish('pl.v1.catalog', encodeCanonical({ ...ad, nonce: 'AAAAAAAAAAAAAAAA' }))
  await nc.flush()
  const grew = (k: string, c: Record<string, number>): boolean => (c[k] ?? 0) > (before[k] ?? 0)
  await waitFor(async () => {
    const c = await rejected()
    return grew('gossip/InvalidEncodingError', c) && grew('gossip/GossipMessageTooLargeError', c) && grew('gossip/BadSignatureError', c)
  }, 30_000, 'the three bad gossip messages counted')
})

test('after all that the node still serves calls over NATS and libp2p', { skip, timeout: 60_000 }, async () => {
  const viaNats = await natsCall(encodeFrame({ envelope: cfp(hostile) }, 1 << 20))
  assert.equal(viaNats.status, 'OK')
  const body = viaNats.body as { envelope: Envelope<any> }
  assert.equal(body.envelope.type, 'Decline.v1', 'it declines a capability it does not have, by a signed envelope')
  assert.equal(body.envelope.from, target.peerId)
  const env = signEnvelope(peer.components.identity, registry, 'CallForProposal.v1', cfp(hostile).body, { to: target.peerId })
  assert.equal((await libp2pCall(encodeFrame({ envelope: env }, 1 << 20))).status, 'OK')
})
