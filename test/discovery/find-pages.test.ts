/**
 * Issue 17 item 6: `GET/POST /caps/find` answer pages (limit default 100,
 * at most 1000, opaque cursor in the `x-pl-next-cursor` header); the client
 * and `pl cap find` follow them and still get every result.
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Command } from 'commander'
import { ControlClient, NEXT_CURSOR_HEADER } from '../../src/api/client.js'
import { register } from '../../src/cli/commands/cap.js'
import { createIdentity } from '../../src/core/index.js'
import { cidStringOf } from '../../src/core/encoding.js'
import type { TestMesh } from '../helpers/mesh.js'
import type { CatalogEntry, FoundCapability } from '../../src/discovery/types.js'
import { discoMesh, disc } from './helpers.js'

const PROVIDERS = 50
const VERSIONS = 5 // 250 results

describe('paged /caps/find', () => {
  let mesh: TestMesh
  let client: ControlClient
  let all: FoundCapability[]

  before(async () => {
    mesh = await discoMesh({ nodes: 1, ttlMs: 60_000, controlApi: true })
    const d = disc(mesh.nodes[0])
    const now = Date.now()
    for (let p = 0; p < PROVIDERS; p++) {
      const provider = (await createIdentity()).id
      for (let v = 0; v < VERSIONS; v++) {
        const descriptor = { name: 'Many', version: `1.${v}.0`, provider, io: { input: {}, output: {} }, limits: {} }
        const entry: CatalogEntry = { cid: cidStringOf(descriptor), name: 'Many', version: descriptor.version, provider, descriptor, addrs: [], ts: now, expires: now + 600_000, source: 'gossip' }
        assert.equal(await d.catalog.upsert(entry), 'added')
      }
    }
    all = await d.find({ name: 'Many' }, { localOnly: true })
    assert.equal(all.length, PROVIDERS * VERSIONS)
    client = await ControlClient.fromDataDir(mesh.nodes[0].components.dataDir)
  })
  after(async () => { await mesh.stop() })

  const url = (path: string): string => client.url + path
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${(client as any).token as string}` })

  test('GET answers the first 100 with a next cursor and a link header; the pages cover every result once, in order', async () => {
    const res = await fetch(url('/caps/find?name=Many&local=1'), { headers: auth() })
    assert.equal(res.status, 200)
    const first = await res.json() as FoundCapability[]
    assert.equal(first.length, 100)
    const next = res.headers.get(NEXT_CURSOR_HEADER)
    assert.ok(next != null && next.length > 0)
    assert.match(res.headers.get('link') ?? '', /^<\/caps\/find\?name=Many&local=1&cursor=[\w-]+>; rel="next"$/)
    const pages = await client.requestAll<FoundCapability>('GET', '/caps/find?name=Many&local=1&limit=33')
    assert.deepEqual(pages.map(f => `${f.provider}/${f.cid}`), all.map(f => `${f.provider}/${f.cid}`))
  })

  test('POST pages with limit and cursor; the last page has no cursor', async () => {
    const viaPost = await client.requestAll<FoundCapability>('POST', '/caps/find', { query: { name: 'Many' }, options: { localOnly: true }, limit: 7 })
    assert.equal(viaPost.length, all.length)
    assert.equal(new Set(viaPost.map(f => `${f.provider}/${f.cid}`)).size, all.length)
    const res = await fetch(url('/caps/find'), { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ query: { name: 'Many' }, options: { localOnly: true }, limit: 1000 }) })
    assert.equal((await res.json() as unknown[]).length, all.length)
    assert.equal(res.headers.get(NEXT_CURSOR_HEADER), null)
  })

  test('a limit over 1000 or a forged cursor is a typed 400', async () => {
    await assert.rejects(client.request('GET', '/caps/find?name=Many&local=1&limit=1001'), { name: 'InvalidCapabilityQueryError' })
    await assert.rejects(client.request('GET', '/caps/find?name=Many&local=1&cursor=not-a-cursor'), { name: 'InvalidCursorError' })
    await assert.rejects(client.request('POST', '/caps/find', { query: { name: 'Many' }, cursor: Buffer.from('{"v":1}').toString('base64url') }), { name: 'InvalidCursorError' })
  })

  test('pl cap find prints every result (through the paging client)', async () => {
    const program = new Command('pl').exitOverride()
    register(program)
    const chunks: string[] = []
    const write = process.stdout.write.bind(process.stdout)
    // the CLI writes strings; the test runner's own (binary) reports go through
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: any[]) => {
      if (typeof chunk === 'string') { chunks.push(chunk); return true }
      return write(chunk, ...rest)
    }) as typeof process.stdout.write
    try {
      await program.parseAsync(['cap', 'find', 'Many', '--local', '--json', '--data-dir', mesh.nodes[0].components.dataDir], { from: 'user' })
    } finally {
      process.stdout.write = write
    }
    const printed = JSON.parse(chunks.join('')) as FoundCapability[]
    assert.equal(printed.length, all.length)
  })
})
