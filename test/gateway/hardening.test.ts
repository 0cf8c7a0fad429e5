/**
 * Gateway hardening against a real node: the Host allow-list (DNS
 * rebinding) and the per-address budget of failed authentications (key
 * guessing, forged signatures), on an injected clock.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { FakeClock } from '../../src/core/clock.js'
import { request } from 'node:http'
import type { TestMesh } from '../helpers/mesh.js'
import { createIdentity, signEnvelope } from '../../src/core/index.js'
import { ENVELOPE_CONTENT_TYPE } from '../../src/gateway/index.js'
import { gw, startMesh } from './helpers.js'

let mesh: TestMesh
let base: string
const clock = new FakeClock(5_000_000)
let port: number

before(async () => {
  mesh = await startMesh(1, () => ({ allowedHosts: ['api.example:8080', 'LOCALHOST:1'], authFailures: { burst: 3, perSecond: 1 }, clock }))
  base = gw(mesh.nodes[0]).address as string
  port = Number(new URL(base).port)
})

after(async () => {
  await mesh?.stop()
})

interface Answer { status: number, body: any, retryAfter?: string }

/** A request with an explicit Host header (fetch does not let a caller set it). */
async function call (method: string, path: string, options: { host?: string, key?: string, headers?: Record<string, string>, body?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { host: options.host ?? 'api.example:8080', ...options.headers }
  if (options.key != null) headers.authorization = `Bearer ${options.key}`
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => { text += d.toString() })
      res.on('end', () => {
        const retry = res.headers['retry-after']
        resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text), ...(typeof retry === 'string' ? { retryAfter: retry } : {}) })
      })
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

async function getWithHost (path: string, host: string): Promise<Answer> {
  return await call('GET', path, { host })
}

test('api.allowedHosts: a Host off the list is refused with 403 (even on public routes); listed hosts pass, compared case-insensitively', async () => {
  const refused = await getWithHost('/health', `127.0.0.1:${port}`)
  assert.equal(refused.status, 403)
  assert.equal(refused.body.error.name, 'OriginNotAllowedError')
  assert.match(refused.body.error.message, /api\.allowedHosts/)
  assert.equal((await getWithHost('/health', 'rebound.attacker.example')).status, 403)
  assert.equal((await getWithHost('/health', 'api.example:8080')).status, 200)
  assert.equal((await getWithHost('/health', 'localhost:1')).status, 200)
})

test('failed authentications cost the client address; past the budget it is refused (429) before its credentials are looked at, and the clock forgives', async () => {
  const { key } = await gw(mesh.nodes[0]).keys.create({ name: 'good', scopes: ['read'] })
  // a valid key costs nothing
  for (let i = 0; i < 5; i++) assert.equal((await call('GET', '/runs', { key })).status, 200)
  // three failures of different kinds: guessed key, no credentials, a signature by an unregistered agent
  assert.equal((await call('GET', '/runs', { key: 'plk_guess' })).status, 401)
  assert.equal((await call('GET', '/runs')).status, 401)
  const stranger = await createIdentity()
  const forged = signEnvelope(stranger, mesh.nodes[0].components.registry, 'GatewayRequest.v1', { method: 'GET', path: '/runs' })
  const signed = await call('GET', '/runs', { headers: { authorization: `PL-Envelope ${Buffer.from(JSON.stringify(forged)).toString('base64url')}` } })
  assert.equal(signed.status, 401, JSON.stringify(signed.body))
  // the budget is spent: even the right key is refused now, with Retry-After
  const blocked = await call('GET', '/runs', { key })
  assert.equal(blocked.status, 429)
  assert.equal(blocked.body.error.name, 'RateLimitedError')
  assert.match(blocked.body.error.message, /too many failed authentications/)
  assert.equal(blocked.retryAfter, '1')
  // a signed body is refused the same way
  const body = await call('POST', '/runs', { body: JSON.stringify(forged), headers: { 'content-type': ENVELOPE_CONTENT_TYPE } })
  assert.equal(body.status, 429)
  // public routes stay open
  assert.equal((await call('GET', '/health')).status, 200)
  clock.advance(1_000)
  assert.equal((await call('GET', '/runs', { key })).status, 200, 'one failure forgiven per second')
  assert.equal((await call('GET', '/runs', { key: 'plk_guess-again' })).status, 401)
  assert.equal((await call('GET', '/runs', { key })).status, 429)
  clock.advance(60_000)
})
