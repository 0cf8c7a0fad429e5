/**
 * Addons through the module context: a webhook against a local HTTP server,
 * a callback registered by the embedder, and an LLM call against a tiny
 * OpenAI-compatible fake server (a test double of the external service).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { callStep, dagOf, harness, writeModule, type Harness } from './helpers.js'

interface Seen { method: string, url: string, headers: IncomingMessage['headers'], body: any }

let server: Server
let base = ''
const seen: Seen[] = []

before(async () => {
  server = createServer((req, res) => {
    let text = ''
    req.on('data', (d: Buffer) => { text += d.toString() })
    req.on('end', () => {
      const body = text === '' ? null : JSON.parse(text)
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      res.setHeader('content-type', 'application/json')
      if (req.url?.startsWith('/hook')) {
        res.end(JSON.stringify({ received: body, query: req.url.split('?')[1] ?? null }))
      } else if (req.url === '/v1/chat/completions') {
        const last = body.messages.at(-1).content as string
        res.end(JSON.stringify({ id: 'x', model: body.model, choices: [{ index: 0, message: { role: 'assistant', content: `echo: ${last}` }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }))
      } else if (req.url === '/fail') {
        res.statusCode = 503
        res.end(JSON.stringify({ error: 'down' }))
      } else {
        res.statusCode = 404
        res.end('{}')
      }
    })
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

after(async () => {
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
})

async function withExecutor (fn: (h: Harness) => Promise<void>): Promise<void> {
  process.env.PL_TEST_LLM_KEY = 'sk-test-123'
  const h = await harness({
    retry: { max: 1, backoff_ms: 5 },
    addons: {
      webhooks: { notify: { url: `${base}/hook` }, lookup: { url: `${base}/hook/get`, method: 'GET' }, broken: { url: `${base}/fail` } },
      llm: { default: { base_url: `${base}/v1`, model: 'tiny-model', api_key_env: 'PL_TEST_LLM_KEY' } },
      callbacks: { double: (data) => ({ doubled: (data as { n: number }).n * 2 }) }
    }
  })
  try {
    await fn(h)
  } finally {
    await h.close()
  }
}

for (const kind of ['js', 'py'] as const) {
  test(`a ${kind} module calls webhook (POST and GET), callback and llm addons`, async () => {
    seen.length = 0
    await withExecutor(async (h) => {
      h.executor.registerCallback('greet', (data, ctx) => ({ hello: data, step: ctx.step }))
      const src = kind === 'js'
        ? `export default class { async eval (p, d, context) {
             const hook = await context.addons.webhook('notify', { n: d.n })
             const got = await context.addons.webhook('lookup', { id: 'a1' })
             const cb = await context.addons.callback('double', { n: d.n })
             const greet = await context.addons.callback('greet', 'world')
             const llm = await context.addons.llm('default', { messages: [{ role: 'user', content: 'hi there' }] })
             return { hook, got, cb, greet, llm: llm.content, tokens: llm.usage.total_tokens }
           } }`
        : 'class A:\n    def __init__(self, *a):\n        pass\n\n    def eval(self, p, d, context):\n' +
          '        hook = context.addons.webhook("notify", {"n": d["n"]})\n' +
          '        got = context.addons.webhook("lookup", {"id": "a1"})\n' +
          '        cb = context.addons.callback("double", {"n": d["n"]})\n' +
          '        greet = context.addons.callback("greet", "world")\n' +
          '        llm = context.addons.llm("default", {"messages": [{"role": "user", "content": "hi there"}]})\n' +
          '        return {"hook": hook, "got": got, "cb": cb, "greet": greet, "llm": llm["content"], "tokens": llm["usage"]["total_tokens"]}\n'
      const mod = await writeModule(h.root, 'caller', src, kind)
      const run = await h.executor.wait(await h.executor.submit(dagOf([callStep(mod)]), { n: 21 }, { modules: { caller: mod } }))
      assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
      assert.deepEqual(await h.executor.output(run), {
        hook: { received: { n: 21 }, query: null },
        got: { received: null, query: 'id=a1' },
        cb: { doubled: 42 },
        greet: { hello: 'world', step: 'caller' },
        llm: 'echo: hi there',
        tokens: 5
      })
      const llmReq = seen.find(s => s.url === '/v1/chat/completions')
      assert.equal(llmReq?.headers.authorization, 'Bearer sk-test-123')
      assert.equal(llmReq?.body.model, 'tiny-model')
      assert.equal(seen.find(s => s.url === '/hook')?.method, 'POST')
      assert.equal(seen.find(s => s.url.startsWith('/hook/get'))?.method, 'GET')
    })
  })
}

test('an unknown addon fails with AddonNotConfiguredError; an HTTP 503 is an AddonError marked retryable', async () => {
  seen.length = 0
  await withExecutor(async (h) => {
    const unknown = await writeModule(h.root, 'unknown', 'export default class { async eval (p, d, c) { return await c.addons.webhook("nope", {}) } }')
    const r1 = await h.executor.wait(await h.executor.submit(dagOf([callStep(unknown)]), {}, { modules: { unknown } }))
    assert.equal(r1.error?.name, 'AddonNotConfiguredError')
    assert.match(r1.error?.message ?? '', /no webhook addon named 'nope'.*known: notify, lookup, broken/)

    const broken = await writeModule(h.root, 'broken', 'class B:\n    def __init__(self, *a):\n        pass\n\n    def eval(self, p, d, c):\n        return c.addons.webhook("broken", {"x": 1})\n', 'py')
    const r2 = await h.executor.wait(await h.executor.submit(dagOf([callStep(broken)]), {}, { modules: { broken } }))
    assert.equal(r2.error?.name, 'AddonError')
    assert.match(r2.error?.message ?? '', /HTTP 503/)
    assert.equal(r2.error?.retryable, true)
    const { steps } = await h.executor.get(r2.id)
    assert.equal(steps[0].attempts, 2, 'retried once (retry.max = 1)')
    assert.equal(seen.filter(s => s.url === '/fail').length, 2)
  })
})
