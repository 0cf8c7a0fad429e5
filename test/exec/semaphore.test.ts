/**
 * The executor's slot semaphore: FIFO grants, waiters that give up through
 * their signal, and one abort listener per signal however many wait on it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { Semaphore } from '../../src/exec/index.js'

test('waiters are granted in order; many waiting on one signal add one abort listener, removed once none waits', async () => {
  const s = new Semaphore(1)
  const ac = new AbortController()
  const first = await s.acquire(ac.signal)
  const order: number[] = []
  const waits = Array.from({ length: 50 }, async (_, i) => { const release = await s.acquire(ac.signal); order.push(i); release() })
  assert.equal(s.waiting, 50)
  assert.equal(getEventListeners(ac.signal, 'abort').length, 1)
  first()
  await Promise.all(waits)
  assert.deepEqual(order, Array.from({ length: 50 }, (_, i) => i))
  assert.equal(s.waiting, 0)
  assert.equal(s.running, 0)
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0)
})

test('an aborted signal rejects its waiters with its reason; the waiters of other signals keep their place', async () => {
  const s = new Semaphore(1)
  const a = new AbortController()
  const b = new AbortController()
  const held = await s.acquire()
  const ofA = [s.acquire(a.signal), s.acquire(a.signal)]
  const ofB = s.acquire(b.signal)
  const none = s.acquire()
  assert.equal(s.waiting, 4)
  const reason = new Error('run cancelled')
  a.abort(reason)
  for (const p of ofA) await assert.rejects(p, (err) => err === reason)
  assert.equal(s.waiting, 2)
  assert.equal(getEventListeners(a.signal, 'abort').length, 0)
  held()
  const releaseB = await ofB
  assert.equal(getEventListeners(b.signal, 'abort').length, 0)
  releaseB()
  const releaseNone = await none
  releaseNone()
  releaseNone() // a second release does nothing
  assert.equal(s.running, 0)
  await assert.rejects(s.acquire(a.signal), (err) => err === reason)
})
