/**
 * An MCP server for the bridge tests, written with the official SDK and run
 * as a real stdio process: `node mcp-fixture-server.js [ok|hang|garbage|http PORT]`.
 *
 *   ok       tools `echo` ({text} → {echo, calls, pid}) and `crash` (the process exits)
 *   hang     the same tool list; tools/call never answers
 *   garbage  the same tool list (hand-written JSON-RPC); tools/call answers a result of the wrong shape
 *   http     `ok` over streamable HTTP on 127.0.0.1:PORT/mcp (prints the URL on stdout)
 */
import { createServer } from 'node:http'
import { createInterface } from 'node:readline'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import * as z from 'zod'

const mode = process.argv[2] ?? 'ok'
let calls = 0

const echoInput = { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] }
const echoOutput = { type: 'object', properties: { echo: { type: 'string' }, calls: { type: 'integer' }, pid: { type: 'integer' } }, required: ['echo'] }

function sdkServer (): McpServer {
  const server = new McpServer({ name: `fixture-${mode}`, version: '1.0.0' })
  server.registerTool('echo', {
    description: 'Echoes its text',
    inputSchema: { text: z.string() },
    outputSchema: { echo: z.string(), calls: z.number().int(), pid: z.number().int() }
  }, async ({ text }, extra) => {
    if (mode === 'hang') return await new Promise(() => {})
    calls++
    if (extra._meta?.progressToken != null) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: extra._meta.progressToken, progress: 1, total: 1, message: 'echoing' } })
    const out = { echo: text, calls, pid: process.pid }
    return { content: [{ type: 'text', text: JSON.stringify(out) }], structuredContent: out }
  })
  server.registerTool('crash', { description: 'Exits the server process' }, async () => { process.exit(3) })
  return server
}

if (mode === 'garbage') {
  // no SDK on this side: a server that lists tools properly and answers calls with nonsense
  const send = (m: unknown): void => { process.stdout.write(JSON.stringify(m) + '\n') }
  createInterface({ input: process.stdin }).on('line', (line) => {
    let msg: any
    try { msg = JSON.parse(line) } catch { return }
    if (msg.id == null) return
    if (msg.method === 'initialize') send({ jsonrpc: '2.0', id: msg.id, result: { protocolVersion: msg.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'garbage', version: '0' } } })
    else if (msg.method === 'tools/list') send({ jsonrpc: '2.0', id: msg.id, result: { tools: [{ name: 'echo', description: 'Echoes its text', inputSchema: echoInput, outputSchema: echoOutput }] } })
    else if (msg.method === 'tools/call') send({ jsonrpc: '2.0', id: msg.id, result: { content: 'not a list', structuredContent: 42 } })
    else send({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'no' } })
  })
} else if (mode === 'http') {
  const http = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const server = sdkServer()
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
      res.on('close', () => { void transport.close(); void server.close() })
      const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined
      void server.connect(transport).then(async () => { await transport.handleRequest(req, res, body) })
    })
  })
  http.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => {
    const addr = http.address() as { port: number }
    process.stdout.write(`http://127.0.0.1:${addr.port}/mcp\n`)
  })
} else {
  await sdkServer().connect(new StdioServerTransport())
}
