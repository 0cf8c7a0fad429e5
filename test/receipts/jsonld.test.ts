/**
 * Linked data: the pl JSON-LD context maps every field of the core objects,
 * a standard processor (`jsonld` on npm) expands a receipts export and a
 * capability descriptor without dropping anything (expand → compact gives the
 * document back), the round-tripped receipts still verify, the CLI writes and
 * reads the JSON-LD export, and the gateway serves the context.
 */
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import jsonld from 'jsonld'
import { Store } from '../../src/store/index.js'
import { ReceiptStore } from '../../src/receipts/store.js'
import { exportReceipts, verifyExport } from '../../src/receipts/chain.js'
import { exportJsonLd, fromJsonLd, plContext, CONTEXT_WELL_KNOWN } from '../../src/receipts/jsonld.js'
import { decodeJson } from '../../src/core/encoding.js'
import { runCli } from '../helpers/proc.js'
import { tempDir } from '../helpers/tmp.js'
import { parties, diamond, accepted } from './helpers.js'
import { startMesh, http } from '../gateway/helpers.js'
import type { TestMesh } from '../helpers/mesh.js'
import type { GatewayService } from '../../src/gateway/index.js'

const context = plContext().doc['@context'] as Record<string, any>

/** Every property name a schema can give an object, by the path of object-valued properties leading to it. */
function schemaTerms (schema: any, path: string[] = [], out: Array<{ path: string[], name: string }> = []): Array<{ path: string[], name: string }> {
  for (const [name, sub] of Object.entries<any>(schema?.properties ?? {})) {
    out.push({ path, name })
    // free-form values (io schemas, attrs, claims) are @json literals: their inside is not vocabulary
    if (context[name]?.['@type'] === '@json' || path.some(p => context[p]?.['@context']?.[name]?.['@type'] === '@json')) continue
    if (sub?.type === 'object' && sub.properties != null) schemaTerms(sub, [...path, name], out)
  }
  return out
}

function termDefined (path: string[], name: string): boolean {
  // the innermost property-scoped context that defines it wins
  for (let i = path.length; i >= 0; i--) {
    const scoped = i === 0 ? context : path.slice(0, i).reduce<any>((c, p) => c?.[p]?.['@context'] ?? c, context)
    if (i > 0 && context[path[i - 1]]?.['@context']?.[name] != null) return true
    if (i === 0 && scoped[name] != null) return true
  }
  return false
}

test('the context maps every property of Capability.v1, Receipt.v1, SignedReceipt.v1, Policy.v1 and Attestation.v1', () => {
  const missing: string[] = []
  for (const type of ['Capability.v1', 'Receipt.v1', 'SignedReceipt.v1', 'Policy.v1', 'Attestation.v1', 'Revocation.v1']) {
    const file = join('protocols', 'schemas', `${type}.json`)
    if (!existsSync(file)) continue
    for (const { path, name } of schemaTerms(JSON.parse(readFileSync(file, 'utf8')))) {
      if (!termDefined(path, name)) missing.push(`${type}: ${[...path, name].join('.')}`)
    }
  }
  assert.deepEqual(missing, [])
})

async function roundTrip (doc: Record<string, unknown>): Promise<Record<string, unknown>> {
  const expanded = await jsonld.expand(doc)
  assert.ok(expanded.length > 0)
  const compacted = await jsonld.compact(expanded, { '@context': doc['@context'] } as any) as Record<string, unknown>
  return compacted
}

test('a receipts export as JSON-LD expands without loss, and the receipts verify after the round trip', async () => {
  const chain = diamond(await parties(), 'run-ld')
  chain[3] = accepted(await parties(), { run: 'run-ld', step: 'e', via: { kind: 'a2a', target: 'https://agent.example/card.json', ref: 'task-1' } })
  const plain = exportReceipts(diamond(await parties(), 'run-ld'))
  const doc = exportJsonLd(plain)
  const expanded = JSON.stringify(await jsonld.expand(doc))
  for (const iri of ['http://www.w3.org/ns/prov#wasAssociatedWith', 'http://www.w3.org/ns/prov#used', 'http://www.w3.org/ns/prov#generated', 'http://www.w3.org/ns/prov#wasInformedBy', 'https://pervasive.link/ns/v1#Receipt']) {
    assert.ok(expanded.includes(iri), iri)
  }
  const back = await roundTrip(doc)
  assert.deepEqual(back, doc, 'expand then compact with the same context gives the document back: no field was dropped')
  assert.equal(verifyExport(fromJsonLd(back)).root, plain.root)

  // the check can fail: a field the context does not map is dropped by expansion
  const unmapped = { ...doc, bogus_field: 'x' }
  assert.notDeepEqual(await roundTrip(unmapped), unmapped)

  const withVia = exportJsonLd(exportReceipts([chain[3]]))
  assert.deepEqual(await roundTrip(withVia), withVia)
})

test('a capability descriptor with io schemas, attrs and module expands without loss', async () => {
  const descriptor = {
    '@context': context,
    '@type': 'Capability',
    name: 'Summarize',
    version: '1.0.0',
    provider: '12D3KooWAJKECPZbMjugZMoSwEUf2CcSoJqe9W9cnHMj2Ky4m9Lz',
    description: 'summaries',
    io: { input: { type: 'object', properties: { text: { type: 'string' } } }, output: { type: 'object' } },
    limits: { wall_ms: 20000, mem_mb: 256 },
    price: 2,
    attrs: { readability: 0.9, region: 'eu-west' },
    attestations: ['bafyreia'],
    policies: ['cid:pol'],
    module: { cid: 'bafyreib', kind: 'py' }
  }
  assert.deepEqual(await roundTrip(descriptor), descriptor)
})

let dir: string
let cleanup: () => Promise<void>
let mesh: TestMesh | undefined

before(async () => {
  ({ dir, cleanup } = await tempDir('pl-receipts-ld-'))
  const store = await Store.open(dir)
  const receipts = new ReceiptStore(store)
  for (const r of diamond(await parties(), 'run-cli-ld')) await receipts.put(r)
  await store.close()
})

after(async () => {
  await mesh?.stop()
  await cleanup()
})

test('pl receipts export --jsonld writes JSON-LD that pl receipts verify checks offline', async () => {
  const file = join(dir, 'run.jsonld')
  const res = await runCli(['receipts', 'export', 'run-cli-ld', '--jsonld', '--data-dir', dir, '-o', file])
  assert.equal(res.code, 0, res.stderr)
  const doc = decodeJson<Record<string, any>>(await readFile(file))
  assert.equal(doc['@type'], 'ReceiptExport')
  assert.equal(doc['pl:context'], plContext().cid)
  assert.deepEqual(await roundTrip(doc), doc)
  const verified = await runCli(['receipts', 'verify', file])
  assert.equal(verified.code, 0, verified.stderr)
  assert.match(verified.stdout, /^ok: 4 receipts of run run-cli-ld verify/)
})

test(`the gateway serves the context at ${CONTEXT_WELL_KNOWN} without a key, with its CID as ETag`, async () => {
  mesh = await startMesh(1)
  const base = (mesh.nodes[0].service<GatewayService>('gateway')).address as string
  const res = await fetch(base + CONTEXT_WELL_KNOWN)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^application\/ld\+json/)
  assert.equal(res.headers.get('etag'), `"${plContext().cid}"`)
  assert.deepEqual(await res.json(), plContext().doc)
  const doc = await http(base, 'GET', '/openapi.json')
  assert.ok(doc.body.paths[CONTEXT_WELL_KNOWN]?.get != null, 'documented in the OpenAPI document')
})
