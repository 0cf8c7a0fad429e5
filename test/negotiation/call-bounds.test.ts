/**
 * Bounds on what a call for proposals may make a provider hold: the schema
 * bounds `constraints`, the requester sends only scalar constraints, and a
 * provider answers open calls only for a short `reply_by` and only so many
 * at once.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SchemaRegistry } from '../../src/spec/index.js'
import { silentLogger } from '../../src/core/logger.js'
import { cidStringOf } from '../../src/core/encoding.js'
import { cfpConstraints } from '../../src/negotiation/remote-runner.js'
import { OpenCallListener } from '../../src/negotiation/open-calls.js'
import { MAX_OPEN_CALL_ANSWERS } from '../../src/negotiation/constants.js'
import type { CallForProposal } from '../../src/negotiation/index.js'
import { FakeClock } from '../../src/core/clock.js'

const input = cidStringOf({ call: 1 })

function cfp (over: Partial<CallForProposal> = {}, now = FakeClock.DEFAULT_START): CallForProposal {
  return { run: 'r', step: 's', capability: { name: 'Echo' }, input, input_size: 10, deadline: now + 10_000, reply_by: now + 2_000, ...over }
}

test('the CallForProposal schema refuses constraints with too many entries, nested values or long strings', () => {
  const reg = SchemaRegistry.loadSync()
  reg.validate('CallForProposal.v1', cfp({ constraints: { max_price: 3, length: '<400w', strict: true } }))
  const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i]))
  assert.throws(() => reg.validate('CallForProposal.v1', cfp({ constraints: many })))
  assert.throws(() => reg.validate('CallForProposal.v1', { ...cfp(), constraints: { nested: { a: 'x'.repeat(1000) } } }))
  assert.throws(() => reg.validate('CallForProposal.v1', cfp({ constraints: { long: 'x'.repeat(257) } })))
})

test('the requester sends only short scalar constraints', () => {
  const sent = cfpConstraints({ max_price: 3, deadline_ms: 30_000, length: '<400w', nested: { a: 1 }, list: [1], long: 'x'.repeat(300), ['k'.repeat(65)]: 1 })
  assert.deepEqual(sent, { max_price: 3, deadline_ms: 30_000, length: '<400w' })
  assert.equal(Object.keys(cfpConstraints(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])))).length, 32)
  assert.deepEqual(cfpConstraints(undefined), {})
})

interface Captured { validate?: (v: any, source: string) => void | 'ignore', onMessage?: (v: any, source: string) => Promise<void> }

function listener (answer: () => Promise<undefined>, clock = new FakeClock()): { l: OpenCallListener, captured: Captured } {
  const captured: Captured = {}
  const gossip = { subscribe: (_t: string, h: any) => { captured.validate = h.validate; captured.onMessage = h.onMessage }, unsubscribe: () => {} }
  const l = new OpenCallListener({ gossip: gossip as any, rpc: {} as any, libp2p: {} as any, logger: silentLogger(), self: 'me', clock }, answer)
  l.sync(['Echo'])
  return { l, captured }
}

test('an open call collecting answers for more than a minute is ignored, not forwarded', () => {
  const { l, captured } = listener(async () => undefined)
  const env = (body: CallForProposal): any => ({ id: 'x', envelope: { from: 'them', body } })
  assert.equal(captured.validate?.(env(cfp()), 'p'), undefined)
  const now = FakeClock.DEFAULT_START
  assert.equal(captured.validate?.(env(cfp({ reply_by: now + 10 * 60_000, deadline: now + 20 * 60_000 })), 'p'), 'ignore')
  l.stop()
})

test('an open call is forwarded while its reply window is open, and ignored once the listener\'s clock passes reply_by', () => {
  const clock = new FakeClock()
  const { l, captured } = listener(async () => undefined, clock)
  const env = (body: CallForProposal): any => ({ id: 'x', envelope: { from: 'them', body } })
  const call = cfp({ reply_by: clock.now() + 2_000 })
  assert.equal(captured.validate?.(env(call), 'p'), undefined)
  clock.advance(1_999)
  assert.equal(captured.validate?.(env(call), 'p'), undefined)
  clock.advance(1)
  assert.equal(captured.validate?.(env(call), 'p'), 'ignore')
  l.stop()
})

test('a provider answers at most MAX_OPEN_CALL_ANSWERS open calls at once', async () => {
  const waiting: Array<() => void> = []
  let asked = 0
  const { l, captured } = listener(async () => { asked++; await new Promise<void>(resolve => waiting.push(resolve)); return undefined })
  const calls = Array.from({ length: MAX_OPEN_CALL_ANSWERS + 10 }, (_, i) => captured.onMessage!({ id: `c${i}`, envelope: { from: `peer${i}`, body: cfp() } }, 'p'))
  assert.equal(asked, MAX_OPEN_CALL_ANSWERS)
  for (const release of waiting) release()
  await Promise.all(calls)
  // room again once they finished
  const more = captured.onMessage?.({ id: 'later', envelope: { from: 'peerX', body: cfp() } }, 'p')
  assert.equal(asked, MAX_OPEN_CALL_ANSWERS + 1)
  for (const release of waiting) release()
  await more
  l.stop()
})
