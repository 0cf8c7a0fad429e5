/**
 * `pl mcp`: MCP over stdio for desktop LLM clients, as a proxy to the
 * node's `/mcp` endpoint (streamable HTTP, the API key as Bearer). Every
 * JSON-RPC message from the client goes to the gateway as is; answers,
 * progress notifications and errors come back on stdout. The tools, their
 * checks and their counters are the gateway's: this process holds no logic.
 * When the gateway refuses or cannot be reached, a request is answered with
 * a JSON-RPC error instead of being left hanging.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { isJSONRPCRequest, isJSONRPCResponse, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'

export interface StdioProxyInit {
  /** the gateway's MCP endpoint, e.g. http://127.0.0.1:8080/mcp */
  url: URL
  /** an API key (`pl api-key create --scopes read,submit`) */
  key: string
  stdin?: NodeJS.ReadableStream
  stdout?: NodeJS.WritableStream
}

/** Runs until stdin closes; resolves then. */
export async function stdioProxy (init: StdioProxyInit): Promise<void> {
  const down = new StdioServerTransport(init.stdin as never, init.stdout as never)
  const up = new StreamableHTTPClientTransport(init.url, { requestInit: { headers: { authorization: `Bearer ${init.key}` } } })
  const { promise: closed, resolve } = Promise.withResolvers<void>()
  const pendingInit = new Set<string | number>()
  const inflight = new Set<Promise<void>>()

  up.onmessage = (msg: JSONRPCMessage) => {
    // the negotiated protocol version goes on every later request (mcp-protocol-version header)
    if (isJSONRPCResponse(msg) && pendingInit.delete(msg.id)) {
      const v = (msg.result as { protocolVersion?: unknown }).protocolVersion
      if (typeof v === 'string') up.setProtocolVersion(v)
    }
    void down.send(msg).catch(() => {})
  }
  up.onerror = () => {} // a failed send is answered below; a GET stream refused (405) is expected
  down.onmessage = (msg: JSONRPCMessage) => {
    if (isJSONRPCRequest(msg) && msg.method === 'initialize') pendingInit.add(msg.id)
    const sent = up.send(msg).catch((err: Error) => {
      if (!isJSONRPCRequest(msg)) return
      pendingInit.delete(msg.id)
      void down.send({ jsonrpc: '2.0', id: msg.id, error: { code: -32001, message: `pl mcp: the node's gateway at ${init.url.href} refused or is unreachable: ${err.message}` } }).catch(() => {})
    })
    inflight.add(sent)
    void sent.finally(() => inflight.delete(sent))
  }
  down.onclose = () => {
    void up.close().catch(() => {})
    resolve()
  }
  // the client closing our stdin ends the session (the SDK transport does not watch for it)
  const input = init.stdin ?? process.stdin
  // (what was sent before still gets its answer)
  input.once('end', () => { void Promise.allSettled([...inflight]).then(async () => { await down.close() }).catch(() => {}) })
  await up.start()
  await down.start()
  await closed
}
