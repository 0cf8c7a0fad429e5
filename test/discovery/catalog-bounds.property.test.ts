/**
 * Property (issue 17 item 6): under random ad sequences — signers known and
 * fresh, three forwarding peers, padded descriptors, re-ads by other routes,
 * withdrawals, clock steps, sweeps and reloads — the catalog keeps every
 * bound (entries and bytes: total, per provider, per delivering peer) and its
 * byte accounting equals the sum over what it holds. The sequences are
 * seeded (replay a failure with its seed); the same driver is the `catalog`
 * fuzz target.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { prng } from '../../fuzz/harness.js'
import { runCatalogOps } from '../../fuzz/catalog-targets.js'

test('random ad sequences keep every catalog bound and an exact byte accounting', async () => {
  const seen: Record<string, number> = {}
  let held = 0
  for (let seed = 1; seed <= 40; seed++) {
    const rand = prng(seed)
    const input = Uint8Array.from({ length: 1200 }, () => Math.floor(rand() * 256))
    const run = await runCatalogOps(input).catch((err: Error) => { throw new Error(`seed ${seed}: ${err.name}: ${err.message}`) })
    for (const [name, n] of Object.entries(run.refusals)) seen[name] = (seen[name] ?? 0) + n
    held = Math.max(held, run.held)
  }
  // the sequences reach every bound, so the property is not vacuous
  for (const name of ['SourceBudgetExceededError', 'ProviderBudgetExceededError', 'CatalogFullError', 'AdRateLimitedError', 'DescriptorTooLargeError']) {
    assert.ok((seen[name] ?? 0) > 0, `${name} never happened: ${JSON.stringify(seen)}`)
  }
  assert.ok(held > 0)
})
