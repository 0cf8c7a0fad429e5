/**
 * Catalog.signedAds picks a sync page in one pass (the `limit` smallest keys
 * after the cursor) instead of sorting every held ad per asked page: the
 * page must equal what a full sort gives, whatever order the ads came in.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Catalog } from '../../src/discovery/catalog.js'
import type { CatalogEntry } from '../../src/discovery/types.js'

const memoryDb = { put: async () => {}, del: async () => {}, batch: async () => {} } as any
const NOW = 1_000_000

function entry (provider: string, cid: string): CatalogEntry {
  return { cid, name: 'S', version: '1', provider, descriptor: { name: 'S', version: '1', provider, io: { input: {}, output: {} }, limits: {} }, addrs: [], ts: NOW - 10, expires: NOW + 60_000, source: 'gossip' }
}

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng (seed: number): () => number {
  return () => {
    seed = (seed + 0x6D2B79F5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

test('a sync page holds the smallest keys after the cursor, as a full sort would, skipping expired and old-signed ads', () => {
  const rand = prng(7)
  const catalog = new Catalog(memoryDb, { maxEntries: 10_000, maxPerProvider: 1_000, now: () => NOW })
  const expected: Array<{ key: string, ok: boolean }> = []
  for (let i = 0; i < 600; i++) {
    const provider = `p${Math.floor(rand() * 40)}`
    const cid = `c${Math.floor(rand() * 1e9).toString(36)}`
    const expired = rand() < 0.1
    const old = rand() < 0.1
    const ad = { ts: old ? NOW - 50_000 : NOW - 10, exp: expired ? NOW - 1 : NOW + 60_000 } as any
    if (catalog.admit(entry(provider, cid), { ad }) !== 'added') continue
    expected.push({ key: `${provider}/${cid}`, ok: !expired && !old })
  }
  const sorted = expected.filter(x => x.ok).map(x => x.key).sort()
  assert.ok(sorted.length > 300, `${sorted.length} ads to page through`)
  for (const limit of [0, 1, 7, 128, 129, 1_000]) {
    // page through with the cursor, as an asker does
    let after: string | undefined
    const seen: string[] = []
    for (let pages = 0; pages < 1_000; pages++) {
      const page = catalog.signedAds({ after, limit, signedSince: NOW - 30_000, now: NOW }).map(x => x.key)
      const want = sorted.filter(k => after == null || k > after).slice(0, limit)
      assert.deepEqual(page, want, `limit ${limit}, after ${String(after)}`)
      if (page.length === 0) break
      seen.push(...page)
      after = page[page.length - 1]
    }
    if (limit > 0) assert.deepEqual(seen, sorted, `limit ${limit}: every ad once, in key order`)
  }
})
