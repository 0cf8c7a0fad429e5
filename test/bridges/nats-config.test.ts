/** The `services.nats` config section and the subject mapping (pure logic). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { daemonServices } from '../../src/services.js'
import type { DaemonConfig } from '../../src/cli/index.js'
import { callSubject, topicSubject, checkPrefix } from '../../src/bridges/nats/index.js'

const config = (services: Record<string, unknown>): DaemonConfig => ({ dataDir: '/tmp/x', listen: [], bootstrap: [], controlPort: 0, logLevel: 'info', localSwarm: false, gossip: true, services })

test('a services.nats section adds the NATS binding, first in start order', () => {
  const services = daemonServices(config({ nats: { url: 'nats://127.0.0.1:4222', prefix: 'acme.pl' } }))
  assert.equal(Object.keys(services)[0], 'nats')
  assert.equal(daemonServices(config({})).nats, undefined, 'no section, no binding')
})

test('refuses a services.nats section without url, with an unknown key, or with a bad prefix (ConfigError)', () => {
  const refused = (nats: unknown, re: RegExp): void => {
    assert.throws(() => daemonServices(config({ nats })), (err: Error) => err.name === 'ConfigError' && re.test(err.message))
  }
  refused({}, /url is required/)
  refused({ url: 'nats://x', servers: 'y' }, /unknown key "servers"/)
  refused({ url: 'nats://x', prefix: 'pl.*' }, /prefix/)
  refused({ url: 'nats://x', prefix: 'pl..v1' }, /prefix/)
  refused('nats://x', /must be a mapping/)
})

test('gossip topics and protocols map to subjects; names without a plain subject stay off NATS', () => {
  assert.equal(topicSubject('pl.v1', 'pl/v1/catalog'), 'pl.v1.catalog')
  assert.equal(topicSubject('pl.v1', 'pl/v1/cfp/Upper'), 'pl.v1.cfp.Upper')
  assert.equal(topicSubject('x', 'pl/v1/cfp/text.upper-v2'), 'x.cfp.text.upper-v2')
  assert.equal(topicSubject('pl.v1', 'pl/v1/cfp/a..b'), undefined)
  assert.equal(topicSubject('pl.v1', 'pl/v1/cfp/a.'), undefined)
  assert.equal(topicSubject('pl.v1', 'other/topic'), undefined)
  assert.equal(callSubject('pl.v1', '12D3KooWPeer', '/pl/negotiate/1.0.0'), 'pl.v1.12D3KooWPeer.negotiate')
  assert.throws(() => callSubject('pl.v1', 'p', '/ipfs/id/1.0.0'), TypeError)
  assert.equal(checkPrefix('a-b.c_d'), 'a-b.c_d')
})
