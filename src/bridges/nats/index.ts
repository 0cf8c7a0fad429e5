/**
 * NATS transport binding for envelopes: gossip topics (catalog ads, open
 * calls) on `<prefix>.catalog` / `<prefix>.cfp.<name>` and request-reply of
 * the RPC protocols (negotiate, exec, fetch, caps) on
 * `<prefix>.<peerId>.<name>`, carrying the same frames and envelopes as
 * libp2p. Wire details: protocols/PROTOCOLS.md § NATS; guide: docs/BRIDGES.md.
 *
 * @example
 * const node = await PlNode.create({ dataDir, services: { nats: nats({ url: 'nats://127.0.0.1:4222' }), discovery: discovery(), negotiation: negotiation({ runStep }) } })
 * await node.start()
 * node.service<NatsBridge>('nats').status() // { connected: true, ... }
 */
export { nats, NatsBridge, type NatsInit, type NatsComponents } from './service.js'
export { NatsCalls } from './calls.js'
export { signCall, verifyCall, callSigningBytes } from './caller.js'
export { callSubject, topicSubject, checkPrefix } from './subjects.js'
export { InvalidNatsCallError, UnknownNatsProtocolError, NatsBusyError } from './errors.js'
export * from './constants.js'
