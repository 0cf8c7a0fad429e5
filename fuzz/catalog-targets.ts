/**
 * Catalog bounds under random ad sequences: bytes are read as operations
 * (ads and ad sets from known and fresh signers through a few forwarding
 * peers, padded descriptors, updates by another route, withdrawals, clock
 * steps, sweeps, reloads) fed to the real CatalogListener validator + delivery and Catalog
 * on a fake clock. After every operation each bound must hold (entries and
 * bytes in total, per provider, per delivering peer) and the byte accounting
 * must equal an independent sum over what the catalog holds. A violation
 * throws CatalogBoundViolation, which no target allows. Shared by the fuzz
 * target and test/discovery/catalog-bounds.property.test.ts.
 */
import { encodeCanonical, cidStringOf } from '../src/core/encoding.js'
import { silentLogger } from '../src/core/logger.js'
import { Catalog, CatalogListener } from '../src/discovery/index.js'
import { CATALOG_ENTRY_OVERHEAD_BYTES } from '../src/discovery/constants.js'
import type { CatalogEntry } from '../src/discovery/types.js'
import type { FuzzTarget } from './harness.js'
import { prng } from './harness.js'

export const CATALOG_LIMITS = { maxEntries: 64, maxPerProvider: 8, maxBytes: 40 * 1024, maxProviderBytes: 8 * 1024, maxSourceBytes: 24 * 1024, maxTombstones: 16 }
const MAX_DESCRIPTOR = 4096

/** Refusals the validator may answer with (typed, by name). */
export const CATALOG_REFUSALS = ['AdRateLimitedError', 'DescriptorTooLargeError', 'ProviderMismatchError', 'CidMismatchError', 'DuplicateAdError', 'CatalogFullError', 'ProviderBudgetExceededError', 'SourceBudgetExceededError']

class CatalogBoundViolation extends Error {
  override name = 'CatalogBoundViolation'
}

/** A LevelDB sublevel's surface the catalog uses, in memory (the fuzzer runs thousands of sequences). */
function memoryDb (): any {
  const m = new Map<string, CatalogEntry>()
  return {
    map: m,
    put: async (k: string, v: CatalogEntry) => { m.set(k, structuredClone(v)) },
    del: async (k: string) => { m.delete(k) },
    batch: async (ops: Array<{ type: 'del' | 'put', key: string, value?: CatalogEntry }>) => { for (const o of ops) { if (o.type === 'del') m.delete(o.key); else m.set(o.key, o.value as CatalogEntry) } },
    iterator: async function * () { for (const [k, v] of [...m]) yield [k, structuredClone(v)] }
  }
}

/** dag-cbor sizes of descriptors already measured (the check runs after every operation) */
const sizes = new WeakMap<object, number>()
function descriptorSize (d: object): number {
  let n = sizes.get(d)
  if (n == null) { n = encodeCanonical(d).byteLength; sizes.set(d, n) }
  return n
}

export interface CatalogRun { refusals: Record<string, number>, ops: number, held: number }

