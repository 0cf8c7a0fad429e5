/**
 * The A2A bridge's pure parts: the `services.a2a` config section, reading
 * messages (both wire shapes), and result parts → step outputs.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ServerCallContext } from '@a2a-js/sdk/server'
import { TaskState, type Task } from '@a2a-js/sdk'
import { a2aInitFromConfig, BoundedTaskStore, capabilityNameOf, outputOfParts, readMessage, splitCardUrl } from '../../src/bridges/a2a/index.js'
import { daemonServices } from '../../src/services.js'
import { data, text } from './a2a-helpers.js'

test('services.a2a is checked key by key; a typo or a bad agent entry is an A2aConfigError', () => {
  assert.deepEqual(a2aInitFromConfig(undefined), {})
  const ok = a2aInitFromConfig({ skills: 'local', defaultCapability: 'Summarize', agents: [{ card: 'https://a.example/.well-known/agent-card.json', skill: 's', price: 1 }], tokens: { 'https://a.example': 't' } })
  assert.equal(ok.agents?.[0].skill, 's')
  for (const bad of [[], 'x', { defaultCapabilty: 'X' }, { skills: 'some' }, { skills: [1] }, { maxPartBytes: 0 }, { agents: {} }, { agents: [{ skill: 's' }] },
    { agents: [{ card: 'ftp://a/card.json' }] }, { agents: [{ card: 'https://a/card.json', extra: 1 }] }, { agents: [{ card: 'https://a/card.json', price: -1 }] }, { tokens: { a: 1 } }]) {
    assert.throws(() => a2aInitFromConfig(bad), (err: Error) => ['A2aConfigError', 'A2aAgentUnavailableError'].includes(err.name), JSON.stringify(bad))
  }
  assert.throws(() => daemonServices({ dataDir: '', listen: [], bootstrap: [], controlPort: 0, logLevel: 'silent', localSwarm: false, gossip: false, api: {}, services: { a2a: { nope: 1 } } }), { name: 'A2aConfigError' })
})

test('messages are read in both wire shapes: v1.0 ({data}, {text}) and v0.3 ({kind})', () => {
  const opts = { maxPartBytes: 1024, defaultCapability: 'Upper' }
  const v1 = readMessage({ parts: [{ data: { capability: 'Upper', input: { text: 'a' } } }] }, opts)
  assert.equal(v1.kind, 'run')
  assert.deepEqual(v1.kind === 'run' ? v1.input : null, { text: 'a' })
  const legacy = readMessage({ kind: 'message', parts: [{ kind: 'data', data: { plan: 'goal: G\nplan:\n  - step: Upper()\n' } }] }, opts)
  assert.equal(legacy.kind === 'run' ? legacy.what : '', 'plan G')
  const t = readMessage({ parts: [{ kind: 'text', text: 'hello' }] }, opts)
  assert.deepEqual(t.kind === 'run' ? t.input : null, { text: 'hello' })
  assert.deepEqual(readMessage({ taskId: 't1', parts: [{ text: ' yes ' }] }, opts), { kind: 'answer', choice: 'yes' })
  assert.deepEqual(readMessage({ taskId: 't1', parts: [{ data: { choice: 'no' } }] }, opts), { kind: 'answer', choice: 'no' })
  assert.throws(() => readMessage({ parts: [{ kind: 'file', file: { uri: 'x' } }] }, opts), { name: 'A2aUnsupportedPartError' })
  assert.throws(() => readMessage({ parts: [{ raw: 'AAAA' }] }, opts), { name: 'A2aUnsupportedPartError' })
  assert.throws(() => readMessage({ parts: [{ text: 'x'.repeat(2000) }] }, opts), { name: 'A2aPartTooLargeError' })
  assert.throws(() => readMessage({ parts: [{ text: 'hi' }] }, { maxPartBytes: 1024 }), { name: 'A2aInvalidMessageError' })
  assert.throws(() => readMessage({ parts: [{ data: { capability: 'A', plan: 'x' } }] }, opts), { name: 'A2aInvalidMessageError' })
  assert.throws(() => readMessage({ taskId: 't1', parts: [{ data: { choice: 3 } }] }, opts), { name: 'A2aInvalidMessageError' })
  assert.throws(() => readMessage(null, opts), { name: 'A2aInvalidMessageError' })
})

test('a result\'s parts become the step output; card URLs and skill ids are checked and named', () => {
  assert.deepEqual(outputOfParts([data({ a: 1 })]), { a: 1 })
  assert.deepEqual(outputOfParts([text('hi')]), { text: 'hi' })
  assert.deepEqual(outputOfParts([text('hi'), data([1])]), { parts: [{ text: 'hi' }, { data: [1] }] })
  assert.deepEqual(splitCardUrl('http://h:1/.well-known/agent-card.json'), { base: 'http://h:1', path: '.well-known/agent-card.json' })
  assert.throws(() => splitCardUrl('file:///etc/passwd'), { name: 'A2aAgentUnavailableError' })
  assert.throws(() => splitCardUrl('not a url'), { name: 'A2aAgentUnavailableError' })
  assert.equal(capabilityNameOf('summarize-v2.fast'), 'summarize_v2_fast')
})

test('the task store keeps two generations of maxTasks tasks, scoped by key; a task read from the old one moves to the new one', async () => {
  const store = new BoundedTaskStore(2)
  const alice = new ServerCallContext({ user: { isAuthenticated: true, userName: 'api-key:alice' } })
  const bob = new ServerCallContext({ user: { isAuthenticated: true, userName: 'api-key:bob' } })
  const task = (id: string): Task => ({ id, contextId: 'c', status: { state: TaskState.TASK_STATE_WORKING, message: undefined, timestamp: undefined }, artifacts: [], history: [], metadata: {} })
  await store.save(task('t1'), alice)
  await store.save(task('t2'), alice)
  assert.equal(await store.load('t1', bob), undefined, 'another key does not see it')
  await store.save(task('t3'), alice) // t1, t2 become the old generation
  assert.equal(store.size, 1)
  assert.equal((await store.load('t1', alice))?.id, 't1', 'readable from the old generation, and moved')
  await store.save(task('t4'), alice) // t3, t1 become old; t2 is forgotten
  assert.equal(await store.load('t2', alice), undefined)
  assert.equal((await store.load('t1', alice))?.id, 't1')
  assert.equal((await store.load('t3', alice))?.id, 't3')
  assert.throws(() => new BoundedTaskStore(0), TypeError)
})
