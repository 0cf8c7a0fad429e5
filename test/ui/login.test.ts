/**
 * Console login on fake time: one-time tokens (single use, 60 s, bounded
 * count) and the session keys they become (refused and removed once
 * expired). Real LevelDB for the keys.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FakeClock } from '../../src/core/clock.js'
import { LoginTokens, KeyStore, consoleUrl } from '../../src/gateway/index.js'
import { MAX_LOGIN_TOKENS } from '../../src/gateway/constants.js'
import { Store } from '../../src/store/index.js'
import { tempDir } from '../helpers/tmp.js'

test('a login token is redeemed once, within its lifetime, for the scopes it was issued with', () => {
  const clock = new FakeClock()
  const tokens = new LoginTokens({ clock })
  const a = tokens.issue(['read', 'submit'])
  assert.match(a.token, /^pll_[A-Za-z0-9_-]{43}$/)
  assert.equal(a.expires, clock.now() + 60_000)
  assert.deepEqual(tokens.redeem(a.token), ['read', 'submit'])
  assert.throws(() => tokens.redeem(a.token), { name: 'InvalidLoginTokenError' })
  assert.throws(() => tokens.redeem('pll_made-up'), { name: 'InvalidLoginTokenError' })
  const b = tokens.issue(['admin'])
  clock.advance(60_000)
  assert.throws(() => tokens.redeem(b.token), { name: 'LoginTokenExpiredError' })
  assert.throws(() => tokens.redeem(b.token), { name: 'InvalidLoginTokenError' }, 'an expired token is spent too')
})

test('outstanding login tokens are bounded: the oldest goes first', () => {
  const tokens = new LoginTokens({ clock: new FakeClock() })
  const first = tokens.issue(['read'])
  for (let i = 0; i < MAX_LOGIN_TOKENS; i++) tokens.issue(['read'])
  assert.equal(tokens.size, MAX_LOGIN_TOKENS)
  assert.throws(() => tokens.redeem(first.token), { name: 'InvalidLoginTokenError' })
})

test('a session key works until it expires, then is refused and removed', async () => {
  const d = await tempDir('pl-ui-keys-')
  const store = await Store.open(d.dir)
  try {
    const clock = new FakeClock()
    const keys = new KeyStore(store, clock)
    const s = await keys.create({ name: 'ui-session-1', scopes: ['read'], ttlMs: 1000 })
    assert.equal(s.expires, clock.now() + 1000)
    const plain = await keys.create({ name: 'alice', scopes: ['read'] })
    assert.equal(plain.expires, undefined)
    assert.deepEqual((await keys.authenticate(s.key))?.scopes, ['read'])
    clock.advance(1000)
    assert.equal(await keys.authenticate(s.key), undefined)
    assert.deepEqual((await keys.list()).map(k => k.name), ['alice'], 'the expired session key is gone')
    assert.ok(await keys.authenticate(plain.key) != null, 'keys without expiry are untouched')
    // expired keys not used again are swept when a key is made
    await keys.create({ name: 'ui-session-2', scopes: ['read'], ttlMs: 10 })
    clock.advance(10)
    await keys.create({ name: 'bob', scopes: ['read'] })
    assert.deepEqual((await keys.list()).map(k => k.name).sort(), ['alice', 'bob'])
  } finally {
    await store.close()
    await d.cleanup()
  }
})

test('/ui/ is routed as /ui; other paths are left alone', () => {
  assert.equal(consoleUrl('/ui/'), '/ui')
  assert.equal(consoleUrl('/ui/?x=1'), '/ui?x=1')
  assert.equal(consoleUrl('/ui/assets/a.js'), '/ui/assets/a.js')
  assert.equal(consoleUrl('/runs/'), '/runs/')
})