/** Runs the operations encoded in `input`; throws CatalogBoundViolation when a bound or the accounting breaks. */
export async function runCatalogOps (input: Uint8Array): Promise<CatalogRun> {
  let clock = 1_700_000_000_000
  const now = (): number => clock
  const db = memoryDb()
  const refusals: Record<string, number> = {}
  let catalog = new Catalog(db, { ...CATALOG_LIMITS, now })
  const components = {
    identity: { id: 'self' },
    metrics: { reject: (_area: string, name: string) => { refusals[name] = (refusals[name] ?? 0) + 1 } },
    logger: silentLogger(),
    libp2p: { peerStore: { merge: async () => {} } }
  } as any
  const listenerOf = (c: Catalog): CatalogListener => new CatalogListener(components, { catalog: c, peerAdRate: 5, peerAdBurst: 10, maxDescriptorBytes: MAX_DESCRIPTOR, maxTtlMs: 60_000, sourceAdBytesRate: 8192, sourceAdBytesBurst: 16384, now })
  let listener = listenerOf(catalog)
  const sent: Array<{ from: string, descriptor: any, cid: string }> = []
  const names = new Set<string>()
  let fresh = 0
  let i = 0
  const next = (): number => i < input.length ? input[i++] : 0

  const deliver = async (from: string, descriptor: any, source: string, ttl: number, withdraw: boolean, direct: boolean, more: Array<{ descriptor: any, withdraw: boolean }> = []): Promise<void> => {
    const addrs = Array.from({ length: next() % 40 }, (_, k) => `/ip4/127.0.0.1/tcp/${4000 + k}/p2p/${from}`)
    const item = (d: any, w: boolean): any => ({ capability: cidStringOf(d), descriptor: d, ...(w ? { withdraw: true } : {}) })
    // with `more`, an AdvertiseCapabilitySet.v1 naming all of them (the schema was checked by the envelope verifier before: ≤ 32 items)
    const [type, body] = more.length === 0
      ? ['AdvertiseCapability.v1', { ...item(descriptor, withdraw), addrs, ttl }]
      : ['AdvertiseCapabilitySet.v1', { ads: [item(descriptor, withdraw), ...more.map(m => item(m.descriptor, m.withdraw))], addrs, ttl }]
    const v = { envelope: { v: 1, type, from, ts: clock, exp: clock + ttl, nonce: String(i), body }, id: `id${i}` } as any
    if (!direct) {
      try {
        if (listener.validate(v, source) === 'ignore') return
      } catch (err) {
        if (!CATALOG_REFUSALS.includes((err as Error).name)) throw err
        return
      }
    }
    await listener.onMessage(v, source)
  }

  const check = (): void => {
    const fail = (what: string): never => { throw new CatalogBoundViolation(`${what} after ${i} input bytes`) }
    const L = catalog.limits
    if (catalog.size > L.maxEntries) fail(`${catalog.size} entries > ${L.maxEntries}`)
    if (catalog.bytes > L.maxBytes) fail(`${catalog.bytes} bytes > ${L.maxBytes}`)
    const big = catalog.largest()
    if (big.provider > L.maxProviderBytes) fail(`a provider holds ${big.provider} bytes > ${L.maxProviderBytes}`)
    if (big.source > L.maxSourceBytes) fail(`a source delivered ${big.source} bytes > ${L.maxSourceBytes}`)
    // independent sum over what is held
    let sum = 0
    const perProvider = new Map<string, number>()
    const perSource = new Map<string, number>()
    for (const name of names) {
      for (const e of catalog.find(name, -Infinity)) {
        const b = descriptorSize(e.descriptor) + CATALOG_ENTRY_OVERHEAD_BYTES + e.addrs.reduce((n, a) => n + a.length, 0)
        sum += b
        perProvider.set(e.provider, (perProvider.get(e.provider) ?? 0) + 1)
        perSource.set(e.via ?? e.provider, (perSource.get(e.via ?? e.provider) ?? 0) + b)
      }
    }
    if (sum !== catalog.bytes) fail(`accounting says ${catalog.bytes} bytes, entries sum to ${sum}`)
    for (const [p, n] of perProvider) if (n > L.maxPerProvider) fail(`provider ${p} has ${n} entries`)
    for (const [s, b] of perSource) if (b !== catalog.bytesVia(s)) fail(`source ${s}: accounting ${catalog.bytesVia(s)}, entries ${b}`)
  }

  while (i < input.length) {
    const op = next() % 11
    if (op <= 3) {
      const signer = next() % 8 === 7 ? `fresh${fresh++}` : `p${next() % 6}`
      const name = `N${next() % 12}`
      names.add(name)
      const descriptor = { name, version: `1.${next()}`, provider: next() % 31 === 0 ? 'someone-else' : signer, io: { input: { type: 'object', description: 'x'.repeat(next() * 17) }, output: {} }, limits: {} }
      sent.push({ from: signer, descriptor, cid: cidStringOf(descriptor) })
      await deliver(signer, descriptor, `s${next() % 3}`, 1000 + next() * 500, false, op === 3 && next() % 4 === 0)
    } else if (op === 4 && sent.length > 0) {
      const s = sent[next() % sent.length]
      await deliver(s.from, s.descriptor, `s${next() % 3}`, 10_000, true, false)
    } else if (op === 5) {
      clock += next() * 100
    } else if (op === 6) {
      await catalog.sweep()
    } else if (op === 7 && sent.length > 0) {
      // the same capability again (a re-ad), newer, perhaps by another route
      clock += 1
      const s = sent[next() % sent.length]
      await deliver(s.from, s.descriptor, `s${next() % 3}`, 1000 + next() * 500, false, false)
    } else if (op === 8) {
      // a restart: a new catalog loads what was persisted and must hold the same bounds
      catalog = new Catalog(db, { ...CATALOG_LIMITS, now })
      await catalog.load()
      listener = listenerOf(catalog)
    } else if (op === 9) {
      // padding growth of a held capability: a new descriptor version of the same name
      const s = sent.length > 0 ? sent[next() % sent.length] : undefined
      if (s != null) {
        const descriptor = { ...s.descriptor, version: `${String(s.descriptor.version)}.${next()}`, io: { input: { type: 'object', description: 'y'.repeat(next() * 16) }, output: {} } }
        sent.push({ from: s.from, descriptor, cid: cidStringOf(descriptor) })
        await deliver(s.from, descriptor, `s${next() % 3}`, 5000, false, false)
      }
    } else if (op === 10 && sent.length > 0) {
      // a set from one signer: some of what was sent (its own, or another's: a mismatch), perhaps one twice, some withdrawn
      const first = sent[next() % sent.length]
      const more = Array.from({ length: 1 + next() % 5 }, () => ({ descriptor: sent[next() % sent.length].descriptor, withdraw: next() % 4 === 0 }))
      clock += 1
      await deliver(first.from, first.descriptor, `s${next() % 3}`, 1000 + next() * 500, false, next() % 8 === 0, more)
    }
    check()
  }
  return { refusals, ops: i, held: catalog.size }
}

export const catalogTarget: FuzzTarget = {
  name: 'catalog',
  allowed: new Set(CATALOG_REFUSALS),
  seeds: () => [1, 2, 3, 4].map(seed => {
    const rand = prng(seed)
    return Uint8Array.from({ length: 256 }, () => Math.floor(rand() * 256))
  }),
  // at most 256 bytes of operations per input: many short sequences per second (the property test runs long ones)
  run: async (input) => { await runCatalogOps(input.subarray(0, 256)) },
  budgetMs: 5000
}
