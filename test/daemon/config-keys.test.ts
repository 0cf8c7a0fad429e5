/**
 * Every `services.negotiation.*` and `services.exec.*` key the docs tell an
 * operator to set is accepted by the daemon's config check (a key missing
 * from its list is refused as unknown: the quarantine keys once were), and
 * a misspelt one is still refused.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { daemonServices } from '../../src/services.js'

const DOCS = join(import.meta.dirname, '..', '..', '..', 'docs')

async function documentedKeys (section: string): Promise<string[]> {
  const keys = new Set<string>()
  const re = new RegExp(`services\\.${section}\\.([a-zA-Z]+)`, 'g')
  for (const f of await readdir(DOCS)) {
    if (!f.endsWith('.md')) continue
    for (const m of (await readFile(join(DOCS, f), 'utf8')).matchAll(re)) keys.add(m[1])
  }
  return [...keys].sort()
}

for (const section of ['negotiation', 'exec']) {
  test(`every documented services.${section} key is accepted; a misspelt one is refused`, async () => {
    const keys = await documentedKeys(section)
    assert.ok(keys.length >= 5, `found ${keys.join(', ')}`)
    for (const key of keys) {
      assert.doesNotThrow(() => daemonServices({ services: { [section]: { [key]: 1 } } } as never), `services.${section}.${key}`)
    }
    assert.throws(() => daemonServices({ services: { [section]: { [`${keys[0]}x`]: 1 } } } as never), { name: 'ConfigError', message: /unknown key/ })
  })
}
