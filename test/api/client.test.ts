/**
 * ControlClient, the control API's client that `pl` commands use: calls over
 * node:http against a real HTTP server on loopback — answers, the remote
 * error rebuilt, paging, and the errors of a control API that cannot be
 * reached or does not answer. And that a call does not load Node's undici
 * (what `fetch` would load: ~140 ms of `pl status` here).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { promisify } from 'node:util'
import { ControlClient, NEXT_CURSOR_HEADER } from '../../src/api/client.js'

const TOKEN = 'secret-token'
let server: Server
let url: string
const sockets = new Set<Socket>()
const seen: Array<{ method: string, path: string, auth?: string, type?: string, length?: string, body: string }> = []

async function bodyOf (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function answer (res: ServerResponse, status: number, json?: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(json === undefined ? '' : JSON.stringify(json))
}

before(async () => {
  server = createServer((req, res) => {
    void (async () => {
      const body = await bodyOf(req)
      const u = new URL(req.url ?? '/', 'http://x')
      seen.push({ method: req.method ?? '', path: req.url ?? '', auth: req.headers.authorization, type: req.headers['content-type'], length: req.headers['content-length'], body })
      if (u.pathname === '/hello') return answer(res, 200, { hi: 'there', n: 1 })
      if (u.pathname === '/echo') return answer(res, 200, JSON.parse(body))
      if (u.pathname === '/empty') return answer(res, 204)
      if (u.pathname === '/missing') return answer(res, 404, { error: { name: 'RunNotFoundError', message: 'no run r1', details: { id: 'r1' } } })
      if (u.pathname === '/broken') return answer(res, 500)
      if (u.pathname === '/silent') return // never answers
      if (u.pathname === '/pages') {
        // three pages; the cursor comes back in the query (GET) or the body (POST)
        const cursor = req.method === 'POST' ? JSON.parse(body).cursor : u.searchParams.get('cursor')
        const page = cursor == null ? 0 : Number(cursor)
        return answer(res, 200, [page * 2, page * 2 + 1], page < 2 ? { [NEXT_CURSOR_HEADER]: String(page + 1) } : {})
      }
      answer(res, 404, { error: { name: 'NotFoundError', message: `no route ${u.pathname}` } })
    })()
  })
  server.on('connection', s => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

after(async () => {
  for (const s of sockets) s.destroy()
  await new Promise(resolve => server.close(resolve))
})

test('a call carries the token and a JSON body, and returns the JSON answer', async () => {
  const client = new ControlClient(url, TOKEN)
  assert.deepEqual(await client.request('GET', '/hello'), { hi: 'there', n: 1 })
  const last = seen.at(-1)
  assert.equal(last?.auth, `Bearer ${TOKEN}`)
  assert.equal(last?.type, undefined, 'no content type without a body')

  const body = { plan: 'goal: G — ünïcode', n: [1, 2, 3] }
  assert.deepEqual(await client.request('POST', '/echo', body), body)
  const post = seen.at(-1)
  assert.equal(post?.method, 'POST')
  assert.equal(post?.type, 'application/json')
  assert.equal(post?.length, String(Buffer.byteLength(JSON.stringify(body))), 'content-length in bytes, not characters')
  assert.equal(await client.request('DELETE', '/empty'), undefined, 'an empty answer is undefined')
})

test('an error answer is rebuilt as the remote error; one without a body names the HTTP status', async () => {
  const client = new ControlClient(url, TOKEN)
  await assert.rejects(client.request('GET', '/missing'), (err: any) => err.name === 'RunNotFoundError' && err.message === 'no run r1' && err.details.id === 'r1')
  await assert.rejects(client.request('GET', '/broken'), { name: 'ControlApiError', message: 'HTTP 500' })
})

test('requestAll follows the next-page cursor: in the query for GET, in the body for POST', async () => {
  const client = new ControlClient(url, TOKEN)
  seen.length = 0
  assert.deepEqual(await client.requestAll('GET', '/pages'), [0, 1, 2, 3, 4, 5])
  assert.deepEqual(seen.map(s => s.path), ['/pages', '/pages?cursor=1', '/pages?cursor=2'])
  seen.length = 0
  assert.deepEqual(await client.requestAll('POST', '/pages', { name: 'X' }), [0, 1, 2, 3, 4, 5])
  assert.deepEqual(seen.map(s => JSON.parse(s.body)), [{ name: 'X' }, { name: 'X', cursor: '1' }, { name: 'X', cursor: '2' }])
  await assert.rejects(client.requestAll('GET', '/pages', undefined, { maxPages: 2 }), /more than 2 pages/)
  await assert.rejects(client.requestAll('GET', '/hello'), /not a paged route/)
})

test('a control API that cannot be reached, does not answer in time, or a call aborted: ControlApiUnavailableError saying which', async () => {
  // a port nobody listens on: take one, then close it
  const probe = createServer()
  await new Promise<void>(resolve => probe.listen(0, '127.0.0.1', resolve))
  const closedUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`
  await new Promise(resolve => probe.close(resolve))
  await assert.rejects(new ControlClient(closedUrl, TOKEN).request('GET', '/hello'), (err: any) => err.name === 'ControlApiUnavailableError' && err.message === `cannot reach the control API at ${closedUrl}: ECONNREFUSED`)

  const client = new ControlClient(url, TOKEN)
  await assert.rejects(client.request('GET', '/silent', undefined, { timeoutMs: 50 }), (err: any) => err.name === 'ControlApiUnavailableError' && err.message.endsWith(': no answer within 50 ms'))
  const ac = new AbortController()
  const call = client.request('GET', '/silent', undefined, { signal: ac.signal })
  ac.abort()
  await assert.rejects(call, (err: any) => err.name === 'ControlApiUnavailableError' && err.message.endsWith(': aborted'))
  // the client still works after those
  assert.deepEqual(await client.request('GET', '/hello'), { hi: 'there', n: 1 })
})

test('a call does not load Node\'s undici (a fresh process: only what the call needs)', async () => {
  const clientUrl = new URL('../../src/api/client.js', import.meta.url).href
  const script = `const { ControlClient } = await import(${JSON.stringify(clientUrl)});
    const out = await new ControlClient(process.argv[1], 't').request('GET', '/hello');
    process.stdout.write(JSON.stringify({ out, undici: process.moduleLoadList.filter(m => m.includes('undici')) }))`
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, url])
  const { out, undici } = JSON.parse(stdout)
  assert.deepEqual(out, { hi: 'there', n: 1 })
  assert.deepEqual(undici, [], 'undici was loaded')
})
